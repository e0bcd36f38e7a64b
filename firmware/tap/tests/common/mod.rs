//! Shared by the TAP tests: a namespace per test, programs run inside it, children that are
//! always killed, and a deadline on every wait.
//!
//! Every test creates its own namespace (`tt-<test>-<pid>`) with TAP `tap0` at 192.168.69.1/24
//! and fd00:69::1/64, and runs every program inside it, so traffic never leaves the namespace and tests run in
//! parallel. The namespace is deleted when the [`Lab`] drops.
#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tcplink_host::netns::{require_privileges, Namespace};
use tcplink_host::prereq::require_programs;
pub use tcplink_host::prereq::require_seed_script;

pub use tcplink_host::child::{run, ChildGuard};

pub use tcplink_host::netns::{DEVICE_IP, DEVICE_IP6, HOST_IP, HOST_IP6};

pub const TAP_BIN: &str = env!("CARGO_BIN_EXE_tcplink-tap");
/// The seed client's exact output.
pub const TRANSCRIPT: &str = "Welcome\nHello, Alice!\nHello, Bob!\nHello, Jack!\n";
/// No single wait in a test may take longer than this.
pub const DEADLINE: Duration = Duration::from_secs(20);
/// The device's static address arguments.
pub const STATIC_NET: [&str; 4] = ["--tap", "tap0", "--ip", "192.168.69.2/24"];
/// The device's static addresses of both families.
pub const DUAL_NET: [&str; 6] = [
    "--tap",
    "tap0",
    "--ip",
    "192.168.69.2/24",
    "--ip6",
    "fd00:69::2/64",
];

/// `tcplink-host`, built next to `tcplink-tap` by `cargo test --workspace`.
pub fn host_bin() -> PathBuf {
    let path = PathBuf::from(TAP_BIN).with_file_name("tcplink-host");
    assert!(
        path.exists(),
        "{} is missing: build it first with `cargo build -p tcplink-host` \
         (or run `cargo test --workspace`)",
        path.display()
    );
    path
}

/// The `--io` modes of tcplink-tap, for the tests that run in each.
pub const IO_MODES: [&str; 2] = ["uring", "read-write"];

/// The `--io` mode every test runs tcplink-tap in unless it picks one: `TCPLINK_TAP_IO`
/// (`uring` or `read-write`; e.g. `TCPLINK_TAP_IO=read-write cargo test -p tcplink-tap`
/// runs the whole suite on the read/write loop), else tcplink-tap's default (uring).
pub fn default_io() -> Option<&'static str> {
    let mode = std::env::var("TCPLINK_TAP_IO").ok()?;
    let known = IO_MODES.into_iter().find(|m| *m == mode);
    Some(known.unwrap_or_else(|| panic!("TCPLINK_TAP_IO={mode:?}: not one of {IO_MODES:?}")))
}

/// A test's own network namespace with `tap0`; deleted on drop.
pub struct Lab {
    pub ns: Namespace,
    /// `--io MODE` given to every tcplink-tap run (None: its default).
    pub io: Option<&'static str>,
}

impl Lab {
    /// The namespace for `test`, or `None` when the test cannot run here: no privileges, or
    /// one of `programs` (run inside the namespace) missing. It then prints why, or panics
    /// under CI=true.
    pub fn new(test: &str, programs: &[&str]) -> Option<Lab> {
        // `kill` stops the device in every test (Server::terminate).
        if !require_privileges(test)
            || !require_programs(test, &["kill"])
            || !require_programs(test, programs)
        {
            return None;
        }
        let name = format!("tt-{test}-{}", std::process::id());
        let ns = Namespace::create(&name, "tap0")
            .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
        Some(Lab {
            ns,
            io: default_io(),
        })
    }

    /// The same lab, running tcplink-tap with `--io mode`.
    pub fn with_io(self, mode: &'static str) -> Lab {
        Lab {
            io: Some(mode),
            ..self
        }
    }

    /// `program` run inside the namespace.
    pub fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = self.ns.command(program);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// `tcplink-tap [--io MODE] ARGS` inside the namespace.
    pub fn tap(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd(TAP_BIN);
        if let Some(mode) = self.io {
            cmd.args(["--io", mode]);
        }
        cmd.args(args);
        cmd
    }

    /// Starts `tcplink-tap NET serve SERVE` and waits until it says it is waiting.
    pub fn serve(&self, net: &[&str], serve: &[&str]) -> Server {
        let mut cmd = self.tap(net);
        cmd.arg("serve").args(serve);
        let mut server = Server::spawn(&mut cmd);
        let first = server.next_line();
        assert_eq!(first, "Waiting for connection...");
        server
    }

    /// Runs `cmd` to completion inside the time limit, output captured.
    pub fn run(&self, cmd: &mut Command) -> Output {
        run(cmd, DEADLINE)
    }

    /// The host side's view of `tap0`: a file of /sys/class/net/tap0 (e.g.
    /// `statistics/tx_packets`, frames the host sent to the device), read in the namespace.
    pub fn tap_sysfs(&self, file: &str) -> String {
        let out = self.run(self.cmd("cat").arg(format!("/sys/class/net/tap0/{file}")));
        success(&out).trim().to_string()
    }
}

/// A running `tcplink-tap`: its stdout as lines, its stderr collected.
pub struct Server {
    pub child: ChildGuard,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
}

impl Server {
    pub fn spawn(cmd: &mut Command) -> Server {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(cmd);
        let out = child.0.stdout.take().expect("stdout piped");
        let mut err = child.0.stderr.take().expect("stderr piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Server {
            child,
            lines,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The next stdout line, within the deadline.
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("no output within {DEADLINE:?}: {:?}", self.seen)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait(DEADLINE);
                let stderr = self.stderr.take().map(|t| t.join().unwrap());
                panic!(
                    "tcplink-tap exited ({status}); stdout {:?}; stderr {stderr:?}",
                    self.seen
                )
            }
        }
    }

    /// Sends SIGTERM and waits for the exit; returns the status and everything on stderr.
    pub fn terminate(&mut self) -> (ExitStatus, String) {
        self.signal("TERM")
    }

    /// Sends SIG`name` (`TERM`, `HUP`...) and waits for the exit; returns the status and
    /// everything on stderr.
    pub fn signal(&mut self, name: &str) -> (ExitStatus, String) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} {}", self.pid());
        let status = self.child.wait(DEADLINE);
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap())
            .unwrap_or_default();
        // Collect whatever was printed before the exit.
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        (status, stderr)
    }

    /// After the exit: every stdout line not read yet, up to the end of the pipe.
    pub fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(DEADLINE) {
            rest.push(line);
        }
        self.seen.extend(rest.iter().cloned());
        rest
    }

    /// Stops it with SIGTERM; asserts a clean exit (status 0) and returns its stderr.
    pub fn stop(mut self) -> String {
        let (status, stderr) = self.terminate();
        assert!(
            status.success(),
            "tcplink-tap exited with {status} on SIGTERM: {stderr}"
        );
        stderr
    }
}

/// Stdout as text, panicking with the whole output if the command failed.
pub fn success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}): stdout {:?} stderr {:?}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Parses `Accept new connection from IP:PORT...` into (IP, PORT).
pub fn accepted(line: &str) -> Option<(String, u16)> {
    let peer = line
        .strip_prefix("Accept new connection from ")?
        .strip_suffix("...")?;
    split_peer(peer)
}

/// Parses `Connection from IP:PORT close.` into (IP, PORT).
pub fn closed(line: &str) -> Option<(String, u16)> {
    let peer = line
        .strip_prefix("Connection from ")?
        .strip_suffix(" close.")?;
    split_peer(peer)
}

fn split_peer(peer: &str) -> Option<(String, u16)> {
    let (ip, port) = peer.rsplit_once(':')?;
    Some((ip.to_string(), port.parse().ok()?))
}

/// Waits until `ip:port` inside the lab's namespace accepts TCP connections.
pub fn wait_listening(lab: &Lab, ip: &str, port: u16) {
    const PROBE: &str = r#"
import socket, sys, time
end = time.monotonic() + 10
while True:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > end:
            sys.exit('nothing listens on %s:%s' % (sys.argv[1], sys.argv[2]))
        time.sleep(0.02)
"#;
    let out = lab.run(
        lab.cmd("python3")
            .args(["-c", PROBE, ip, &port.to_string()]),
    );
    success(&out);
}

/// `n` random bytes (from /dev/urandom: no RNG crate needed).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    bytes
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hex SHA-256 of the file at `path`.
pub fn sha256_file(path: &std::path::Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Asserts that `get`'s stdout ends with the head's blank line and `N bytes saved to FILE`,
/// and that `file` holds exactly the `sha256` the server sent.
pub fn assert_saved(stdout: &str, size: usize, file: &std::path::Path, sha256: &str) {
    let saved = format!("\n\n{size} bytes saved to {}\n", file.display());
    assert!(stdout.ends_with(&saved), "{stdout}");
    assert_eq!(sha256_file(file), sha256, "{}", file.display());
}

/// The names in `dir`, sorted.
pub fn dir_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts a failed run: non-zero status and exactly one stderr line, which it returns.
pub fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    err
}

/// `tcplink-host serve-http` on `ip`:`port` (either family) serving `body` as `/file`, once
/// it listens: the server and the directory holding the body.
pub fn host_http(lab: &Lab, ip: &str, port: u16, body: &[u8]) -> (ChildGuard, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("file"), body).unwrap();
    let listen = if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    };
    let mut http = lab.cmd(host_bin());
    http.args(["serve-http", "--listen", &listen, "--root"])
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = ChildGuard::spawn(&mut http);
    wait_listening(lab, ip, port);
    (server, root)
}

/// tests/paced_http.py: an HTTP server that sends a body in pieces with pauses between them.
pub const PACED_HTTP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/paced_http.py");

/// `paced_http.py` on HOST_IP:`port` serving `body` in `piece`-byte pieces, `pause` s apart
/// (the server and the directory holding the body).
pub fn paced_server(
    lab: &Lab,
    port: u16,
    body: &[u8],
    piece: usize,
    pause: &str,
) -> (Server, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("file");
    std::fs::write(&file, body).unwrap();
    let mut cmd = lab.cmd("python3");
    cmd.arg(PACED_HTTP)
        .args([HOST_IP, &port.to_string()])
        .arg(&file)
        .args([&piece.to_string(), pause]);
    let mut server = Server::spawn(&mut cmd);
    assert_eq!(server.next_line(), "listening");
    (server, root)
}
