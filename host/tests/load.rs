//! `tcplink-host load` and the `run_load` library function.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::*;
use tcplink_host::{run_load, GreetingServer, LoadConfig};

#[test]
fn load_cli_against_serve_greeting_json() {
    let (_server, addr, _lines) = serve_greeting(&[]);
    let out = run(
        Command::new(BIN).args([
            "load",
            &addr.to_string(),
            "--clients",
            "4",
            "--duration-s",
            "20",
            "--max-sessions",
            "200",
            "--json",
        ]),
        DEADLINE,
    );
    assert!(out.status.success(), "load failed: {out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(v["sessions"], 200, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["clients"], 4);
    assert!(v["sessions_per_s"].as_f64().unwrap() > 0.0);
    let p50 = v["latency_p50_us"].as_u64().unwrap();
    let p99 = v["latency_p99_us"].as_u64().unwrap();
    let max = v["latency_max_us"].as_u64().unwrap();
    assert!(0 < p50 && p50 <= p99 && p99 <= max, "{v}");
}

/// `load [::1]:PORT`: every session over IPv6 succeeds.
#[test]
fn load_cli_over_ipv6() {
    let (_server, addr, _lines) = serve_greeting_on("::1", &[]);
    let out = run(
        Command::new(BIN).args([
            "load",
            &addr.to_string(),
            "--clients",
            "2",
            "--max-sessions",
            "20",
            "--json",
        ]),
        DEADLINE,
    );
    assert!(out.status.success(), "load failed: {out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(v["sessions"], 20, "{v}");
    assert_eq!(v["errors"], 0, "{v}");
}

#[test]
fn load_cli_prints_a_table() {
    let (_server, addr, _lines) = serve_greeting(&[]);
    let out = run(
        Command::new(BIN).args([
            "load",
            &addr.to_string(),
            "--clients",
            "2",
            "--max-sessions",
            "20",
        ]),
        DEADLINE,
    );
    assert!(out.status.success(), "load failed: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for key in [
        "sessions      20\n",
        "errors        0\n",
        "sessions/s",
        "latency p99",
    ] {
        assert!(text.contains(key), "{key:?} missing in\n{text}");
    }
}

#[test]
fn run_load_in_process_is_bounded_by_duration() {
    let server = GreetingServer::bind("127.0.0.1:0".parse().unwrap(), Duration::ZERO)
        .unwrap()
        .with_log(false)
        .spawn()
        .unwrap();
    let config = LoadConfig {
        clients: 3,
        duration: Duration::from_millis(300),
        ..LoadConfig::new(server.local_addr())
    };
    let report = run_load(&config).unwrap();
    assert_eq!(report.errors, 0, "{report:?}");
    assert!(report.sessions > 0);
    assert!(
        report.elapsed_s >= 0.3 && report.elapsed_s < 10.0,
        "{report:?}"
    );
    server.stop().unwrap();
}

#[test]
fn wrong_replies_count_as_errors() {
    // A server that answers in the wrong case: every session must fail its check.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        for _ in 0..5 {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(DEADLINE)).unwrap();
            s.write_all(b"Welcome").unwrap();
            let mut buf = [0u8; 64];
            let n = s.read(&mut buf).unwrap();
            let name = String::from_utf8_lossy(&buf[..n]).to_lowercase();
            s.write_all(format!("Hello, {name}!").as_bytes()).unwrap();
        }
    });
    let config = LoadConfig {
        max_sessions: Some(5),
        ..LoadConfig::new(addr)
    };
    let report = run_load(&config).unwrap();
    server.join().unwrap();
    assert_eq!((report.sessions, report.errors), (0, 5), "{report:?}");
    assert!(
        report.error_samples[0].contains("expected \"Hello, Alice!\", got \"Hello, alice!\""),
        "{report:?}"
    );
}

#[test]
fn load_cli_against_nothing_reports_errors_and_fails() {
    let addr = free_addr();
    let out = run(
        Command::new(BIN).args(["load", &addr.to_string(), "--max-sessions", "3", "--json"]),
        DEADLINE,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["sessions"].as_u64(), v["errors"].as_u64()),
        (Some(0), Some(3))
    );
    assert!(v["error_samples"][0].as_str().unwrap().contains("refused"));
}

#[test]
fn load_rejects_unbounded_settings() {
    let addr = free_addr().to_string();
    for args in [
        ["--clients", "1025"],
        ["--duration-s", "601"],
        ["--clients", "0"],
    ] {
        let out = run(Command::new(BIN).args(["load", &addr]).args(args), DEADLINE);
        assert!(!out.status.success(), "{args:?} accepted");
    }
}

/// A scripted greeting server on 127.0.0.1 for one session: `script` runs on the accepted
/// stream (read timeouts set), and the thread returns when it is done.
fn one_session_server(
    script: impl FnOnce(std::net::TcpStream) + Send + 'static,
) -> (std::net::SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        s.set_nodelay(true).unwrap();
        script(s);
    });
    (addr, server)
}

#[test]
fn replies_split_across_segments_are_not_errors() {
    // Every reply in two writes with a pause between: TCP delivers them as separate reads.
    let (addr, server) = one_session_server(|mut s| {
        let say = |s: &mut std::net::TcpStream, text: &[u8]| {
            let (a, b) = text.split_at(3);
            s.write_all(a).unwrap();
            thread::sleep(Duration::from_millis(20));
            s.write_all(b).unwrap();
        };
        say(&mut s, b"Welcome");
        let mut buf = [0u8; 64];
        for name in ["Alice", "Bob", "Jack"] {
            let n = s.read(&mut buf).unwrap();
            assert_eq!(&buf[..n], name.as_bytes());
            say(&mut s, format!("Hello, {name}!").as_bytes());
        }
        let n = s.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"exit");
    });
    let config = LoadConfig {
        max_sessions: Some(1),
        ..LoadConfig::new(addr)
    };
    let report = run_load(&config).unwrap();
    server.join().unwrap();
    assert_eq!((report.sessions, report.errors), (1, 0), "{report:?}");
}

#[test]
fn a_silent_server_times_out_with_a_clear_error() {
    // Accepts, then says nothing until the client gives up.
    let (addr, server) = one_session_server(|mut s| {
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
    });
    let config = LoadConfig {
        max_sessions: Some(1),
        op_timeout: Duration::from_millis(300),
        ..LoadConfig::new(addr)
    };
    let began = std::time::Instant::now();
    let report = run_load(&config).unwrap();
    let took = began.elapsed();
    server.join().unwrap();
    assert_eq!((report.sessions, report.errors), (0, 1), "{report:?}");
    assert_eq!(
        report.error_samples,
        [format!(
            "timed out after 0.3 s waiting for data from {addr}"
        )]
    );
    assert!(
        took >= Duration::from_millis(300) && took < DEADLINE,
        "{took:?}"
    );
}

#[test]
fn clients_share_the_session_limit_exactly() {
    // More clients than sessions: the limit holds, and clients that get none just finish.
    let (_server, addr, _lines) = serve_greeting(&[]);
    let config = LoadConfig {
        clients: 16,
        max_sessions: Some(10),
        ..LoadConfig::new(addr)
    };
    let report = run_load(&config).unwrap();
    assert_eq!((report.sessions, report.errors), (10, 0), "{report:?}");
}
