//! `tcplink-host greet` against the seed's own server (when `TCPLINK_SEED_DIR` has it) and
//! against `serve-greeting`, the project's own peer, which covers the same on a clone alone.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use tcplink_host::prereq::{require_programs, require_seed_script};

fn greet(addr: &str, extra: &[&str]) -> std::process::Output {
    run(
        Command::new(BIN).args(["greet", addr]).args(extra),
        DEADLINE,
    )
}

#[test]
fn greet_matches_seed_client_against_seed_server() {
    let test = "greet_matches_seed_client_against_seed_server";
    if !require_programs(test, &["python3"]) {
        return;
    }
    let Some(seed_server) = require_seed_script(test, "tcp_server.py") else {
        return;
    };
    let Some(seed_client) = require_seed_script(test, "tcp_client.py") else {
        return;
    };
    let (_server, addr, _lines) = serve_seed(&seed_server);

    let ours = greet(&addr.to_string(), &[]);
    assert!(ours.status.success(), "greet failed: {ours:?}");
    let seed = run(
        Command::new("python3")
            .arg(seed_client)
            .args(["127.0.0.1", &addr.port().to_string()]),
        DEADLINE,
    );
    assert!(seed.status.success(), "seed client failed: {seed:?}");

    assert_eq!(String::from_utf8_lossy(&ours.stdout), TRANSCRIPT);
    assert_eq!(ours.stdout, seed.stdout);
}

#[test]
fn greet_against_serve_greeting_gives_seed_transcript_and_logs() {
    let (_server, addr, lines) = serve_greeting(&[]);
    let out = greet(&addr.to_string(), &[]);
    assert!(out.status.success(), "greet failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT);

    let accept = lines.recv_timeout(DEADLINE).expect("no accept line");
    let close = lines.recv_timeout(DEADLINE).expect("no close line");
    let peer = accept
        .strip_prefix("Accept new connection from 127.0.0.1:")
        .and_then(|s| s.strip_suffix("..."))
        .unwrap_or_else(|| panic!("bad accept line {accept:?}"));
    assert!(peer.parse::<u16>().is_ok(), "bad port in {accept:?}");
    assert_eq!(close, format!("Connection from 127.0.0.1:{peer} close."));
}

/// Over IPv6: the seed's transcript, and the log names the peer `[::1]:PORT`.
#[test]
fn greet_over_ipv6_gives_seed_transcript_and_bracketed_logs() {
    let (_server, addr, lines) = serve_greeting_on("::1", &[]);
    let spec = addr.to_string();
    assert!(spec.starts_with("[::1]:"), "{spec}");
    let out = greet(&spec, &[]);
    assert!(out.status.success(), "greet failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT);

    let accept = lines.recv_timeout(DEADLINE).expect("no accept line");
    let close = lines.recv_timeout(DEADLINE).expect("no close line");
    let peer = accept
        .strip_prefix("Accept new connection from [::1]:")
        .and_then(|s| s.strip_suffix("..."))
        .unwrap_or_else(|| panic!("bad accept line {accept:?}"));
    assert!(peer.parse::<u16>().is_ok(), "bad port in {accept:?}");
    assert_eq!(close, format!("Connection from [::1]:{peer} close."));
}

/// Listening on `[::]` serves both families; an IPv4 client is logged as the seed logs it,
/// not as `::ffff:127.0.0.1`.
#[test]
fn serve_greeting_on_the_unspecified_ipv6_address_serves_both_families() {
    let (_server, addr, lines) = serve_greeting_on("::", &[]);
    for (client, logged) in [("127.0.0.1", "127.0.0.1"), ("[::1]", "[::1]")] {
        let out = greet(&format!("{client}:{}", addr.port()), &["Zoë"]);
        assert!(out.status.success(), "greet via {client} failed: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Welcome\nHello, Zoë!\n"
        );
        let accept = lines.recv_timeout(DEADLINE).expect("no accept line");
        let prefix = format!("Accept new connection from {logged}:");
        assert!(accept.starts_with(&prefix), "{accept:?} (want {prefix}...)");
        let close = lines.recv_timeout(DEADLINE).expect("no close line");
        assert!(
            close.starts_with(&format!("Connection from {logged}:")),
            "{close:?}"
        );
    }
}

/// An IPv6 address without brackets is refused with the reason, not read as another port.
#[test]
fn greet_refuses_an_unbracketed_ipv6_address() {
    let out = greet("::1:9999", &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[fd00:69::2]:9999"), "stderr: {err:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn greet_sends_given_names() {
    let (_server, addr, _lines) = serve_greeting(&[]);
    let out = greet(&addr.to_string(), &["Zoë", "two words"]);
    assert!(out.status.success(), "greet failed: {out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Welcome\nHello, Zoë!\nHello, two words!\n"
    );
}

#[test]
fn serve_greeting_delay_applies_per_message() {
    let (_server, addr, _lines) = serve_greeting(&["--delay-ms", "200"]);
    let t0 = Instant::now();
    let out = greet(&addr.to_string(), &["A", "B"]);
    assert!(out.status.success(), "greet failed: {out:?}");
    // Two replies, each after a 200 ms sleep.
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn greet_to_closed_port_fails_with_refused() {
    let addr = free_addr(); // nothing listens there any more
    let out = greet(&addr.to_string(), &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused"), "stderr: {err:?}");
    assert!(err.contains(&addr.to_string()), "stderr: {err:?}");
    assert_eq!(err.lines().count(), 1, "stderr: {err:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn greet_times_out_on_a_silent_server() {
    // Accepts (through the kernel backlog) but never sends the welcome.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t0 = Instant::now();
    let out = greet(&addr.to_string(), &["--timeout-s", "1"]);
    assert!(!out.status.success());
    assert!(t0.elapsed() < Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timed out"), "stderr: {err:?}");
    drop(listener);
}

#[test]
fn greet_prints_what_the_server_sends_even_if_unexpected() {
    // The seed client prints whatever one recv returns; so do we (no reply checking here).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.write_all(b"Hi \xff").unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"Q");
        s.write_all(b"R").unwrap();
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"exit");
    });
    let out = greet(&addr.to_string(), &["Q"]);
    assert!(out.status.success(), "greet failed: {out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Hi \u{fffd}\nR\n");
    server.join().unwrap();
}
