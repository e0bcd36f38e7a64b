//! `tcplink-tap get` and `run --get` on a real TAP in a test's own namespace, against kernel
//! HTTP servers there: whole files by Content-Length and chunked, failures that leave no
//! file, and DHCP + DNS from dnsmasq.

mod common;

use std::path::Path;

use common::*;

/// Bytes served in the download tests.
const SIZE: usize = 5 * 1024 * 1024;

/// A directory with `file`, SIZE random bytes, and its SHA-256.
fn web_root() -> (tempfile::TempDir, String) {
    let root = tempfile::tempdir().unwrap();
    let data = random_bytes(SIZE);
    std::fs::write(root.path().join("file"), &data).unwrap();
    (root, sha256_hex(&data))
}

/// `python3 -m http.server` on HOST_IP:`port` serving `root`.
fn python_http(lab: &Lab, root: &Path, port: u16) -> ChildGuard {
    let mut cmd = lab.cmd("python3");
    cmd.args([
        "-m",
        "http.server",
        "--bind",
        HOST_IP,
        &port.to_string(),
        "--directory",
    ])
    .arg(root)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let server = ChildGuard::spawn(&mut cmd);
    wait_listening(lab, HOST_IP, port);
    server
}

/// A 5 MiB file from Python's http.server (Content-Length) arrives intact; stdout has the
/// head and the size. Frames through io_uring, then through read(2)/write(2).
#[test]
fn get_five_mib_from_python_http_server() {
    get_five_mib("getpy", "uring");
}

#[test]
fn get_five_mib_from_python_http_server_read_write() {
    get_five_mib("getpy-rw", "read-write");
}

fn get_five_mib(test: &str, io: &'static str) {
    let Some(lab) = Lab::new(test, &["python3", "ethtool"]) else {
        return;
    };
    let lab = lab.with_io(io);
    let (root, sha) = web_root();
    let _http = python_http(&lab, root.path(), 8000);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");

    let url = format!("http://{HOST_IP}:8000/file");
    let frames = || -> u64 { lab.tap_sysfs("statistics/tx_packets").parse().unwrap() };
    let frames_before = frames();
    let out = lab.run(
        lab.tap(&STATIC_NET)
            .args(["get", &url, "-o"])
            .arg(&out_file),
    );
    let frames_in = frames() - frames_before;
    let stdout = success(&out);
    // Segmentation offload: the host's TCP sent the body in frames far above the 1500-byte
    // MTU (without it: about 3,600 frames).
    assert!(
        frames_in < (SIZE / 1500 / 4) as u64,
        "{frames_in} frames for {SIZE} bytes"
    );
    // ... and it is off again for whoever attaches next.
    let features = lab.run(lab.cmd("ethtool").args(["-k", "tap0"]));
    assert!(
        success(&features).contains("tcp-segmentation-offload: off"),
        "{}",
        success(&features)
    );
    assert!(stdout.starts_with("HTTP/1.0 200 OK\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("\nContent-Length: {SIZE}\n")),
        "{stdout}"
    );
    assert_saved(&stdout, SIZE, &out_file, &sha);
    assert_eq!(
        dir_names(out_dir.path()),
        ["saved.bin"],
        "no temporary files left"
    );
}

/// The same from `tcplink-host serve-http --chunked`, saved under the URL's name without -o.
#[test]
fn get_five_mib_chunked_from_tcplink_host() {
    let Some(lab) = Lab::new("getchunk", &["python3"]) else {
        return;
    };
    let (root, sha) = web_root();
    let listen = format!("{HOST_IP}:8080");
    let mut cmd = lab.cmd(host_bin());
    cmd.args(["serve-http", "--root"])
        .arg(root.path())
        .args(["--listen", &listen, "--chunked"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _http = ChildGuard::spawn(&mut cmd);
    wait_listening(&lab, HOST_IP, 8080);
    let out_dir = tempfile::tempdir().unwrap();

    let url = format!("http://{listen}/file");
    let out = lab.run(
        lab.tap(&STATIC_NET)
            .args(["get", &url])
            .current_dir(out_dir.path()),
    );
    let stdout = success(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert!(
        stdout.contains("\nTransfer-Encoding: chunked\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("{SIZE} bytes saved to file\n")),
        "{stdout}"
    );
    assert_eq!(sha256_file(&out_dir.path().join("file")), sha);
    assert_eq!(dir_names(out_dir.path()), ["file"]);
}

/// A server that promises more than it sends, then closes (or stalls, with `stall`).
const SHORT_SERVER: &str = r#"
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
print('listening', flush=True)
c, _ = s.accept()
c.recv(4096)
c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n' + b'x' * 1000)
if sys.argv[3] == 'stall':
    time.sleep(30)
c.close()
"#;

fn short_server(lab: &Lab, port: u16, mode: &str) -> Server {
    let mut cmd = lab.cmd("python3");
    cmd.args(["-c", SHORT_SERVER, HOST_IP, &port.to_string(), mode]);
    let mut server = Server::spawn(&mut cmd);
    assert_eq!(server.next_line(), "listening");
    server
}

/// A refused connection, a body cut short, and an https:// URL each fail with one line on
/// stderr, a non-zero status and no output file (temporary or final).
#[test]
fn failed_gets_leave_no_file() {
    let Some(lab) = Lab::new("getfail", &["python3"]) else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("out");
    let get = |url: &str| {
        let mut cmd = lab.tap(&STATIC_NET);
        cmd.args(["get", url, "-o"]).arg(&out_file);
        lab.run(&mut cmd)
    };

    let err = one_error_line(&get(&format!("http://{HOST_IP}:8001/file")));
    assert!(err.contains("connection refused"), "{err}");
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());

    let _server = short_server(&lab, 8002, "close");
    let out = get(&format!("http://{HOST_IP}:8002/file"));
    let err = one_error_line(&out);
    assert!(
        err.contains("body truncated: 1000 of 1000000 bytes"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("HTTP/1.1 200 OK\n"),
        "the head is shown: {stdout}"
    );
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());

    // https:// is fetched now (tests/https.rs); nothing listens on 443 here.
    let err = one_error_line(&get(&format!("https://{HOST_IP}/")));
    assert!(err.contains("connection refused"), "{err}");
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());
}

/// SIGTERM in the middle of a download: non-zero, one line, no file.
#[test]
fn interrupted_get_leaves_no_file() {
    let Some(lab) = Lab::new("getint", &["python3"]) else {
        return;
    };
    let _server = short_server(&lab, 8003, "stall");
    let out_dir = tempfile::tempdir().unwrap();
    let url = format!("http://{HOST_IP}:8003/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"])
        .arg(out_dir.path().join("out"));
    let mut get = Server::spawn(&mut cmd);
    assert_eq!(get.next_line(), "HTTP/1.1 200 OK");
    // The head is out, the body is stalled: stop it.
    let (status, stderr) = get.terminate();
    assert!(
        !status.success(),
        "an interrupted download must not succeed"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());
}

/// `--timeout-s`: a server that stalls mid-body fails the GET in time (idle timeout), leaving
/// no file.
#[test]
fn stalled_get_times_out() {
    let Some(lab) = Lab::new("gettime", &["python3"]) else {
        return;
    };
    let _server = short_server(&lab, 8004, "stall");
    let out_dir = tempfile::tempdir().unwrap();
    let url = format!("http://{HOST_IP}:8004/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "--timeout-s", "1", "-o"])
        .arg(out_dir.path().join("out"));
    let started = std::time::Instant::now();
    let err = one_error_line(&lab.run(&mut cmd));
    assert!(
        err.contains("timed out: nothing received for 1 s (--timeout-s)"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());
}

/// dnsmasq on tap0: DHCP for 192.168.69.50-60 and `files.test` → HOST_IP.
fn dnsmasq(lab: &Lab, state: &Path) -> ChildGuard {
    let mut cmd = lab.cmd("dnsmasq");
    cmd.args(tcplink_host::dnsmasq::args("tap0", state))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let dnsmasq = ChildGuard::spawn(&mut cmd);
    wait_listening(lab, HOST_IP, 53);
    dnsmasq
}

/// `tcplink-tap --dhcp get http://files.test:8000/file -o OUT`, not yet run.
fn dhcp_get(lab: &Lab, out_file: &Path) -> std::process::Command {
    let mut cmd = lab.tap(&[
        "--tap",
        "tap0",
        "--dhcp",
        "get",
        "http://files.test:8000/file",
        "-o",
    ]);
    cmd.arg(out_file);
    cmd
}

/// The lease line, the head and the file of a GET by name after DHCP.
fn check_dhcp_get(out: &std::process::Output, out_file: &Path, sha: &str) {
    let stdout = success(out);
    let lease = stdout.lines().next().unwrap();
    assert!(
        lease.starts_with("DHCP: address 192.168.69.5")
            || lease.starts_with("DHCP: address 192.168.69.60"),
        "{stdout}"
    );
    assert!(
        lease.ends_with(", gateway 192.168.69.1, DNS 192.168.69.1"),
        "{stdout}"
    );
    assert!(stdout.contains("HTTP/1.0 200 OK\n"), "{stdout}");
    assert_eq!(sha256_file(out_file), sha);
}

/// `--dhcp`: the address comes from dnsmasq, and so does the name `files.test`.
#[test]
fn dhcp_and_dns_from_dnsmasq() {
    let Some(lab) = Lab::new("getdhcp", &["python3", "dnsmasq"]) else {
        return;
    };
    let (root, sha) = web_root();
    let _http = python_http(&lab, root.path(), 8000);
    let state = tempfile::tempdir().unwrap();
    let mut dnsmasq = dnsmasq(&lab, state.path());

    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("file");
    let out = lab.run(&mut dhcp_get(&lab, &out_file));
    assert!(
        dnsmasq.0.try_wait().unwrap().is_none(),
        "dnsmasq exited: {out:?}"
    );
    check_dhcp_get(&out, &out_file, &sha);
}

/// A DHCP server that answers only from the second DISCOVER on (it starts 1 s after the
/// device) still gives the device its lease well within the GET's 10 s wait for an address.
#[test]
fn dhcp_server_that_starts_late() {
    let Some(lab) = Lab::new("getdhcplate", &["python3", "dnsmasq"]) else {
        return;
    };
    let (root, sha) = web_root();
    let _http = python_http(&lab, root.path(), 8000);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("file");
    let mut get = dhcp_get(&lab, &out_file);
    let device = std::thread::spawn(move || run(&mut get, DEADLINE));
    std::thread::sleep(std::time::Duration::from_secs(1));
    let state = tempfile::tempdir().unwrap();
    let _dnsmasq = dnsmasq(&lab, state.path());
    let out = device.join().expect("the device thread");
    check_dhcp_get(&out, &out_file, &sha);
}

/// `run --get`: the server answers a client while the download runs; SIGTERM ends it with 0.
#[test]
fn run_serves_and_fetches() {
    let Some(lab) = Lab::new("run", &["python3"]) else {
        return;
    };
    let (root, sha) = web_root();
    let _http = python_http(&lab, root.path(), 8000);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("file");
    let url = format!("http://{HOST_IP}:8000/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["run", "--sockets", "4", "--get", &url, "-o"])
        .arg(&out_file);
    let mut run = Server::spawn(&mut cmd);
    assert_eq!(run.next_line(), "Waiting for connection...");

    let out = lab.run(
        lab.cmd(host_bin())
            .args(["greet", &format!("{DEVICE_IP}:9999")]),
    );
    assert_eq!(success(&out), TRANSCRIPT);
    // Both the server's lines and the download's, in whatever order they interleave.
    let saved = format!("{SIZE} bytes saved to {}", out_file.display());
    for _ in 0..64 {
        let seen = &run.seen;
        let done = seen.contains(&saved) && seen.iter().any(|l| closed(l).is_some());
        if done {
            break;
        }
        run.next_line();
    }
    assert!(
        run.seen.iter().any(|l| accepted(l).is_some()),
        "{:?}",
        run.seen
    );
    assert!(run.seen.contains(&saved), "{:?}", run.seen);
    assert_eq!(sha256_file(&out_file), sha);
    let stderr = run.stop();
    assert_eq!(stderr, "");
}
