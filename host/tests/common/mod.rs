//! Helpers shared by the integration tests: free ports, child processes that are always
//! killed, and deadlines on everything that could hang.
#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tcplink-host");
pub const SEED_SERVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/seed/tcp_server.py"
);
pub const SEED_CLIENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/seed/tcp_client.py"
);
/// The seed client's exact output.
pub const TRANSCRIPT: &str = "Welcome\nHello, Alice!\nHello, Bob!\nHello, Jack!\n";
/// No single step of a test may take longer than this.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A loopback address with a port that was free a moment ago.
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap()
}

/// A child process that is killed and reaped when the guard drops, whatever the test did.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")))
    }

    /// The child's stdout as a channel of lines, read on a thread so the pipe never fills.
    pub fn stdout_lines(&mut self) -> Receiver<String> {
        let out = self.0.stdout.take().expect("stdout piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `addr` accepts connections (the probe connection is closed at once).
pub fn wait_accepting(addr: SocketAddr, child: &mut ChildGuard) {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("server exited before accepting on {addr}: {status}");
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing accepted on {addr} within {DEADLINE:?}");
}

/// Runs `cmd` to completion with captured output, killing it and panicking past `deadline`.
pub fn run(cmd: &mut Command, deadline: Duration) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = ChildGuard::spawn(cmd);
    let mut out = child.0.stdout.take().unwrap();
    let mut err = child.0.stderr.take().unwrap();
    let out_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            panic!("{cmd:?} did not finish within {deadline:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Starts `tcplink-host serve-greeting` on a free port, waits for its first log line, and
/// returns the guard, its address and its stdout lines.
pub fn serve_greeting(extra: &[&str]) -> (ChildGuard, SocketAddr, Receiver<String>) {
    let addr = free_addr();
    let mut server = ChildGuard::spawn(
        Command::new(BIN)
            .args(["serve-greeting", "--listen", &addr.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
    );
    let lines = server.stdout_lines();
    let first = lines
        .recv_timeout(DEADLINE)
        .expect("serve-greeting printed nothing");
    assert_eq!(first, "Waiting for connection...");
    (server, addr, lines)
}
