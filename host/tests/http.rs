//! `tcplink-host serve-http`, checked with raw sockets so the headers are seen as sent.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;

use common::*;

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("tcplink-host-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic pseudo-random bytes (xorshift64), so a failure is reproducible.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Starts serve-http and returns it with its address and its stderr lines (after the banner).
fn serve_http(root: &PathBuf, chunked: bool) -> (ChildGuard, SocketAddr, Receiver<String>) {
    serve_http_on("127.0.0.1", root, chunked)
}

/// [`serve_http`] listening on `ip`.
fn serve_http_on(
    ip: &str,
    root: &PathBuf,
    chunked: bool,
) -> (ChildGuard, SocketAddr, Receiver<String>) {
    let addr = free_addr_on(ip);
    let mut cmd = Command::new(BIN);
    cmd.args(["serve-http", "--listen", &addr.to_string(), "--root"])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if chunked {
        cmd.arg("--chunked");
    }
    let mut server = ChildGuard::spawn(&mut cmd);
    let err = server.0.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let banner = rx
        .recv_timeout(DEADLINE)
        .expect("serve-http printed nothing");
    assert!(banner.starts_with("serving "), "{banner:?}");
    (server, addr, rx)
}

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Sends a raw request line with `Connection: close` and reads until the server closes.
fn get(addr: SocketAddr, target: &str) -> Reply {
    let mut s = TcpStream::connect_timeout(&addr, DEADLINE).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s.set_write_timeout(Some(DEADLINE)).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    // Ends only at EOF: this also checks the server honours `Connection: close`.
    s.read_to_end(&mut raw)
        .expect("read until the server closes");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_ascii_lowercase(), v.trim().to_string())
        })
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// Decodes a chunked body strictly: every size line, every chunk's CRLF, the final 0 chunk.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("size line");
        let size_line = std::str::from_utf8(&data[..eol]).unwrap();
        let size_hex = size_line.split(';').next().unwrap().trim();
        let size = usize::from_str_radix(size_hex, 16).expect("hex chunk size");
        data = &data[eol + 2..];
        if size == 0 {
            // No trailers from tiny_http: just the final CRLF.
            assert_eq!(data, b"\r\n", "bad chunked trailer");
            return out;
        }
        out.extend_from_slice(&data[..size]);
        assert_eq!(&data[size..size + 2], b"\r\n", "chunk not followed by CRLF");
        data = &data[size + 2..];
    }
}

const MIB: usize = 1024 * 1024;

#[test]
fn fixed_length_file_is_identical() {
    let dir = TempDir::new("http-fixed");
    let content = random_bytes(MIB, 0x1234_5678);
    std::fs::write(dir.0.join("random.bin"), &content).unwrap();
    let (_server, addr, log) = serve_http(&dir.0, false);

    let r = get(addr, "/random.bin");
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("content-length"), Some(&MIB.to_string()));
    assert_eq!(r.headers.get("transfer-encoding"), None);
    assert!(r.body == content, "body differs");

    let line = log.recv_timeout(DEADLINE).expect("no log line");
    assert!(
        line.ends_with("\"GET /random.bin HTTP/1.1\" 200 1048576"),
        "{line:?}"
    );
}

/// `serve-http --listen [::1]:PORT`: a file over IPv6, byte-identical, and the banner names
/// the address in brackets.
#[test]
fn file_over_ipv6_is_identical() {
    let dir = TempDir::new("http-v6");
    let content = random_bytes(MIB, 0x6666);
    std::fs::write(dir.0.join("random.bin"), &content).unwrap();
    let (_server, addr, log) = serve_http_on("::1", &dir.0, false);
    assert!(addr.is_ipv6());

    let r = get(addr, "/random.bin");
    assert_eq!(r.status, 200);
    assert!(r.body == content, "body differs");
    let line = log.recv_timeout(DEADLINE).expect("no log line");
    assert!(line.starts_with("[::1]:"), "{line:?}");
    assert!(
        line.ends_with("\"GET /random.bin HTTP/1.1\" 200 1048576"),
        "{line:?}"
    );
}

#[test]
fn chunked_file_is_identical() {
    let dir = TempDir::new("http-chunked");
    let content = random_bytes(MIB + 7, 0xdead_beef);
    std::fs::write(dir.0.join("random.bin"), &content).unwrap();
    let (_server, addr, _log) = serve_http(&dir.0, true);

    let r = get(addr, "/random.bin");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers.get("transfer-encoding").map(String::as_str),
        Some("chunked")
    );
    assert_eq!(r.headers.get("content-length"), None);
    assert!(dechunk(&r.body) == content, "decoded body differs");
}

#[test]
fn small_and_empty_files_keep_their_mode() {
    let dir = TempDir::new("http-small");
    std::fs::write(dir.0.join("index.html"), b"<p>hi</p>\n").unwrap();
    std::fs::write(dir.0.join("empty.txt"), b"").unwrap();
    let (_fixed, addr, _log) = serve_http(&dir.0, false);
    let r = get(addr, "/");
    assert_eq!((r.status, r.body.as_slice()), (200, &b"<p>hi</p>\n"[..]));
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("text/html; charset=utf-8")
    );
    let r = get(addr, "/empty.txt");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers.get("content-length").map(String::as_str),
        Some("0")
    );
    assert!(r.body.is_empty());

    let (_chunked, addr, _log) = serve_http(&dir.0, true);
    let r = get(addr, "/index.html");
    assert_eq!(
        r.headers.get("transfer-encoding").map(String::as_str),
        Some("chunked")
    );
    assert_eq!(dechunk(&r.body), b"<p>hi</p>\n");
}

#[test]
fn missing_is_404_and_dotdot_is_rejected() {
    let dir = TempDir::new("http-reject");
    std::fs::create_dir_all(dir.0.join("pub")).unwrap();
    std::fs::write(dir.0.join("pub/ok.txt"), b"ok").unwrap();
    // A file next to the served root that `..` would reach.
    std::fs::write(dir.0.join("secret.txt"), b"secret").unwrap();
    let (_server, addr, log) = serve_http(&dir.0.join("pub"), false);

    assert_eq!(get(addr, "/ok.txt").body, b"ok");
    assert_eq!(get(addr, "/missing.txt").status, 404);
    for target in [
        "/../secret.txt",
        "/x/../../secret.txt",
        "/%2e%2e/secret.txt",
    ] {
        let r = get(addr, target);
        assert_eq!(r.status, 403, "{target}");
        assert!(
            !r.body.windows(6).any(|w| w == b"secret"),
            "{target} leaked"
        );
    }
    let mut lines = Vec::new();
    while lines.len() < 5 {
        lines.push(
            log.recv_timeout(DEADLINE)
                .expect("one log line per request"),
        );
    }
    // Each request's thread logs after it has answered, so the lines may come in any order.
    let count = |end: &str| lines.iter().filter(|l| l.ends_with(end)).count();
    assert_eq!(count("\"GET /ok.txt HTTP/1.1\" 200 2"), 1, "{lines:?}");
    assert_eq!(count("\"GET /missing.txt HTTP/1.1\" 404 0"), 1, "{lines:?}");
    assert_eq!(count(" 403 0"), 3, "{lines:?}");
}
