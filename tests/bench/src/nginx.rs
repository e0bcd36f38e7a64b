//! Figure 2's interop rows: one real web server (nginx, sendfile on) sending to `tcplink-tap
//! get` over the TAP and to curl over a veth, kernel to kernel, both as whole processes;
//! over plain HTTP (2b) and over HTTPS, TLS 1.3 with a CA made for the run (2d).
//!
//! nginx runs in the TAP's namespace with its own config, prefix and files under a temporary
//! directory, listening on the TAP's host address and on one end of a veth pair whose other
//! end is curl's namespace; all of it is deleted afterwards.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tcplink_host::netns::Namespace;

use crate::link_bench::human_bytes;
use crate::procs::{self, Netns, Proc, TempDir};
use crate::report::{Section, Table};
use crate::stats::{ratios, show_ratio, Summary};
use crate::tapfig::Bins;

const PORT: u16 = 8090;
/// nginx's side and curl's side of the veth.
const SERVER_VETH_IP: &str = "10.99.1.1";
const CURL_VETH_IP: &str = "10.99.1.2";

/// Whether nginx and curl are installed; Err(what is missing).
pub fn available() -> Result<(), String> {
    for (tool, arg) in [("nginx", "-v"), ("curl", "--version")] {
        let found = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(())
}

/// The contenders of `scheme`, in the order of the table: per sink, tcplink-tap (over HTTPS
/// once per TLS engine) then curl; last, curl followed by `sync FILE`.
fn rows(scheme: Scheme) -> Vec<(String, Client, Sink)> {
    let engines: &[Option<&'static str>] = match scheme {
        Scheme::Http => &[None],
        Scheme::Https => &[Some("rustls"), Some("embedded")],
    };
    let mut rows = Vec::new();
    for (sink, target, fsync) in [
        (Sink::Null, "/dev/null", ""),
        (Sink::File, "FILE", " (fsync before rename)"),
    ] {
        for engine in engines {
            let name = match engine {
                None => format!("tcplink-tap get -o {target}{fsync}"),
                Some(e) => format!("tcplink-tap get -o {target}{fsync}, --tls-engine {e}"),
            };
            rows.push((name, Client::Tap(*engine), sink));
        }
        rows.push((format!("curl -o {target} (veth)"), Client::Curl, sink));
    }
    rows.push((
        "curl -o FILE (veth), then sync FILE".into(),
        Client::CurlSync,
        Sink::File,
    ));
    rows
}

/// The row of `rows` that `client` fills for `sink` (a baseline).
fn row_of(rows: &[(String, Client, Sink)], client: Client, sink: Sink) -> usize {
    rows.iter()
        .position(|(_, c, s)| *c == client && *s == sink)
        .expect("every baseline has a row")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    /// tcplink-tap, with this `--tls-engine` (None: its default, or plain HTTP).
    Tap(Option<&'static str>),
    Curl,
    /// curl, then `sync FILE`: on disk at the end, as tcplink-tap's file is.
    CurlSync,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sink {
    Null,
    File,
}

/// How the files are served.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (figure 2b).
    Http,
    /// HTTPS, TLS 1.3, ECDSA P-256 certificate from a CA made for the run (figure 2d); both
    /// clients verify it (`--cacert`).
    Https,
}

/// `bytes` from nginx per download, `runs` rounds with the order rotated every round.
pub fn figure(
    b: &Bins,
    bytes: u64,
    runs: usize,
    limit: Duration,
    scheme: Scheme,
) -> Result<Section, String> {
    available()?;
    // Names of their own per scheme: never the same namespace or veth as the other figure.
    let (ns_name, tap, client_ns, veth_a, veth_b) = match scheme {
        Scheme::Http => (
            "tlbench-ngx",
            "tlbngx0",
            "tlbench-ngx-c",
            "tlbnga",
            "tlbngb",
        ),
        Scheme::Https => (
            "tlbench-ngs",
            "tlbngs0",
            "tlbench-ngs-c",
            "tlbnsa",
            "tlbnsb",
        ),
    };
    let ns = Namespace::create(ns_name, tap).map_err(|e| e.to_string())?;
    let client = Netns::create(client_ns)?;
    procs::ip(&[
        "-n",
        ns.name(),
        "link",
        "add",
        veth_a,
        "type",
        "veth",
        "peer",
        "name",
        veth_b,
        "netns",
        &client.name,
    ])?;
    let server_cidr = format!("{SERVER_VETH_IP}/24");
    let curl_cidr = format!("{CURL_VETH_IP}/24");
    procs::ip(&["-n", ns.name(), "addr", "add", &server_cidr, "dev", veth_a])?;
    procs::ip(&["-n", &client.name, "addr", "add", &curl_cidr, "dev", veth_b])?;
    procs::ip(&["-n", ns.name(), "link", "set", veth_a, "up"])?;
    procs::ip(&["-n", &client.name, "link", "set", veth_b, "up"])?;

    let dir = TempDir::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target")
            .as_path(),
        "bench-nginx",
    )?;
    let prefix = dir.0.join("nginx");
    let out = dir.0.join("out");
    std::fs::create_dir_all(prefix.join("www")).map_err(|e| format!("www: {e}"))?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // Random bytes, so the saved files are checked against something a stuck or shifted
    // transfer could not produce; nginx sends them from the page cache.
    let blob = prefix.join("www/blob");
    make_blob(&blob, bytes)?;
    let (ssl, proto) = match scheme {
        Scheme::Http => ("", "http"),
        Scheme::Https => (" ssl", "https"),
    };
    let tap_listen = format!("192.168.69.1:{PORT}{ssl}");
    let veth_listen = format!("{SERVER_VETH_IP}:{PORT}{ssl}");
    let mut site = format!("root {}/www;", prefix.display());
    if scheme == Scheme::Https {
        make_pki(&prefix)?;
        site.push_str(&format!(
            "\n    ssl_certificate {p}/server.pem;\n    ssl_certificate_key {p}/server.key;\n    \
             ssl_protocols TLSv1.3;",
            p = prefix.display()
        ));
    }
    let ca = prefix.join("ca.pem");
    let ca = ca.to_str().ok_or("temporary path is not UTF-8")?;
    let verify: &[&str] = match scheme {
        Scheme::Http => &[],
        Scheme::Https => &["--cacert", ca],
    };
    let args = tcplink_host::nginx::prepare(&prefix, &[&tap_listen, &veth_listen], &site)
        .map_err(|e| format!("{}: {e}", prefix.display()))?;
    let mut cmd = ns.command("nginx");
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let _nginx = Proc::spawn(cmd, "nginx")?;
    crate::tapfig::probe(b, ns.name(), &format!("192.168.69.1:{PORT}"))?;
    crate::tapfig::probe(b, &client.name, &format!("{SERVER_VETH_IP}:{PORT}"))?;

    let tap_url = format!("{proto}://192.168.69.1:{PORT}/blob");
    let curl_url = format!("{proto}://{SERVER_VETH_IP}:{PORT}/blob");
    let rows = rows(scheme);
    let mut secs: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for run in 0..runs {
        for k in 0..rows.len() {
            let i = (run + k) % rows.len();
            let (name, who, sink) = &rows[i];
            let file = out.join("blob");
            let target = match *sink {
                Sink::Null => Path::new("/dev/null"),
                Sink::File => file.as_path(),
            };
            // The previous download's dirty pages go to disk first, not during this one.
            sync(None)?;
            let t0 = Instant::now();
            match *who {
                Client::Tap(engine) => {
                    let mut extra = verify.to_vec();
                    if let Some(engine) = engine {
                        extra.extend(["--tls-engine", engine]);
                    }
                    crate::tapfig::tap_get_with(
                        b,
                        &ns,
                        &[],
                        &tap_url,
                        target,
                        bytes,
                        limit,
                        &extra,
                    )?;
                }
                Client::Curl => curl(&client.name, &curl_url, target, bytes, limit, verify)?,
                Client::CurlSync => {
                    curl(&client.name, &curl_url, target, bytes, limit, verify)?;
                    sync(Some(target))?;
                }
            }
            let took = t0.elapsed().as_secs_f64();
            if *sink == Sink::File {
                check_same(&blob, &file)?;
                let _ = std::fs::remove_file(&file);
            }
            eprintln!(
                "tap-get nginx {proto} run {}/{runs}: {name:<48} {:7.3} s {:7.3} Gbit/s",
                run + 1,
                took,
                bytes as f64 * 8.0 / took / 1e9
            );
            secs[i].push(took);
        }
    }
    let gbit: Vec<Vec<f64>> = secs
        .iter()
        .map(|s| s.iter().map(|t| bytes as f64 * 8.0 / t / 1e9).collect())
        .collect();
    let mut s = match scheme {
        Scheme::Http => Section::new("tap-get-nginx", "2b. HTTP GET from nginx (Gbit/s)"),
        Scheme::Https => Section::new(
            "tap-https",
            "2d. HTTPS GET from nginx: TLS 1.3, both TLS engines, verified (Gbit/s)",
        ),
    };
    if scheme == Scheme::Https {
        s.para(
            "The same as 2b over HTTPS: nginx with `ssl_protocols TLSv1.3` and an ECDSA P-256 \
             certificate from a CA made for the run; `tcplink-tap get --cacert` and `curl \
             --cacert` both verify it. tcplink-tap runs each TLS engine: `--tls-engine rustls` \
             (its default: rustls with ring, which negotiates what nginx's OpenSSL prefers, as \
             curl does) and `--tls-engine embedded` (the board's embedded-tls: \
             TLS_AES_128_GCM_SHA256 only; on this host RustCrypto's aes-gcm 0.11: aes 0.9 and \
             polyval 0.7's four-block GHASH, AES-NI/VAES and PCLMULQDQ detected at run time).",
        );
    }
    s.para(&format!(
        "{} from nginx (sendfile on, one process, started in the TAP's namespace with its own \
         config and prefix under a temporary directory) per download; {runs} rounds, the order \
         of the contenders rotated every round, ratios per round. Whole processes, start \
         to exit: `tcplink-tap get` on the TAP at MTU 1500 (host TSO) including TAP open, ARP, \
         connect and close; `curl` kernel to kernel over a veth from the same nginx. A file \
         is written to target/ and compared with the served one, then deleted; `sync` runs \
         (untimed) before every download so one's writeback does not fall into the next. \
         tcplink-tap fsyncs the file before renaming it into place; curl leaves it in the \
         page cache, hence the row that adds `sync FILE` to curl.",
        human_bytes(bytes)
    ));
    let mut t = Table::new(&[
        "contender",
        "Gbit/s",
        "÷ curl, same sink (per round)",
        "÷ curl then sync (per round)",
    ]);
    let curl_null = row_of(&rows, Client::Curl, Sink::Null);
    let curl_file = row_of(&rows, Client::Curl, Sink::File);
    let curl_sync = row_of(&rows, Client::CurlSync, Sink::File);
    for (i, (name, who, sink)) in rows.iter().enumerate() {
        let vs = |base: usize| show_ratio(&ratios(&gbit[i], &gbit[base]));
        let (same, synced) = match (who, sink) {
            (Client::Tap(_), Sink::Null) => (vs(curl_null), String::new()),
            (Client::Tap(_), Sink::File) => (vs(curl_file), vs(curl_sync)),
            _ => (String::new(), String::new()),
        };
        t.row(vec![
            name.to_string(),
            Summary::of(&gbit[i]).show(3),
            same,
            synced,
        ]);
    }
    s.table(&t);
    s.para(&format!(
        "Measured {} with `sudo target/release/tcplink-bench {}` (nginx {}).",
        crate::report::measured_on(),
        match scheme {
            Scheme::Http => "tap-nginx",
            Scheme::Https => "tap-https",
        },
        tcplink_host::nginx::version().unwrap_or_else(|| "version unknown".into())
    ));
    Ok(s)
}

/// `bytes` random bytes at `path`, written in 1 MiB pieces.
fn make_blob(path: &Path, bytes: u64) -> Result<(), String> {
    use std::io::{Read, Write};
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut random = std::fs::File::open("/dev/urandom").map_err(err)?;
    let mut file = std::fs::File::create(path).map_err(err)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        random.read_exact(&mut chunk[..n]).map_err(err)?;
        file.write_all(&chunk[..n]).map_err(err)?;
        left -= n as u64;
    }
    Ok(())
}

/// Fails unless `a` and `b` hold the same bytes.
fn check_same(a: &Path, b: &Path) -> Result<(), String> {
    let status = Command::new("cmp")
        .args(["-s"])
        .arg(a)
        .arg(b)
        .status()
        .map_err(|e| format!("cmp: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} differs from {}", b.display(), a.display()))
    }
}

/// `sync FILE` (its data and metadata to disk), or `sync` for everything.
fn sync(file: Option<&Path>) -> Result<(), String> {
    let status = Command::new("sync")
        .args(file)
        .status()
        .map_err(|e| format!("sync: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("sync failed: {status}"))
    }
}

/// A CA and a server certificate for both of nginx's addresses in `dir` (`ca.pem`,
/// `server.pem`, `server.key`), by openssl.
fn make_pki(dir: &Path) -> Result<(), String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &["-days", "2", "-subj", "/CN=tcplink bench CA"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign"],
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    )?;
    let sans = format!("subjectAltName=IP:192.168.69.1,IP:{SERVER_VETH_IP}");
    openssl(
        &[
            &["req", "-x509", "-CA", "ca.pem", "-CAkey", "ca.key"][..],
            &ec,
            &["-days", "2", "-subj", "/CN=bench server"],
            &["-addext", &sans, "-addext", "basicConstraints=CA:FALSE"],
            &["-keyout", "server.key", "-out", "server.pem"],
        ]
        .concat(),
    )
}

/// curl in namespace `ns`, the whole process timed by the caller.
fn curl(
    ns: &str,
    url: &str,
    out: &Path,
    bytes: u64,
    limit: Duration,
    extra: &[&str],
) -> Result<(), String> {
    let mut cmd = procs::netns_command(ns, "curl");
    cmd.args(["-sS", "--max-time", &limit.as_secs().to_string(), "-o"])
        .arg(out)
        .args(extra)
        .args(["-w", "%{size_download}", url]);
    let text = procs::run(cmd, "curl", limit + Duration::from_secs(5))?;
    let size: u64 = text.trim().parse().unwrap_or(0);
    if size != bytes {
        return Err(format!("curl got {size} of {bytes} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2b keeps its five rows; 2d has one tcplink-tap row per TLS engine and sink, each
    /// compared with curl of the same sink.
    #[test]
    fn rows_per_scheme_and_engine() {
        let names = |scheme| -> Vec<String> { rows(scheme).into_iter().map(|r| r.0).collect() };
        assert_eq!(
            names(Scheme::Http),
            [
                "tcplink-tap get -o /dev/null",
                "curl -o /dev/null (veth)",
                "tcplink-tap get -o FILE (fsync before rename)",
                "curl -o FILE (veth)",
                "curl -o FILE (veth), then sync FILE",
            ]
        );
        let https = rows(Scheme::Https);
        assert_eq!(https.len(), 7);
        let taps: Vec<_> = https
            .iter()
            .filter_map(|(_, c, s)| match c {
                Client::Tap(engine) => Some((*engine, *s == Sink::Null)),
                _ => None,
            })
            .collect();
        assert_eq!(
            taps,
            [
                (Some("rustls"), true),
                (Some("embedded"), true),
                (Some("rustls"), false),
                (Some("embedded"), false),
            ]
        );
        assert_eq!(row_of(&https, Client::Curl, Sink::Null), 2);
        assert_eq!(row_of(&https, Client::Curl, Sink::File), 5);
        assert_eq!(row_of(&https, Client::CurlSync, Sink::File), 6);
    }
}
