//! How a `tcplink-tap get` is bounded, on a real TAP in a test's own namespace: `--timeout-s`
//! is an idle timeout (a slow download that keeps going succeeds), `--max-time` bounds the
//! whole fetch; and `-o -` writes exactly the body to stdout.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::*;

/// `tcplink-tap get http://HOST_IP:port/file ARGS -o out_dir/out`, run to its end.
fn get(lab: &Lab, port: u16, args: &[&str], out_dir: &Path) -> Output {
    let url = format!("http://{HOST_IP}:{port}/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url])
        .args(args)
        .arg("-o")
        .arg(out_dir.join("out"));
    lab.run(&mut cmd)
}

/// A body trickling in for about 3 s, never pausing for 1 s, arrives whole with
/// `--timeout-s 1`; `--max-time 2` stops the same download with its own error.
#[test]
fn timeout_is_idle_and_max_time_is_total() {
    let Some(lab) = Lab::new("getidle", &["python3"]) else {
        return;
    };
    let body = random_bytes(8_000);
    let (_server, _root) = paced_server(&lab, 8005, &body, 1_000, "0.4");
    let out_dir = tempfile::tempdir().unwrap();

    let started = Instant::now();
    let out = get(&lab, 8005, &["--timeout-s", "1"], out_dir.path());
    let took = started.elapsed();
    success(&out);
    assert!(took > Duration::from_millis(2_500), "not slow: {took:?}");
    assert_eq!(
        sha256_hex(&std::fs::read(out_dir.path().join("out")).unwrap()),
        sha256_hex(&body)
    );

    std::fs::remove_file(out_dir.path().join("out")).unwrap();
    let started = Instant::now();
    let err = one_error_line(&get(
        &lab,
        8005,
        &["--timeout-s", "1", "--max-time", "2"],
        out_dir.path(),
    ));
    let took = started.elapsed();
    assert!(err.contains("gave up after 2 s (--max-time)"), "{err}");
    assert!(took < Duration::from_millis(2_800), "{took:?}");
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());
}

/// A pause longer than `--timeout-s` fails the GET with the idle timeout, naming it.
#[test]
fn a_pause_longer_than_the_idle_timeout_fails() {
    let Some(lab) = Lab::new("getpause", &["python3"]) else {
        return;
    };
    let body = random_bytes(4_000);
    let (_server, _root) = paced_server(&lab, 8006, &body, 1_000, "2.5");
    let out_dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let err = one_error_line(&get(&lab, 8006, &["--timeout-s", "1"], out_dir.path()));
    assert!(
        err.contains("timed out: nothing received for 1 s (--timeout-s)"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_millis(2_400));
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());
}

/// `-o -`: stdout is exactly the body; the head and the size go to stderr; no file named `-`.
#[test]
fn dash_writes_the_body_to_stdout() {
    let Some(lab) = Lab::new("getstdout", &["python3"]) else {
        return;
    };
    let body = random_bytes(3 * 1024 * 1024);
    let (_server, _root) = paced_server(&lab, 8008, &body, body.len(), "0");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{HOST_IP}:8008/file");
    let out = lab.run(
        lab.tap(&STATIC_NET)
            .args(["get", &url, "-o", "-"])
            .current_dir(dir.path()),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), body.len());
    assert_eq!(sha256_hex(&out.stdout), sha256_hex(&body));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("HTTP/1.1 200 OK\n"), "{stderr}");
    assert!(
        stderr.ends_with(&format!("\n\n{} bytes saved to stdout\n", body.len())),
        "{stderr}"
    );
    assert_eq!(
        dir_names(dir.path()),
        Vec::<String>::new(),
        "no file named -"
    );
}
