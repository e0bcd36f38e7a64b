//! Figures 2c and 3b (issue 16): tcplink against the stacks an embedded developer would pick
//! instead, lwIP 2.2 (C, NO_SYS raw API: tests/bench/lwip-tap) and embassy-net (async Rust
//! on smoltcp: tests/bench/embassy-tap). Every contender is a device process on the same
//! TAP in one namespace, each alone on it while measured, the order rotated per round, the
//! same clients (`tcplink-host load`) and the same sender (the kernel HTTP writer); ratios
//! are taken per round and their median reported.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use tcplink_host::netns::Namespace;

use crate::link_bench::human_bytes;
use crate::procs::{self, cpu_ns, Proc};
use crate::report::{Section, Table};
use crate::stats::{ratios, show_ratio, Summary};
use crate::tapfig::{self, device_args, gbit, quiet, Bins, Dl, LoadResult};

/// The greeting servers, in the order of the table: tcplink in its two TAP I/O modes first
/// (the ratios' numerators), then the other stacks.
const SERVERS: [&str; 4] = [
    "tcplink-tap serve --sockets 64 (io_uring, the default)",
    "tcplink-tap --io read-write serve --sockets 64",
    "lwIP 2.2, lwip-tap serve (64 PCBs)",
    "embassy-net 0.9.1, embassy-tap serve (64 socket tasks)",
];

/// How many of [`SERVERS`] are tcplink's (one per I/O mode).
const TCPLINK_MODES: usize = 2;

/// The namespace's name: unique to this process, as other benchmarks and tests run at once.
fn namespace(figure: &str) -> Result<Namespace, String> {
    let name = format!("tlbench-{figure}-{}", std::process::id());
    Namespace::create(&name, "tlbpeer0").map_err(|e| format!("namespace {name}: {e}"))
}

/// Frames through the TAP so far, both ways (the host side's counters).
fn tap_frames(ns: &Namespace) -> Result<u64, String> {
    let mut total = 0;
    for dir in ["rx_packets", "tx_packets"] {
        let mut cmd = procs::netns_command(ns.name(), "cat");
        cmd.arg(format!("/sys/class/net/{}/statistics/{dir}", ns.tap()));
        let text = procs::run(cmd, "cat TAP statistics", Duration::from_secs(5))?;
        total += text
            .trim()
            .parse::<u64>()
            .map_err(|e| format!("TAP {dir}: {e}"))?;
    }
    Ok(total)
}

fn serve_command(b: &Bins, ns: &Namespace, server: usize) -> Command {
    let program: &Path = match server {
        0 | 1 => &b.tap,
        2 => &b.lwip,
        _ => &b.embassy,
    };
    let mut cmd = ns.command(program);
    cmd.args(device_args(ns));
    if server == 1 {
        cmd.args(["--io", "read-write"]);
    }
    cmd.arg("serve");
    if server < TCPLINK_MODES {
        cmd.args(["--sockets", "64"]);
    }
    quiet(cmd)
}

/// One load on one server: the load's figures, the server's CPU per session and the
/// frames per session.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    load: LoadResult,
    cpu_us_per_session: f64,
    frames_per_session: f64,
}

/// Figure 3b: sessions/s of every server at each client count, `runs` rounds.
pub fn load_figure(b: &Bins, clients: &[usize], secs: u64, runs: usize) -> Result<Section, String> {
    let ns = namespace("peers")?;
    let addr = "192.168.69.2:9999";
    // results[client count][server] = one per round
    let mut results = vec![vec![Vec::<Measured>::new(); SERVERS.len()]; clients.len()];
    for run in 0..runs {
        for k in 0..SERVERS.len() {
            let si = (run + k) % SERVERS.len();
            let _ = procs::ip(&["-n", ns.name(), "neigh", "flush", "dev", ns.tap()]);
            let mut server = Proc::spawn(serve_command(b, &ns, si), SERVERS[si])?;
            tapfig::probe(b, ns.name(), addr)?;
            for (ci, &c) in clients.iter().enumerate() {
                server.check_running()?;
                let cpu0 = cpu_ns(server.pid()).map_err(|e| e.to_string())?;
                let frames0 = tap_frames(&ns)?;
                let load = tapfig::load(b, ns.name(), addr, c, secs)?;
                let cpu = cpu_ns(server.pid()).map_err(|e| e.to_string())? - cpu0;
                let frames = tap_frames(&ns)? - frames0;
                let per = |x: f64| x / load.sessions.max(1) as f64;
                let m = Measured {
                    load,
                    cpu_us_per_session: per(cpu as f64 / 1e3),
                    frames_per_session: per(frames as f64),
                };
                eprintln!(
                    "peers-load round {}/{runs}: {c:>2} clients {:<56} {:9.1} sessions/s p50 \
                     {:.3} ms p99 {:.3} ms errors {} CPU {:.1} µs/session {:.1} frames/session",
                    run + 1,
                    SERVERS[si],
                    load.sessions_per_s,
                    load.p50_ms,
                    load.p99_ms,
                    load.errors,
                    m.cpu_us_per_session,
                    m.frames_per_session
                );
                results[ci][si].push(m);
            }
            server.check_running()?;
            server.stop();
        }
    }
    let mut s = Section::new(
        "tap-peers-load",
        "3b. Greeting sessions per second: tcplink, lwIP, embassy-net",
    );
    s.para(&format!(
        "`tcplink-host load` (one seed session = Welcome, Alice, Bob, Jack, exit, close) for \
         {secs} s per measurement against each server on the same TAP in one namespace \
         (192.168.69.2, host side 192.168.69.1), each alone on the TAP while measured, {runs} \
         rounds with the servers' order rotated per round. Server CPU is the device process's \
         (all threads, /proc/PID/task/*/schedstat) over the load, per completed session; \
         frames per session are the TAP's counters (both ways) over the load. The ratio \
         columns are tcplink's figure (io_uring, or read-write) divided by the row's, per \
         round (median (min–max)): above 1× tcplink serves more sessions/s, below 1× it \
         spends less CPU per session."
    ));
    let mut t = Table::new(&[
        "clients",
        "server",
        "sessions/s",
        "p50 (ms)",
        "p99 (ms)",
        "errors",
        "CPU µs/session",
        "frames/session",
        "io_uring ÷ this, sessions/s",
        "read-write ÷ this, sessions/s",
        "io_uring ÷ this, CPU/session",
        "read-write ÷ this, CPU/session",
    ]);
    for (ci, &c) in clients.iter().enumerate() {
        let col = |si: usize, f: fn(&Measured) -> f64| -> Vec<f64> {
            results[ci][si].iter().map(f).collect()
        };
        let sps = |m: &Measured| m.load.sessions_per_s;
        let cpu = |m: &Measured| m.cpu_us_per_session;
        for (si, name) in SERVERS.iter().enumerate() {
            // Each tcplink mode against every row but its own.
            let ratio = |mode: usize, f: fn(&Measured) -> f64| {
                if mode == si {
                    "—".to_string()
                } else {
                    show_ratio(&ratios(&col(mode, f), &col(si, f)))
                }
            };
            let mut row = vec![
                c.to_string(),
                name.to_string(),
                Summary::of(&col(si, sps)).show(0),
                Summary::of(&col(si, |m| m.load.p50_ms)).show(3),
                Summary::of(&col(si, |m| m.load.p99_ms)).show(3),
                results[ci][si]
                    .iter()
                    .map(|m| m.load.errors)
                    .sum::<u64>()
                    .to_string(),
                Summary::of(&col(si, cpu)).show(1),
                Summary::of(&col(si, |m| m.frames_per_session)).show(1),
            ];
            row.extend([ratio(0, sps), ratio(1, sps), ratio(0, cpu), ratio(1, cpu)]);
            t.row(row);
        }
    }
    s.table(&t);
    Ok(s)
}

/// The downloaders of figure 2c, in the order of the table.
const GETTERS: [&str; 4] = [
    "tcplink-tap get -o /dev/null, host TSO (as shipped)",
    "tcplink-tap get --no-offload -o /dev/null, 1514-byte frames",
    "lwIP 2.2 httpc, lwip-tap get",
    "embassy-net 0.9.1, embassy-tap get",
];

/// Figure 2c: `bytes` per GET from the kernel HTTP writer, `runs` rounds.
pub fn get_figure(b: &Bins, bytes: u64, runs: usize, limit: Duration) -> Result<Section, String> {
    let ns = namespace("peersget")?;
    let writer_limit = limit * (runs as u32 * GETTERS.len() as u32 + 1);
    let _writer = tapfig::kernel_http(
        ns.command(&b.bench),
        "192.168.69.1:8081",
        bytes,
        writer_limit,
    )?;
    tapfig::probe(b, ns.name(), "192.168.69.1:8081")?;
    let url = "http://192.168.69.1:8081/blob";
    let n = GETTERS.len();
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n];
    for run in 0..runs {
        for k in 0..n {
            let i = (run + k) % n;
            let _ = procs::ip(&["-n", ns.name(), "neigh", "flush", "dev", ns.tap()]);
            let d = match i {
                0 => tapfig::tap_get(b, &ns, url, Path::new("/dev/null"), bytes, limit)?,
                1 => tapfig::tap_get_with(
                    b,
                    &ns,
                    &["--no-offload"],
                    url,
                    Path::new("/dev/null"),
                    bytes,
                    limit,
                    &[],
                )?,
                2 => peer_get(&b.lwip, "lwip-tap get", &ns, url, bytes, limit)?,
                _ => peer_get(&b.embassy, "embassy-tap get", &ns, url, bytes, limit)?,
            };
            eprintln!(
                "peers-get round {}/{runs}: {:<84} {:7.3} Gbit/s",
                run + 1,
                GETTERS[i],
                d.gbit_s
            );
            samples[i].push(d.gbit_s);
        }
    }
    let mut s = Section::new(
        "tap-peers-get",
        "2c. HTTP GET over TAP: tcplink, lwIP, embassy-net (Gbit/s)",
    );
    s.para(&format!(
        "{} per GET from the same sender (the kernel HTTP writer of figure 2, 192.168.69.1) to \
         each device on the same TAP (MTU 1500) in one namespace, alone on it, {runs} rounds \
         with the order rotated per round. Every row is timed as a whole process (start, TAP \
         attach, ARP, connect, transfer, close), the body counted and discarded. `tcplink-tap` \
         attaches the TAP with a virtio-net header and TSO, so the host sends it up to 64 KiB \
         per frame; with `--no-offload` it attaches without segmentation and checksum \
         offload and gets 1514-byte frames with finished checksums, like lwIP's and \
         embassy-net's drivers. Ratios per round, median (min–max).",
        human_bytes(bytes)
    ));
    let mut t = Table::new(&[
        "contender",
        "Gbit/s",
        "÷ lwIP (per round)",
        "÷ embassy-net (per round)",
    ]);
    for (i, name) in GETTERS.iter().enumerate() {
        t.row(vec![
            name.to_string(),
            Summary::of(&samples[i]).show(3),
            show_ratio(&ratios(&samples[i], &samples[2])),
            show_ratio(&ratios(&samples[i], &samples[3])),
        ]);
    }
    s.table(&t);
    Ok(s)
}

/// `program ... get URL` (lwip-tap, embassy-tap), which prints `N bytes` when done.
fn peer_get(
    program: &Path,
    what: &str,
    ns: &Namespace,
    url: &str,
    bytes: u64,
    limit: Duration,
) -> Result<Dl, String> {
    let mut cmd = ns.command(program);
    cmd.args(device_args(ns))
        .args(["get", url, "--timeout-s", &limit.as_secs().to_string()]);
    let t0 = Instant::now();
    let out = procs::run(cmd, what, limit + Duration::from_secs(5))?;
    let secs = t0.elapsed().as_secs_f64();
    let got: u64 = out
        .trim()
        .strip_suffix(" bytes")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if got != bytes {
        return Err(format!("{what} got {got} of {bytes} bytes: {out:?}"));
    }
    Ok(Dl {
        gbit_s: gbit(bytes, secs),
    })
}

/// Both figures at smoke size (CI): every contender builds, serves and downloads.
pub fn smoke(b: &Bins) -> Result<Vec<Section>, String> {
    Ok(vec![
        load_figure(b, &[1, 8], 1, 1)?,
        get_figure(b, 20_000_000, 1, Duration::from_secs(30))?,
    ])
}
