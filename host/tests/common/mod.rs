//! Helpers shared by the integration tests: free ports, child processes that are always
//! killed, and deadlines on everything that could hang.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

pub use tcplink_host::child::{run, ChildGuard};

pub const BIN: &str = env!("CARGO_BIN_EXE_tcplink-host");
/// The seed client's exact output.
pub const TRANSCRIPT: &str = "Welcome\nHello, Alice!\nHello, Bob!\nHello, Jack!\n";
/// No single step of a test may take longer than this.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    free_addr_on("127.0.0.1")
}

/// `ip` (a literal, IPv6 without brackets) with a port that was free a moment ago.
pub fn free_addr_on(ip: &str) -> SocketAddr {
    let any: SocketAddr = SocketAddr::new(ip.parse().expect("an IP literal"), 0);
    let l = TcpListener::bind(any).unwrap_or_else(|e| panic!("bind {any}: {e}"));
    l.local_addr().unwrap()
}

/// Starts the seed's `tcp_server.py` (no reply delay) on a free loopback port; see
/// [`serve_on_a_free_port`]. Keep the lines' receiver while the server runs: without a
/// reader its next log line would fail on a closed pipe and end the session's thread.
pub fn serve_seed(script: &std::path::Path) -> (ChildGuard, SocketAddr, Receiver<String>) {
    serve_on_a_free_port("127.0.0.1", "tcp_server.py", |addr| {
        let mut cmd = Command::new("python3");
        // Unbuffered: the line must arrive when it is printed.
        cmd.arg("-u")
            .arg(script)
            .args(["127.0.0.1", &addr.port().to_string(), "0"])
            .stderr(Stdio::null());
        cmd
    })
}

/// Starts `tcplink-host serve-greeting` on a free port, waits for its first log line, and
/// returns the guard, its address and its stdout lines; see [`serve_on_a_free_port`].
pub fn serve_greeting(extra: &[&str]) -> (ChildGuard, SocketAddr, Receiver<String>) {
    serve_greeting_on("127.0.0.1", extra)
}

/// [`serve_greeting`] listening on `ip` (`::1`, `::` for both families).
pub fn serve_greeting_on(ip: &str, extra: &[&str]) -> (ChildGuard, SocketAddr, Receiver<String>) {
    serve_on_a_free_port(ip, "serve-greeting", |addr| {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve-greeting", "--listen", &addr.to_string()])
            .args(extra);
        cmd
    })
}

/// Starts the greeting server `command` makes for a free port on `ip` and waits for its
/// "Waiting for connection..." line, so what listens there is this server (a probe
/// connection could be answered by another test's server that took the port first).
///
/// The port was free when [`free_addr`] looked, but on a busy machine another process can
/// take it before the server binds; the server then exits without the line and this tries
/// a new port (three times at most).
fn serve_on_a_free_port(
    ip: &str,
    what: &str,
    command: impl Fn(SocketAddr) -> Command,
) -> (ChildGuard, SocketAddr, Receiver<String>) {
    const ATTEMPTS: usize = 3;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let addr = free_addr_on(ip);
        let mut server =
            ChildGuard::spawn(command(addr).stdin(Stdio::null()).stdout(Stdio::piped()));
        let lines = server.stdout_lines();
        match lines.recv_timeout(DEADLINE) {
            Ok(first) => {
                assert_eq!(first, "Waiting for connection...");
                return (server, addr, lines);
            }
            // Exited without a line: the port was taken.
            Err(RecvTimeoutError::Disconnected) if attempt < ATTEMPTS => {}
            Err(e) => panic!("{what} printed nothing ({e}) in {attempt} attempts"),
        }
    }
}
