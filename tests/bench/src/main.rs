//! `tcplink-bench`: tcplink measured against what a user would pick instead, side by side in
//! one run on one machine, reported as median (min–max) over several runs and as per-run
//! ratios. Results are printed and kept in `tests/bench/RESULTS.md`.
//!
//! In-process figures need no privileges; the TAP figures need root and create (and delete)
//! their own network namespaces, sending traffic nowhere else.

mod devices;
mod footprint;
mod helpers;
mod link_bench;
mod lwip;
mod nginx;
use nginx::Scheme;
mod peers;
mod plot;
mod procs;
mod report;
mod scaling;
mod stats;
mod symbols;
mod tapfig;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use report::{Output, Section};

#[derive(Parser)]
#[command(name = "tcplink-bench", version)]
struct Cli {
    /// Markdown file to keep results in [default: tests/bench/RESULTS.md; with --quick: none].
    #[arg(long, global = true, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print only; do not touch any results file.
    #[arg(long, global = true)]
    no_write: bool,
    /// Where tcplink-tap and tcplink-host are [default: next to this binary; built if missing].
    #[arg(long, global = true, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// The seed's greeting server [default: tcp_server.py in $TCPLINK_SEED_DIR, else in
    /// ../shared/seed beside the repo].
    #[arg(long, global = true, value_name = "FILE")]
    seed_server: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Figure 1: in-memory bulk transfer, tcplink `Link` vs smoltcp `phy::Loopback`.
    Link(LinkArgs),
    /// Figure 5: flash and static RAM of each board firmware build, by category, against
    /// lwIP (needs the thumbv7m target and arm-none-eabi-gcc).
    Footprint,
    /// CI check: the shipped board builds fit their flash/RAM budgets and link nothing of
    /// a capability they do not use; prints only, exits non-zero if not.
    Budget,
    /// Figure 6: per-poll CPU and memory with 1…256 greeting sockets; writes scaling.png.
    Scaling(ScalingArgs),
    /// Device CPU per greeting session under a steady load on the in-memory link (64 sockets
    /// and 64 in reserve, as `tcplink-tap serve --sockets 64`); for callgrind. Prints only.
    SessionCost {
        /// Sessions in flight.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Sessions in all.
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
    },
    /// Figure 2 (root): HTTP GET over TAP vs a plain smoltcp receiver and curl over veth.
    TapGet(TapGetArgs),
    /// Figure 2's nginx row alone (root): tcplink-tap and curl from the same nginx.
    TapNginx {
        #[arg(long, default_value_t = NGINX_BYTES)]
        bytes: u64,
        #[arg(long, default_value_t = TAP_RUNS, value_parser = clap::value_parser!(u64).range(1..=20))]
        runs: u64,
        #[arg(long, default_value_t = 120)]
        limit_s: u64,
    },
    /// Figure 2d (root): the nginx row over HTTPS (TLS 1.3, both clients verifying).
    TapHttps {
        #[arg(long, default_value_t = NGINX_BYTES)]
        bytes: u64,
        #[arg(long, default_value_t = TAP_RUNS, value_parser = clap::value_parser!(u64).range(1..=20))]
        runs: u64,
        #[arg(long, default_value_t = 120)]
        limit_s: u64,
    },
    /// Figure 3 (root): greeting sessions/s over TAP vs the seed and a std server.
    TapLoad(TapLoadArgs),
    /// Figure 3b (root): greeting sessions/s of tcplink-tap, lwIP and embassy-net on one TAP.
    TapPeersLoad(TapLoadArgs),
    /// Figure 2c (root): GET Gbit/s of tcplink-tap (with and without TSO), lwIP's httpc and
    /// embassy-net from one sender on one TAP.
    TapPeersGet {
        /// Body size per download (the figure is 1 GiB).
        #[arg(long, default_value_t = 1 << 30)]
        bytes: u64,
        #[arg(long, default_value_t = TAP_RUNS, value_parser = clap::value_parser!(u64).range(1..=20))]
        runs: u64,
        /// Give up on one download after this many seconds.
        #[arg(long, default_value_t = 120)]
        limit_s: u64,
    },
    /// Figure 4 (root): CPU time of an idle `tcplink-tap serve`.
    IdleCpu {
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
    },
    /// (inside a namespace) Wait until ADDR accepts TCP connections.
    #[command(hide = true)]
    Probe {
        addr: std::net::SocketAddr,
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// (inside a namespace) Connect to ADDR and write BYTES over the kernel's TCP.
    #[command(hide = true)]
    KernelWriter {
        addr: std::net::SocketAddr,
        #[arg(long)]
        bytes: u64,
        #[arg(long, default_value_t = 120)]
        limit_s: u64,
    },
    /// (inside a namespace) Answer GETs on LISTEN with BYTES written like `kernel-writer`.
    #[command(hide = true)]
    KernelHttp {
        listen: std::net::SocketAddr,
        #[arg(long)]
        bytes: u64,
        #[arg(long, default_value_t = 600)]
        limit_s: u64,
    },
    /// (inside a namespace) The plain smoltcp receiver on a TAP; prints a JSON report.
    #[command(hide = true)]
    SmoltcpRx {
        #[arg(long)]
        tap: String,
        #[arg(long, value_parser = parse_cidr)]
        ip: smoltcp::wire::Ipv4Cidr,
        #[arg(long, default_value = "02:00:00:00:00:02", value_parser = parse_mac)]
        mac: smoltcp::wire::EthernetAddress,
        #[arg(long, default_value_t = 5001)]
        port: u16,
        #[arg(long)]
        bytes: u64,
        /// Receive buffer (TCP window) in bytes.
        #[arg(long, default_value_t = 65536)]
        window: usize,
        #[arg(long, default_value_t = 120)]
        limit_s: u64,
    },
    /// (inside a namespace) The tcplink core's GET client on a TAP, counting the body.
    #[command(hide = true)]
    TcplinkRx {
        #[arg(long)]
        tap: String,
        #[arg(long, value_parser = parse_cidr)]
        ip: smoltcp::wire::Ipv4Cidr,
        #[arg(long, default_value = "02:00:00:00:00:02", value_parser = parse_mac)]
        mac: smoltcp::wire::EthernetAddress,
        url: String,
        /// The GET socket's receive buffer: 65536, 262144 or 1048576.
        #[arg(long, default_value_t = 65536)]
        window: usize,
        #[arg(long, default_value_t = 120)]
        limit_s: u64,
    },
    /// Run every figure this machine can (TAP figures only as root) [--quick: a smoke test].
    All {
        /// Tiny sizes: the in-process figures and, as root, one short round of figures 2c
        /// and 3b (the peer stacks): checks the harness in seconds (CI).
        #[arg(long)]
        quick: bool,
    },
}

#[derive(clap::Args, Clone)]
struct LinkArgs {
    /// Bytes per transfer.
    #[arg(long, default_value_t = 1_000_000_000)]
    bytes: u64,
    /// Rounds; each runs every contender once.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=50))]
    runs: u64,
    /// Give up on one transfer after this many seconds.
    #[arg(long, default_value_t = 120)]
    limit_s: u64,
    /// Run only these contenders (repeat; for profiling one) [default: all].
    #[arg(long, value_enum)]
    only: Vec<link_bench::Contender>,
    /// Run only these capability profiles (repeat) [default: both].
    #[arg(long, value_enum)]
    profile: Vec<devices::Profile>,
}

/// Rounds of the TAP figures: on shared cores one round can be off by 30 % either way.
const TAP_RUNS: u64 = 5;

#[derive(clap::Args, Clone)]
struct TapGetArgs {
    /// Body size per download (the figure is 1 GiB).
    #[arg(long, default_value_t = 1 << 30)]
    bytes: u64,
    #[arg(long, default_value_t = TAP_RUNS, value_parser = clap::value_parser!(u64).range(1..=20))]
    runs: u64,
    /// Give up on one download after this many seconds.
    #[arg(long, default_value_t = 120)]
    limit_s: u64,
    /// Body size of the nginx row (0: leave the row out).
    #[arg(long, default_value_t = NGINX_BYTES)]
    nginx_bytes: u64,
}

/// The nginx row's download: 256 MiB, as issue 12 measured it.
const NGINX_BYTES: u64 = 256 << 20;

#[derive(clap::Args, Clone)]
struct TapLoadArgs {
    /// Concurrent clients (repeat) [default: 1, 8, 64].
    #[arg(long)]
    clients: Vec<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration_s: u64,
    #[arg(long, default_value_t = TAP_RUNS, value_parser = clap::value_parser!(u64).range(1..=20))]
    runs: u64,
}

#[derive(clap::Args, Clone)]
struct ScalingArgs {
    /// Largest socket count (1, 2, 4, …, 256).
    #[arg(long, default_value_t = 256)]
    max_sockets: usize,
    /// Timed batches of polls per count (each about --batch-ms long).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=50))]
    runs: u64,
    #[arg(long, default_value_t = 40)]
    batch_ms: u64,
    /// Rounds of concurrent seed sessions per count.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=20))]
    rounds: u64,
}

impl ScalingArgs {
    fn quick() -> Self {
        Self {
            max_sockets: 8,
            runs: 2,
            batch_ms: 2,
            rounds: 1,
        }
    }
}

/// Figure 6, with its PNG next to the results file (none when results are not written).
fn scaling_figure(a: &ScalingArgs, output: &Output) -> Result<Section, String> {
    let points = scaling::measure(
        a.max_sockets,
        a.runs as usize,
        Duration::from_millis(a.batch_ms),
        a.rounds as usize,
    )?;
    let png = match &output.path {
        Some(results) => {
            let png = results.with_file_name("scaling.png");
            plot::scaling(&points, &png)?;
            eprintln!("[wrote {}]", png.display());
            Some("scaling.png")
        }
        None => None,
    };
    Ok(scaling::section(&points, png))
}

fn parse_cidr(s: &str) -> Result<smoltcp::wire::Ipv4Cidr, String> {
    s.parse().map_err(|()| format!("{s:?} is not ADDR/PREFIX"))
}

fn parse_mac(s: &str) -> Result<smoltcp::wire::EthernetAddress, String> {
    s.parse()
        .map_err(|()| format!("{s:?} is not a MAC address"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Links and socket buffers are built by value before they go to the heap; a big stack
    // keeps the largest (a 2 MiB jumbo link) off the main thread's 8 MiB limit.
    let worker = std::thread::Builder::new()
        .name("bench".into())
        .stack_size(256 << 20)
        .spawn(move || run(cli))
        .expect("spawn the bench thread");
    match worker.join() {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("tcplink-bench: {e}");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let quick = matches!(cli.command, Cmd::All { quick: true });
    let output = Output {
        path: match (&cli.out, cli.no_write || quick && cli.out.is_none()) {
            (_, true) => None,
            (Some(p), false) => Some(p.clone()),
            (None, false) => Some(Output::default_path()),
        },
    };
    let emit = |s: &Section| {
        output
            .emit(s)
            .map_err(|e| format!("cannot write results: {e}"))
    };
    let helper = matches!(
        cli.command,
        Cmd::Probe { .. }
            | Cmd::KernelWriter { .. }
            | Cmd::KernelHttp { .. }
            | Cmd::SmoltcpRx { .. }
            | Cmd::TcplinkRx { .. }
            | Cmd::Budget
    );
    if !helper {
        emit(&report::machine_section())?;
    }
    let seed = cli.seed_server.clone().unwrap_or_else(tapfig::default_seed);
    let tap_bins = || -> Result<tapfig::Bins, String> {
        tapfig::can_run().map_err(|e| format!("the TAP figures need root: {e}"))?;
        tapfig::bins(cli.bin_dir.as_deref())
    };
    match cli.command {
        Cmd::Probe { addr, timeout_ms } => helpers::probe(addr, Duration::from_millis(timeout_ms)),
        Cmd::KernelWriter {
            addr,
            bytes,
            limit_s,
        } => helpers::kernel_writer(addr, bytes, Duration::from_secs(limit_s)),
        Cmd::KernelHttp {
            listen,
            bytes,
            limit_s,
        } => helpers::kernel_http(listen, bytes, Duration::from_secs(limit_s)),
        Cmd::SmoltcpRx {
            tap,
            ip,
            mac,
            port,
            bytes,
            window,
            limit_s,
        } => {
            let r = helpers::smoltcp_rx(
                &tap,
                ip,
                mac,
                port,
                bytes,
                window,
                Duration::from_secs(limit_s),
            )?;
            println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
            Ok(())
        }
        Cmd::TcplinkRx {
            tap,
            ip,
            mac,
            url,
            window,
            limit_s,
        } => {
            let r = helpers::tcplink_rx(&tap, ip, mac, &url, window, Duration::from_secs(limit_s))?;
            println!("{}", serde_json::to_string(&r).map_err(|e| e.to_string())?);
            Ok(())
        }
        Cmd::TapGet(a) => {
            let bins = tap_bins()?;
            let limit = Duration::from_secs(a.limit_s);
            emit(&tapfig::get_figure(&bins, a.bytes, a.runs as usize, limit)?)?;
            if a.nginx_bytes == 0 {
                return Ok(());
            }
            nginx_row(
                &bins,
                a.nginx_bytes,
                a.runs as usize,
                limit,
                Scheme::Http,
                &emit,
            )
        }
        Cmd::TapNginx {
            bytes,
            runs,
            limit_s,
        } => nginx_row(
            &tap_bins()?,
            bytes,
            runs as usize,
            Duration::from_secs(limit_s),
            Scheme::Http,
            &emit,
        ),
        Cmd::TapHttps {
            bytes,
            runs,
            limit_s,
        } => nginx_row(
            &tap_bins()?,
            bytes,
            runs as usize,
            Duration::from_secs(limit_s),
            Scheme::Https,
            &emit,
        ),
        Cmd::TapLoad(a) => {
            let clients = if a.clients.is_empty() {
                vec![1, 8, 64]
            } else {
                a.clients.clone()
            };
            emit(&tapfig::load_figure(
                &tap_bins()?,
                &clients,
                a.duration_s,
                a.runs as usize,
                &seed,
            )?)
        }
        Cmd::TapPeersLoad(a) => {
            let clients = if a.clients.is_empty() {
                vec![1, 8, 64]
            } else {
                a.clients.clone()
            };
            emit(&peers::load_figure(
                &tap_bins()?,
                &clients,
                a.duration_s,
                a.runs as usize,
            )?)
        }
        Cmd::TapPeersGet {
            bytes,
            runs,
            limit_s,
        } => emit(&peers::get_figure(
            &tap_bins()?,
            bytes,
            runs as usize,
            Duration::from_secs(limit_s),
        )?),
        Cmd::IdleCpu { seconds } => emit(&tapfig::idle_figure(&tap_bins()?, seconds, &seed)?),
        Cmd::Link(a) => emit(&link_bench::figure(
            a.bytes,
            a.runs as usize,
            Duration::from_secs(a.limit_s),
            &a.only,
            &a.profile,
        )?),
        Cmd::Scaling(a) => emit(&scaling_figure(&a, &output)?),
        Cmd::SessionCost { clients, sessions } => {
            let (us, frames) = scaling::steady(clients, sessions)?;
            println!(
                "{sessions} sessions, {clients} in flight: {us:.2} µs device CPU and {frames:.1} \
                 frames per session"
            );
            Ok(())
        }
        Cmd::Footprint => emit(&footprint::figure()?),
        Cmd::Budget => footprint::budget(),
        Cmd::All { quick } => {
            let (bytes, runs) = if quick {
                (20_000_000, 2)
            } else {
                (1_000_000_000, 5)
            };
            emit(&link_bench::figure(
                bytes,
                runs,
                Duration::from_secs(120),
                &[],
                &[],
            )?)?;
            let scaling = if quick {
                ScalingArgs::quick()
            } else {
                ScalingArgs {
                    max_sockets: 256,
                    runs: 5,
                    batch_ms: 40,
                    rounds: 3,
                }
            };
            emit(&scaling_figure(&scaling, &output)?)?;
            if quick {
                peers_smoke(tap_bins, &emit)?;
                // Figure 2d briefly: 16 MiB over HTTPS, one round (a few seconds).
                return match tapfig::can_run() {
                    Ok(()) => nginx_row(
                        &tap_bins()?,
                        16 << 20,
                        1,
                        Duration::from_secs(60),
                        Scheme::Https,
                        &emit,
                    ),
                    // peers_smoke has already said why (or failed under CI).
                    Err(_) => Ok(()),
                };
            }
            emit(&footprint::figure()?)?;
            match tapfig::can_run() {
                Err(why) => {
                    eprintln!("tcplink-bench: skipping the TAP figures 2–4: {why}");
                    Ok(())
                }
                Ok(()) => {
                    let bins = tap_bins()?;
                    emit(&tapfig::load_figure(
                        &bins,
                        &[1, 8, 64],
                        5,
                        TAP_RUNS as usize,
                        &seed,
                    )?)?;
                    emit(&peers::load_figure(
                        &bins,
                        &[1, 8, 64],
                        5,
                        TAP_RUNS as usize,
                    )?)?;
                    emit(&tapfig::idle_figure(&bins, 10, &seed)?)?;
                    let limit = Duration::from_secs(120);
                    emit(&tapfig::get_figure(
                        &bins,
                        1 << 30,
                        TAP_RUNS as usize,
                        limit,
                    )?)?;
                    emit(&peers::get_figure(
                        &bins,
                        1 << 30,
                        TAP_RUNS as usize,
                        limit,
                    )?)?;
                    nginx_row(
                        &bins,
                        NGINX_BYTES,
                        TAP_RUNS as usize,
                        limit,
                        Scheme::Http,
                        &emit,
                    )?;
                    nginx_row(
                        &bins,
                        NGINX_BYTES,
                        TAP_RUNS as usize,
                        limit,
                        Scheme::Https,
                        &emit,
                    )
                }
            }
        }
    }
}

/// The smoke run of figures 2c and 3b (`all --quick`): builds the peer stacks if needed and
/// runs each briefly. Without root it is skipped on a developer's machine and an error
/// under CI=true (CI runs as root).
fn peers_smoke(
    tap_bins: impl Fn() -> Result<tapfig::Bins, String>,
    emit: &dyn Fn(&Section) -> Result<(), String>,
) -> Result<(), String> {
    match tapfig::can_run() {
        Ok(()) => {
            for section in peers::smoke(&tap_bins()?)? {
                emit(&section)?;
            }
            Ok(())
        }
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            Err(format!("the peer stacks' smoke run needs root: {why}"))
        }
        Err(why) => {
            eprintln!("tcplink-bench: skipping the peer stacks' smoke run: {why}");
            Ok(())
        }
    }
}

/// The nginx row of figure 2, or why it cannot run: nginx or curl missing is a skip on a
/// developer's machine and an error under CI=true (CI installs both).
fn nginx_row(
    bins: &tapfig::Bins,
    bytes: u64,
    runs: usize,
    limit: Duration,
    scheme: Scheme,
    emit: &dyn Fn(&Section) -> Result<(), String>,
) -> Result<(), String> {
    match nginx::available() {
        Ok(()) => emit(&nginx::figure(bins, bytes, runs, limit, scheme)?),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => Err(why),
        Err(why) => {
            eprintln!("tcplink-bench: skipping the nginx row of figure 2: {why}");
            Ok(())
        }
    }
}
