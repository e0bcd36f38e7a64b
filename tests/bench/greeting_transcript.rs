//! The exact-transcript test every greeting contender of tcplink-bench passes (included by
//! each contender crate's tests/transcript.rs): the contender serves on a TAP in a
//! namespace of its own, and `tcplink-host greet` (the seed client) gets the seed's output
//! twice, while the contender prints the seed server's log lines for each session.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use tcplink_host::child::{run, ChildGuard};
use tcplink_host::netns::{require_privileges, Namespace, DEVICE_IP, HOST_IP};

/// The seed client's exact output.
const TRANSCRIPT: &str = "Welcome\nHello, Alice!\nHello, Bob!\nHello, Jack!\n";
/// No single wait may take longer than this.
const DEADLINE: Duration = Duration::from_secs(20);

/// `tcplink-host` next to `bin` (same target directory and profile), as the TAP tests find
/// it: `cargo test --workspace` builds it (a build from inside a test would wait on cargo's
/// own lock).
fn host_bin(bin: &Path) -> PathBuf {
    let host = bin.with_file_name("tcplink-host");
    assert!(
        host.exists(),
        "{} is missing: build it first with `cargo build -p tcplink-host` (same profile), or \
         run `cargo test --workspace`",
        host.display()
    );
    host
}

fn next_line(lines: &Receiver<String>, seen: &[String]) -> String {
    lines
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("no stdout line ({e}) after {seen:?}"))
}

/// Serves with `bin --tap tap0 --ip 192.168.69.2/24 serve` in namespace `tt-<test>-<pid>`
/// and checks two seed sessions against it.
pub fn seed_transcript(test: &str, bin: &str) {
    if !require_privileges(test) {
        return;
    }
    let bin = Path::new(bin);
    let host = host_bin(bin);
    let name = format!("tt-{test}-{}", std::process::id());
    let ns = Namespace::create(&name, "tap0").unwrap_or_else(|e| panic!("namespace {name}: {e}"));
    let mut cmd = ns.command(bin);
    cmd.args([
        "--tap",
        ns.tap(),
        "--ip",
        &format!("{DEVICE_IP}/24"),
        "serve",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut server = ChildGuard::spawn(&mut cmd);
    let out = server.0.stdout.take().expect("stdout piped");
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    seen.push(next_line(&lines, &seen));
    assert_eq!(seen[0], "Waiting for connection...");
    for _ in 0..2 {
        let mut greet = ns.command(&host);
        greet.args(["greet", &format!("{DEVICE_IP}:9999")]);
        let out = run(&mut greet, DEADLINE);
        assert!(out.status.success(), "greet failed: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT);
        let accept = next_line(&lines, &seen);
        seen.push(accept.clone());
        let peer = accept
            .strip_prefix("Accept new connection from ")
            .and_then(|rest| rest.strip_suffix("..."))
            .unwrap_or_else(|| panic!("not an accept line: {accept:?}"))
            .to_string();
        assert!(peer.starts_with(&format!("{HOST_IP}:")), "{accept}");
        let close = next_line(&lines, &seen);
        seen.push(close.clone());
        assert_eq!(close, format!("Connection from {peer} close."));
    }
}
