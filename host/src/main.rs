//! `tcplink-host`: the normal-OS peers of tcplink on the command line.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use tcplink_host::netns::{self, Namespace};
use tcplink_host::protocol::DEFAULT_NAMES;
use tcplink_host::{addr, greet, run_load, GreetingServer, HttpServer, LoadConfig};

/// Normal-OS peers for tcplink: the seed's greeting client and server, a load generator, a
/// static HTTP server and the network-namespace/TAP helper.
#[derive(Parser)]
#[command(name = "tcplink-host", version)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the seed's tcp_client.py session and print the transcript exactly as it does.
    Greet {
        /// Server to greet, ADDR:PORT (IPv6 in brackets: [fd00:69::2]:9999).
        #[arg(value_parser = addr::resolve)]
        addr: SocketAddr,
        /// Names to send, one message each [default: Alice Bob Jack].
        names: Vec<String>,
        /// Timeout in seconds for the connect and for every read and write.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout_s: u64,
    },
    /// Run concurrent back-to-back seed sessions and report throughput and latency.
    ///
    /// Exits with status 2 if any session failed or none succeeded (the report is printed all
    /// the same).
    Load {
        /// Server to load, ADDR:PORT (IPv6 in brackets: [fd00:69::2]:9999).
        #[arg(value_parser = addr::resolve)]
        addr: SocketAddr,
        /// Concurrent clients (sessions in flight).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
        clients: u64,
        /// Stop starting sessions after this many seconds.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        duration_s: u64,
        /// Stop after this many sessions in total.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        max_sessions: Option<u64>,
        /// Timeout in seconds for the connect and for every read and write of a session.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout_s: u64,
        /// Print the report as one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the seed's greeting protocol, one thread per connection (the kernel baseline).
    ServeGreeting {
        /// Address to listen on, IP:PORT ([::]:PORT: every address of both families).
        #[arg(long, value_parser = addr::resolve)]
        listen: SocketAddr,
        /// Sleep this long after each received message, as the seed's time.sleep (it uses 1000).
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        delay_ms: u64,
    },
    /// Serve static files under a directory (GET and HEAD), one log line per request on stderr.
    ServeHttp {
        /// Directory to serve; requests can never leave it.
        #[arg(long)]
        root: PathBuf,
        /// Address to listen on, IP:PORT ([::]:PORT: every address of both families).
        #[arg(long, value_parser = addr::resolve)]
        listen: SocketAddr,
        /// Send bodies with Transfer-Encoding: chunked instead of Content-Length.
        #[arg(long)]
        chunked: bool,
    },
    /// Create or delete the network namespace with the TAP the tcplink device runs on.
    Netns {
        #[command(subcommand)]
        action: NetnsCmd,
    },
}

#[derive(Subcommand)]
enum NetnsCmd {
    /// Create namespace NS with TAP (192.168.69.1/24, fd00:69::1/64, up) and lo up, replacing a
    /// stale one.
    Up {
        /// Namespace name.
        #[arg(long, default_value = netns::DEFAULT_NAME)]
        name: String,
        /// TAP interface name inside the namespace.
        #[arg(long, default_value = netns::DEFAULT_TAP)]
        tap: String,
    },
    /// Delete namespace NS and its TAP.
    Down {
        /// Namespace name.
        #[arg(long, default_value = netns::DEFAULT_NAME)]
        name: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd) -> Result<ExitCode, String> {
    match cmd {
        Cmd::Greet {
            addr,
            names,
            timeout_s,
        } => {
            let names: Vec<String> = if names.is_empty() {
                DEFAULT_NAMES.iter().map(|s| s.to_string()).collect()
            } else {
                names
            };
            let mut out = io::stdout().lock();
            greet(addr, &names, Duration::from_secs(timeout_s), &mut out)
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Load {
            addr,
            clients,
            duration_s,
            max_sessions,
            timeout_s,
            json,
        } => {
            let config = LoadConfig {
                clients: clients as usize,
                duration: Duration::from_secs(duration_s),
                max_sessions,
                op_timeout: Duration::from_secs(timeout_s),
                ..LoadConfig::new(addr)
            };
            let report = run_load(&config).map_err(|e| e.to_string())?;
            let text = if json {
                serde_json::to_string(&report).map_err(|e| e.to_string())? + "\n"
            } else {
                report.table()
            };
            io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| format!("cannot write output: {e}"))?;
            Ok(if report.errors == 0 && report.sessions > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        }
        Cmd::ServeGreeting { listen, delay_ms } => {
            let server = GreetingServer::bind(listen, Duration::from_millis(delay_ms))
                .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            server.run().map_err(|e| format!("accept failed: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::ServeHttp {
            root,
            listen,
            chunked,
        } => {
            let server = HttpServer::bind(listen, &root, chunked)
                .map_err(|e| format!("cannot serve on {listen}: {e}"))?;
            let local = server.local_addr().map_err(|e| e.to_string())?;
            let mode = if chunked { "chunked" } else { "Content-Length" };
            eprintln!("serving {} on http://{local}/ ({mode})", root.display());
            server.run();
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Netns { action } => match action {
            NetnsCmd::Up { name, tap } => {
                let ns = Namespace::create(&name, &tap).map_err(|e| e.to_string())?;
                println!(
                    "namespace {name} is up: {tap} {}/{} and {}/{} (device: {} and {}); run the \
                     device with `ip netns exec {name} ...`, remove with \
                     `tcplink-host netns down --name {name}`",
                    netns::HOST_IP,
                    netns::PREFIX,
                    netns::HOST_IP6,
                    netns::PREFIX6,
                    netns::DEVICE_IP,
                    netns::DEVICE_IP6
                );
                // The namespace must outlive this process: skip the guard's delete.
                std::mem::forget(ns);
                Ok(ExitCode::SUCCESS)
            }
            NetnsCmd::Down { name } => {
                if netns::delete(&name).map_err(|e| e.to_string())? {
                    println!("namespace {name} deleted");
                } else {
                    println!("namespace {name} does not exist");
                }
                Ok(ExitCode::SUCCESS)
            }
        },
    }
}
