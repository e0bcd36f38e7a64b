//! Figure 2's interop row: one real web server (nginx, sendfile on) sending to `tcplink-tap
//! get` over the TAP and to curl over a veth, kernel to kernel, both as whole processes.
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

/// The contenders, in the order of the table.
const ROWS: [(&str, Client, Sink); 5] = [
    ("tcplink-tap get -o /dev/null", Client::Tap, Sink::Null),
    ("curl -o /dev/null (veth)", Client::Curl, Sink::Null),
    (
        "tcplink-tap get -o FILE (fsync before rename)",
        Client::Tap,
        Sink::File,
    ),
    ("curl -o FILE (veth)", Client::Curl, Sink::File),
    (
        "curl -o FILE (veth), then sync FILE",
        Client::CurlSync,
        Sink::File,
    ),
];
/// Row indexes of the baselines.
const CURL_NULL: usize = 1;
const CURL_FILE: usize = 3;
const CURL_SYNC: usize = 4;

#[derive(Clone, Copy)]
enum Client {
    Tap,
    Curl,
    /// curl, then `sync FILE`: on disk at the end, as tcplink-tap's file is.
    CurlSync,
}

#[derive(Clone, Copy)]
enum Sink {
    Null,
    File,
}

/// `bytes` from nginx per download, `runs` rounds with the order rotated every round.
pub fn figure(b: &Bins, bytes: u64, runs: usize, limit: Duration) -> Result<Section, String> {
    available()?;
    let ns = Namespace::create("tlbench-ngx", "tlbngx0").map_err(|e| e.to_string())?;
    let client = Netns::create("tlbench-ngx-c")?;
    procs::ip(&[
        "-n",
        ns.name(),
        "link",
        "add",
        "tlbnga",
        "type",
        "veth",
        "peer",
        "name",
        "tlbngb",
        "netns",
        &client.name,
    ])?;
    let server_cidr = format!("{SERVER_VETH_IP}/24");
    let curl_cidr = format!("{CURL_VETH_IP}/24");
    procs::ip(&[
        "-n",
        ns.name(),
        "addr",
        "add",
        &server_cidr,
        "dev",
        "tlbnga",
    ])?;
    procs::ip(&[
        "-n",
        &client.name,
        "addr",
        "add",
        &curl_cidr,
        "dev",
        "tlbngb",
    ])?;
    procs::ip(&["-n", ns.name(), "link", "set", "tlbnga", "up"])?;
    procs::ip(&["-n", &client.name, "link", "set", "tlbngb", "up"])?;

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
    let tap_listen = format!("192.168.69.1:{PORT}");
    let veth_listen = format!("{SERVER_VETH_IP}:{PORT}");
    let site = format!("root {}/www;", prefix.display());
    let args = tcplink_host::nginx::prepare(&prefix, &[&tap_listen, &veth_listen], &site)
        .map_err(|e| format!("{}: {e}", prefix.display()))?;
    let mut cmd = ns.command("nginx");
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let _nginx = Proc::spawn(cmd, "nginx")?;
    crate::tapfig::probe(b, ns.name(), &format!("192.168.69.1:{PORT}"))?;
    crate::tapfig::probe(b, &client.name, &format!("{SERVER_VETH_IP}:{PORT}"))?;

    let tap_url = format!("http://192.168.69.1:{PORT}/blob");
    let curl_url = format!("http://{SERVER_VETH_IP}:{PORT}/blob");
    let mut secs: Vec<Vec<f64>> = vec![Vec::new(); ROWS.len()];
    for run in 0..runs {
        for k in 0..ROWS.len() {
            let i = (run + k) % ROWS.len();
            let (name, who, sink) = ROWS[i];
            let file = out.join("blob");
            let target = match sink {
                Sink::Null => Path::new("/dev/null"),
                Sink::File => file.as_path(),
            };
            // The previous download's dirty pages go to disk first, not during this one.
            sync(None)?;
            let t0 = Instant::now();
            match who {
                Client::Tap => {
                    crate::tapfig::tap_get(b, &ns, &tap_url, target, bytes, limit)?;
                }
                Client::Curl => curl(&client.name, &curl_url, target, bytes, limit)?,
                Client::CurlSync => {
                    curl(&client.name, &curl_url, target, bytes, limit)?;
                    sync(Some(target))?;
                }
            }
            let took = t0.elapsed().as_secs_f64();
            if let Sink::File = sink {
                check_same(&blob, &file)?;
                let _ = std::fs::remove_file(&file);
            }
            eprintln!(
                "tap-get nginx run {}/{runs}: {name:<32} {:7.3} s {:7.3} Gbit/s",
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
    let mut s = Section::new("tap-get-nginx", "2b. HTTP GET from nginx (Gbit/s)");
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
    for (i, (name, who, sink)) in ROWS.iter().enumerate() {
        let vs = |base: usize| show_ratio(&ratios(&gbit[i], &gbit[base]));
        let (same, synced) = match (who, sink) {
            (Client::Tap, Sink::Null) => (vs(CURL_NULL), String::new()),
            (Client::Tap, Sink::File) => (vs(CURL_FILE), vs(CURL_SYNC)),
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
        "Measured {} with `sudo target/release/tcplink-bench tap-nginx` (nginx {}).",
        crate::report::measured_on(),
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

/// curl in namespace `ns`, the whole process timed by the caller.
fn curl(ns: &str, url: &str, out: &Path, bytes: u64, limit: Duration) -> Result<(), String> {
    let mut cmd = procs::netns_command(ns, "curl");
    cmd.args(["-sS", "--max-time", &limit.as_secs().to_string(), "-o"])
        .arg(out)
        .args(["-w", "%{size_download}", url]);
    let text = procs::run(cmd, "curl", limit + Duration::from_secs(5))?;
    let size: u64 = text.trim().parse().unwrap_or(0);
    if size != bytes {
        return Err(format!("curl got {size} of {bytes} bytes"));
    }
    Ok(())
}
