//! Figures 2–4 over a real TAP, each in namespaces it creates and deletes itself: traffic
//! stays inside them (192.168.69.0/24 on the TAP, 10.99.0.0/24 on the veth pair).
//!
//! The contenders are the workspace's own binaries (`tcplink-tap`, `tcplink-host`), this
//! binary's in-namespace helpers, the seed's Python server and `curl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tcplink_host::netns::{self, Namespace};

use crate::helpers::RxReport;
use crate::link_bench::human_bytes;
use crate::procs::{self, cpu_ns, wakeups, Proc, TempDir, VethPair, VETH_A_IP, VETH_B_IP};
use crate::report::{Section, Table};
use crate::stats::{ratios, show_ratio, Summary};

/// The programs the figures run.
pub struct Bins {
    pub tap: PathBuf,
    pub host: PathBuf,
    pub bench: PathBuf,
    /// The peer stacks of figures 2c and 3b (tests/bench/lwip-tap, tests/bench/embassy-tap).
    pub lwip: PathBuf,
    pub embassy: PathBuf,
}

/// Finds `tcplink-tap`, `tcplink-host`, `lwip-tap` and `embassy-tap` next to this binary (or
/// in `dir`), building them with cargo when one is missing.
pub fn bins(dir: Option<&Path>) -> Result<Bins, String> {
    let bench = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => bench
            .parent()
            .ok_or("binary has no directory")?
            .to_path_buf(),
    };
    let tap = dir.join("tcplink-tap");
    let host = dir.join("tcplink-host");
    let lwip = dir.join("lwip-tap");
    let embassy = dir.join("embassy-tap");
    let all = [&tap, &host, &lwip, &embassy];
    if !all.iter().all(|p| p.exists()) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let profile = if dir.ends_with("debug") {
            "dev"
        } else {
            "release"
        };
        eprintln!(
            "tcplink-bench: a program is missing in {}; building them: cargo build --profile \
             {profile} -p tcplink-bench -p tcplink-tap -p tcplink-host -p tcplink-bench-lwip \
             -p tcplink-bench-embassy (in {})",
            dir.display(),
            root.display()
        );
        let status = Command::new(env!("CARGO"))
            // With tcplink-bench in the same build, as RESULTS.md's command has it: its
            // smoltcp `alloc` and embassy-net's (smoltcp 0.13) both need `managed/alloc`, which
            // cargo then unifies into every smoltcp of the build; without it one of the two
            // smoltcp versions sees `managed/alloc` without its own `alloc` and fails to build.
            .args([
                "build",
                "--profile",
                profile,
                "-p",
                "tcplink-bench",
                "-p",
                "tcplink-tap",
                "-p",
                "tcplink-host",
                "-p",
                "tcplink-bench-lwip",
                "-p",
                "tcplink-bench-embassy",
            ])
            .current_dir(&root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() || !all.iter().all(|p| p.exists()) {
            return Err(format!(
                "could not build tcplink-tap, tcplink-host, lwip-tap and embassy-tap into {}; \
                 build them and retry, or point --bin-dir at them",
                dir.display()
            ));
        }
    }
    Ok(Bins {
        tap,
        host,
        bench,
        lwip,
        embassy,
    })
}

/// Whether the TAP figures can run here; Err(reason) otherwise.
pub fn can_run() -> Result<(), String> {
    netns::privileges()
}

const DEVICE_CIDR: &str = "192.168.69.2/24";
const DEVICE_MAC: &str = "02:00:00:00:00:02";

pub fn quiet(mut cmd: Command) -> Command {
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Waits until `addr` accepts connections, probing from inside namespace `ns`.
pub fn probe(b: &Bins, ns: &str, addr: &str) -> Result<(), String> {
    let mut cmd = procs::netns_command(ns, &b.bench);
    cmd.args(["probe", addr, "--timeout-ms", "5000"]);
    procs::run(cmd, &format!("probe {addr}"), Duration::from_secs(10)).map(drop)
}

// ---------------------------------------------------------------------------------------
// Figure 2: HTTP GET over TAP.

/// One measured download.
pub struct Dl {
    pub gbit_s: f64,
}

/// The largest MTU Linux gives a TAP.
const TAP_MAX_MTU: usize = 65521;

/// Figure 2: `bytes` per download, `runs` rounds of every contender.
pub fn get_figure(b: &Bins, bytes: u64, runs: usize, limit: Duration) -> Result<Section, String> {
    let ns = Namespace::create("tlbench-get", "tlbget0").map_err(|e| e.to_string())?;
    let tap = ns.tap().to_string();
    let veth = VethPair::create("tlbench-v")?;
    let disk = TempDir::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target")
            .as_path(),
        "bench-get",
    )?;
    let blob = disk.0.join("blob");
    // A sparse file: served from the page cache, so the server's disk never limits.
    std::fs::File::create(&blob)
        .and_then(|f| f.set_len(bytes))
        .map_err(|e| format!("{}: {e}", blob.display()))?;
    let root = disk.0.to_string_lossy().into_owned();

    // Every contender but the tiny_http row reads from the same sender: the kernel writer
    // the plain smoltcp receiver is measured with, behind a minimal HTTP head.
    let writer_limit = limit * (runs as u32 + 1) * 8;
    let _tap_writer = kernel_http(
        ns.command(&b.bench),
        "192.168.69.1:8081",
        bytes,
        writer_limit,
    )?;
    let veth_listen = format!("{VETH_A_IP}:8081");
    let _veth_writer = kernel_http(veth.a.command(&b.bench), &veth_listen, bytes, writer_limit)?;
    let mut cmd = ns.command(&b.host);
    cmd.args([
        "serve-http",
        "--root",
        &root,
        "--listen",
        "192.168.69.1:8080",
    ]);
    let _tap_server = Proc::spawn(quiet(cmd), "HTTP server in the TAP namespace")?;
    probe(b, ns.name(), "192.168.69.1:8080")?;
    probe(b, ns.name(), "192.168.69.1:8081")?;
    probe(b, &veth.b.name, &format!("{VETH_A_IP}:8081"))?;

    // (label, TAP MTU). The plain smoltcp receiver at MTU 1500 with a 64 KiB window, as
    // smoltcp's benchmark example runs, is the baseline.
    let contenders = [
        (
            "tcplink-tap get -o /dev/null (whole process), 1 MiB window, host TSO",
            1500,
        ),
        ("tcplink core GET (App + HttpClient), 1 MiB window", 1500),
        ("plain smoltcp receiver, 64 KiB window", 1500),
        ("plain smoltcp receiver, 1 MiB window", 1500),
        ("curl, kernel to kernel over veth -o /dev/null", 1500),
        (
            "tcplink-tap get from tcplink-host serve-http (tiny_http)",
            1500,
        ),
        (
            "tcplink-tap get -o /dev/null, host TSO, TAP MTU 65521",
            TAP_MAX_MTU,
        ),
        (
            "plain smoltcp receiver, 64 KiB window, TAP MTU 65521",
            TAP_MAX_MTU,
        ),
    ];
    const BASE: usize = 2;
    const CEILING: usize = 4;
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
    let url = "http://192.168.69.1:8081/blob";
    let tiny_url = "http://192.168.69.1:8080/blob";
    let curl_url = format!("http://{VETH_A_IP}:8081/blob");
    let null = Path::new("/dev/null");
    for run in 1..=runs {
        for (i, (name, mtu)) in contenders.iter().enumerate() {
            procs::ip(&[
                "-n",
                ns.name(),
                "link",
                "set",
                &tap,
                "mtu",
                &mtu.to_string(),
            ])?;
            let _ = procs::ip(&["-n", ns.name(), "neigh", "flush", "dev", &tap]);
            let d = match i {
                0 | 6 => tap_get(b, &ns, url, null, bytes, limit)?,
                1 => tcplink_rx(b, &ns, url, 1 << 20, bytes, limit)?,
                2 | 7 => smoltcp_rx(b, &ns, 65536, bytes, limit)?,
                3 => smoltcp_rx(b, &ns, 1 << 20, bytes, limit)?,
                4 => curl(&veth.b.name, &curl_url, null, bytes, limit)?,
                _ => tap_get(b, &ns, tiny_url, null, bytes, limit)?,
            };
            eprintln!(
                "tap-get run {run}/{runs}: {name:<75} {:7.3} Gbit/s",
                d.gbit_s
            );
            samples[i].push(d.gbit_s);
        }
    }
    procs::ip(&["-n", ns.name(), "link", "set", &tap, "mtu", "1500"])?;
    let _ = VETH_B_IP;
    let mut s = Section::new("tap-get", "2. HTTP GET over TAP (Gbit/s)");
    s.para(&format!(
        "{} per download to the device at 192.168.69.2 on a TAP in a namespace; {runs} runs, \
         contenders interleaved, ratios per run. Every row but the tiny_http one reads from \
         the same sender, the kernel writer the plain smoltcp receiver is measured with (64 KiB \
         writes), behind a minimal HTTP head. The plain smoltcp receiver (smoltcp's \
         `TunTapInterface`, one socket, `iface.poll` then read, like smoltcp's `benchmark` \
         example) and the core GET row (`App` + `HttpClient` on the same device, polled like \
         `tcplink-tap`) are timed from connection to last byte; `tcplink-tap get` as a whole \
         process (TAP open, ARP, connect, transfer, close). The TAP's MTU is 1500 unless a row \
         says otherwise (`ip link set tap0 mtu 65521`; both tcplink-tap and smoltcp's \
         `TunTapInterface` take the interface's MTU). `host TSO`: tcplink-tap attaches the TAP \
         with a virtio-net header and segmentation offload, so the host sends up to 64 KiB \
         per frame; smoltcp's `TunTapInterface` and the core GET row, which runs on it, cannot. \
         curl runs between two namespaces over a veth pair, kernel on both ends.",
        human_bytes(bytes)
    ));
    let mut t = Table::new(&["contender", "Gbit/s", "÷ plain smoltcp", "÷ curl (ceiling)"]);
    for (i, (name, _)) in contenders.iter().enumerate() {
        t.row(vec![
            name.to_string(),
            Summary::of(&samples[i]).show(3),
            show_ratio(&ratios(&samples[i], &samples[BASE])),
            show_ratio(&ratios(&samples[i], &samples[CEILING])),
        ]);
    }
    s.table(&t);
    Ok(s)
}

/// Starts `tcplink-bench kernel-http` (the kernel writer behind an HTTP head) via `cmd`.
pub fn kernel_http(
    mut cmd: Command,
    listen: &str,
    bytes: u64,
    limit: Duration,
) -> Result<Proc, String> {
    cmd.args(["kernel-http", listen, "--bytes", &bytes.to_string()])
        .args(["--limit-s", &limit.as_secs().to_string()]);
    Proc::spawn(quiet(cmd), "kernel HTTP writer")
}

/// The device's TAP, address and MAC, as every device-side program takes them.
pub fn device_args(ns: &Namespace) -> [&str; 6] {
    ["--tap", ns.tap(), "--ip", DEVICE_CIDR, "--mac", DEVICE_MAC]
}

pub fn gbit(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / secs.max(1e-9) / 1e9
}

pub fn tap_get(
    b: &Bins,
    ns: &Namespace,
    url: &str,
    out: &Path,
    bytes: u64,
    limit: Duration,
) -> Result<Dl, String> {
    tap_get_with(b, ns, &[], url, out, bytes, limit, &[])
}

/// [`tap_get`] with device `options` before `get` (`--no-offload`) and `extra` arguments to
/// `get` (`--cacert FILE`).
#[allow(clippy::too_many_arguments)]
pub fn tap_get_with(
    b: &Bins,
    ns: &Namespace,
    options: &[&str],
    url: &str,
    out: &Path,
    bytes: u64,
    limit: Duration,
    extra: &[&str],
) -> Result<Dl, String> {
    let mut cmd = ns.command(&b.tap);
    cmd.args(device_args(ns))
        .args(options)
        .args(["get", url])
        .arg("-o")
        .arg(out)
        .args(["--timeout-s", &limit.as_secs().to_string()])
        .args(extra);
    let t0 = Instant::now();
    let stdout = procs::run(cmd, "tcplink-tap get", limit + Duration::from_secs(5))?;
    let secs = t0.elapsed().as_secs_f64();
    // Its last line: `N bytes saved to FILE`.
    let got: u64 = stdout
        .lines()
        .rev()
        .find_map(|line| line.strip_suffix(&format!(" bytes saved to {}", out.display())))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    if got != bytes {
        return Err(format!(
            "tcplink-tap get saved {got} of {bytes} bytes: {stdout}"
        ));
    }
    Ok(Dl {
        gbit_s: gbit(bytes, secs),
    })
}

fn smoltcp_rx(
    b: &Bins,
    ns: &Namespace,
    window: usize,
    bytes: u64,
    limit: Duration,
) -> Result<Dl, String> {
    let mut rx = ns.command(&b.bench);
    rx.arg("smoltcp-rx")
        .args(device_args(ns))
        .args(["--port", "5001", "--bytes", &bytes.to_string()])
        .args(["--window", &window.to_string()])
        .args(["--limit-s", &limit.as_secs().to_string()])
        .stdout(Stdio::piped());
    let mut receiver = Proc::spawn(rx, "smoltcp receiver")?;
    let mut wr = ns.command(&b.bench);
    wr.args([
        "kernel-writer",
        "192.168.69.2:5001",
        "--bytes",
        &bytes.to_string(),
    ])
    .args(["--limit-s", &limit.as_secs().to_string()]);
    procs::run(wr, "kernel writer", limit + Duration::from_secs(5))?;
    let end = Instant::now() + Duration::from_secs(10);
    while receiver
        .child
        .try_wait()
        .map_err(|e| e.to_string())?
        .is_none()
    {
        if Instant::now() > end {
            return Err("smoltcp receiver did not finish".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    if let Some(mut stdout) = receiver.child.stdout.take() {
        use std::io::Read;
        let _ = stdout.read_to_string(&mut out);
    }
    let report: RxReport = serde_json::from_str(out.trim())
        .map_err(|e| format!("smoltcp receiver said {out:?}: {e}"))?;
    if report.bytes != bytes {
        return Err(format!(
            "smoltcp receiver got {} of {bytes} bytes",
            report.bytes
        ));
    }
    Ok(Dl {
        gbit_s: gbit(bytes, report.secs),
    })
}

fn tcplink_rx(
    b: &Bins,
    ns: &Namespace,
    url: &str,
    window: usize,
    bytes: u64,
    limit: Duration,
) -> Result<Dl, String> {
    let mut cmd = ns.command(&b.bench);
    cmd.arg("tcplink-rx")
        .args(device_args(ns))
        .arg(url)
        .args(["--window", &window.to_string()])
        .args(["--limit-s", &limit.as_secs().to_string()]);
    let out = procs::run(cmd, "tcplink core GET", limit + Duration::from_secs(5))?;
    let report: RxReport = serde_json::from_str(out.trim())
        .map_err(|e| format!("tcplink core GET said {out:?}: {e}"))?;
    if report.bytes != bytes {
        return Err(format!(
            "tcplink core GET got {} of {bytes} bytes",
            report.bytes
        ));
    }
    Ok(Dl {
        gbit_s: gbit(bytes, report.secs),
    })
}

fn curl(ns: &str, url: &str, out: &Path, bytes: u64, limit: Duration) -> Result<Dl, String> {
    let mut cmd = procs::netns_command(ns, "curl");
    cmd.args(["-sS", "--max-time", &limit.as_secs().to_string(), "-o"])
        .arg(out)
        .args(["-w", "%{size_download} %{time_total}", url]);
    let text = procs::run(cmd, "curl", limit + Duration::from_secs(5))?;
    if out != Path::new("/dev/null") {
        let _ = std::fs::remove_file(out);
    }
    let mut it = text.split_whitespace();
    let size: u64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let secs: f64 = it.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
    if size != bytes {
        return Err(format!("curl got {size} of {bytes} bytes"));
    }
    Ok(Dl {
        gbit_s: gbit(bytes, secs),
    })
}

// ---------------------------------------------------------------------------------------
// Figure 3: greeting sessions per second.

/// The three greeting servers, all in one namespace.
struct Servers {
    ns: Namespace,
    procs: Vec<Proc>,
    /// (label, address the load targets)
    targets: Vec<(&'static str, String)>,
}

fn start_servers(b: &Bins, name: &str, tap: &str, seed: &Path) -> Result<Servers, String> {
    let ns = Namespace::create(name, tap).map_err(|e| e.to_string())?;
    let mut procs = Vec::new();
    let mut cmd = ns.command(&b.tap);
    cmd.args(device_args(&ns))
        .args(["serve", "--sockets", "64"]);
    procs.push(Proc::spawn(quiet(cmd), "tcplink-tap serve")?);
    if !seed.exists() {
        return Err(format!(
            "seed server {} not found (--seed-server)",
            seed.display()
        ));
    }
    let mut cmd = ns.command("python3");
    cmd.arg(seed).args(["192.168.69.1", "9997", "0"]);
    procs.push(Proc::spawn(quiet(cmd), "seed tcp_server.py")?);
    let mut cmd = ns.command(&b.host);
    cmd.args(["serve-greeting", "--listen", "192.168.69.1:9998"]);
    procs.push(Proc::spawn(quiet(cmd), "tcplink-host serve-greeting")?);
    let targets = vec![
        (
            "tcplink-tap serve --sockets 64 (TAP)",
            "192.168.69.2:9999".to_string(),
        ),
        (
            "seed tcp_server.py, delay 0 (kernel)",
            "192.168.69.1:9997".to_string(),
        ),
        (
            "std thread-per-connection, tcplink-host serve-greeting (kernel)",
            "192.168.69.1:9998".to_string(),
        ),
    ];
    for (_, addr) in &targets {
        probe(b, ns.name(), addr)?;
    }
    Ok(Servers { ns, procs, targets })
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LoadResult {
    pub sessions: u64,
    pub sessions_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// `tcplink-host load ADDR` with `clients` for `secs` seconds, from inside namespace `ns`.
pub fn load(
    b: &Bins,
    ns: &str,
    addr: &str,
    clients: usize,
    secs: u64,
) -> Result<LoadResult, String> {
    let mut cmd = procs::netns_command(ns, &b.host);
    cmd.args(["load", addr, "--clients", &clients.to_string()])
        .args(["--duration-s", &secs.to_string(), "--json"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().map_err(|e| format!("cannot start load: {e}"))?;
    // `load` bounds itself (duration + per-operation timeouts); exit 2 only means errors.
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
        format!(
            "load {addr}: {e}: {} {}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    let f = |k: &str| v.get(k).and_then(|x| x.as_f64()).unwrap_or(0.0);
    Ok(LoadResult {
        sessions: f("sessions") as u64,
        sessions_per_s: f("sessions_per_s"),
        p50_ms: f("latency_p50_us") / 1000.0,
        p99_ms: f("latency_p99_us") / 1000.0,
        errors: f("errors") as u64,
    })
}

/// Figure 3: every server under 1, 8, 64 clients, `runs` rounds, interleaved.
pub fn load_figure(
    b: &Bins,
    clients: &[usize],
    secs: u64,
    runs: usize,
    seed: &Path,
) -> Result<Section, String> {
    let mut servers = start_servers(b, "tlbench-load", "tlbload0", seed)?;
    let n = servers.targets.len();
    // results[c][server] = per-run results
    let mut results = vec![vec![Vec::<LoadResult>::new(); n]; clients.len()];
    for run in 1..=runs {
        for (ci, &c) in clients.iter().enumerate() {
            for (si, per_server) in results[ci].iter_mut().enumerate() {
                for p in servers.procs.iter_mut() {
                    p.check_running()?;
                }
                let (label, addr) = &servers.targets[si];
                let r = load(b, servers.ns.name(), addr, c, secs)?;
                eprintln!(
                    "tap-load run {run}/{runs}: {c:>2} clients {label:<62} {:9.1} sessions/s \
                     p50 {:.3} ms p99 {:.3} ms errors {}",
                    r.sessions_per_s, r.p50_ms, r.p99_ms, r.errors
                );
                per_server.push(r);
            }
        }
    }
    let mut s = Section::new("tap-load", "3. Greeting sessions per second over TAP");
    s.para(&format!(
        "`tcplink-host load` (one seed session = Welcome, Alice, Bob, Jack, exit, close; the \
         clients are state machines on one event loop per two cores) for {secs} s per \
         measurement, {runs} runs, servers interleaved, all in one namespace: \
         tcplink on its TAP at 192.168.69.2, the kernel servers on the namespace's own \
         192.168.69.1 (the kernel's local path, no TAP). Ratios (sessions/s ÷ the seed's, \
         and the seed's p99 ÷ ours) are per run."
    ));
    let mut t = Table::new(&[
        "clients",
        "server",
        "sessions/s",
        "p50 (ms)",
        "p99 (ms)",
        "errors",
        "sessions/s ÷ seed",
        "seed p99 ÷ p99",
    ]);
    for (ci, &c) in clients.iter().enumerate() {
        let seed_sps: Vec<f64> = results[ci][1].iter().map(|r| r.sessions_per_s).collect();
        let seed_p99: Vec<f64> = results[ci][1].iter().map(|r| r.p99_ms).collect();
        for (si, rs) in results[ci].iter().enumerate() {
            let sps: Vec<f64> = rs.iter().map(|r| r.sessions_per_s).collect();
            let p50: Vec<f64> = rs.iter().map(|r| r.p50_ms).collect();
            let p99: Vec<f64> = rs.iter().map(|r| r.p99_ms).collect();
            let errors: u64 = rs.iter().map(|r| r.errors).sum();
            t.row(vec![
                c.to_string(),
                servers.targets[si].0.to_string(),
                Summary::of(&sps).show(0),
                Summary::of(&p50).show(3),
                Summary::of(&p99).show(3),
                errors.to_string(),
                show_ratio(&ratios(&sps, &seed_sps)),
                show_ratio(&ratios(&seed_p99, &p99)),
            ]);
        }
    }
    s.table(&t);
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// Figure 4: idle CPU.

/// Figure 4: CPU time of each server over `secs` idle seconds, all measured at once.
pub fn idle_figure(b: &Bins, secs: u64, seed: &Path) -> Result<Section, String> {
    let mut servers = start_servers(b, "tlbench-idle", "tlbidle0", seed)?;
    // Let start-up (ARP probes, Python imports) finish.
    thread::sleep(Duration::from_secs(1));
    let pids: Vec<u32> = servers.procs.iter().map(Proc::pid).collect();
    let before: Vec<(u64, u64)> = pids
        .iter()
        .map(|&p| Ok((cpu_ns(p)?, wakeups(p))))
        .collect::<Result<_, std::io::Error>>()
        .map_err(|e| format!("reading /proc: {e}"))?;
    let t0 = Instant::now();
    thread::sleep(Duration::from_secs(secs));
    let wall = t0.elapsed().as_secs_f64();
    for p in servers.procs.iter_mut() {
        p.check_running()?;
    }
    let mut s = Section::new("idle-cpu", "4. Idle CPU");
    s.para(&format!(
        "CPU time (all threads, from /proc/PID/task/*/schedstat) and context switches of each \
         server over {secs} idle seconds after a 1 s start-up, measured at the same time."
    ));
    let mut t = Table::new(&["server", "CPU time (ms)", "CPU %", "wake-ups"]);
    for (i, &pid) in pids.iter().enumerate() {
        let cpu = cpu_ns(pid).map_err(|e| e.to_string())? - before[i].0;
        let wakes = wakeups(pid) - before[i].1;
        t.row(vec![
            servers.targets[i].0.to_string(),
            format!("{:.3}", cpu as f64 / 1e6),
            format!("{:.4}", cpu as f64 / 1e9 / wall * 100.0),
            wakes.to_string(),
        ]);
    }
    s.table(&t);
    Ok(s)
}

/// The seed server: `tcp_server.py` in `$TCPLINK_SEED_DIR` (default `../shared/seed` beside
/// the repository).
pub fn default_seed() -> PathBuf {
    tcplink_host::prereq::seed_dir().join("tcp_server.py")
}
