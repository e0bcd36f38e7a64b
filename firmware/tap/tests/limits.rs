//! `tcplink-tap get` against what ordinary web servers send (a 2,000-character URL, a
//! 300-byte redirect Location, 4.1 KiB heads with a CSP and 12 cookies) and each way a
//! fetch can be out of reach, each told apart: on a real TAP in the test's own namespace.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Serves, one connection after another: a long-URL path → 302 to a 300-byte Location with
/// a 4.1 KiB head; the Location → 200 with a 4.1 KiB head and BODY; `/small` → 200 "ok".
const WEB_SERVER: &str = r#"
import socket, sys
BODY = b'the real web, in a file'
def head(status, extra):
    csp = ' '.join('https://cdn%d.static.example.com' % i for i in range(40))
    h = 'HTTP/1.1 %s\r\nServer: nginx\r\n%s' % (status, extra)
    h += "Content-Security-Policy: default-src 'self'; script-src 'self' %s; object-src 'none'\r\n" % csp
    for i in range(12):
        h += 'Set-Cookie: session_part_%d=%s; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax\r\n' % (i, 'Zm9vYmFy' * 16)
    return h + 'Connection: close\r\n\r\n'
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(4)
print('listening', flush=True)
location = '/final/' + 'L' * 293
while True:
    c, _ = s.accept()
    req = b''
    while b'\r\n\r\n' not in req:
        data = c.recv(65536)
        if not data:
            break
        req += data
    path = req.split(b' ')[1].decode() if b' ' in req else ''
    if path.startswith('/search?q='):
        out = head('302 Found', 'Location: %s\r\nContent-Length: 0\r\n' % location).encode()
    elif path == location:
        out = head('200 OK', 'Content-Length: %d\r\n' % len(BODY)).encode() + BODY
    elif path == '/small':
        out = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
    else:
        out = b'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'
    print('GET', len(path), flush=True)
    c.sendall(out)
    c.close()
"#;

fn web_server(lab: &Lab, port: u16) -> Server {
    let mut cmd = lab.cmd("python3");
    cmd.args(["-c", WEB_SERVER, HOST_IP, &port.to_string()]);
    let mut server = Server::spawn(&mut cmd);
    assert_eq!(server.next_line(), "listening");
    server
}

/// The defaults (URL 8 KiB, head 64 KiB, 128 headers) take ordinary traffic; a lower
/// `--max-head` is a limit with its own message.
#[test]
fn long_url_long_location_and_big_heads_work() {
    let Some(lab) = Lab::new("limits", &["python3"]) else {
        return;
    };
    let mut server = web_server(&lab, 8010);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("out");
    let prefix = format!("http://{HOST_IP}:8010/search?q=");
    let url = format!("{prefix}{}", "x".repeat(2000 - prefix.len()));
    assert_eq!(url.len(), 2000);
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"]).arg(&out_file);
    let stdout = success(&lab.run(&mut cmd));
    assert!(stdout.starts_with("HTTP/1.1 302 Found\n"), "{stdout}");
    assert!(
        stdout.contains(&format!("\nLocation: /final/{}\n", "L".repeat(293))),
        "{stdout}"
    );
    assert!(stdout.contains("\nHTTP/1.1 200 OK\n"), "{stdout}");
    assert_eq!(stdout.matches("\nSet-Cookie: session_part_").count(), 24);
    assert_eq!(
        std::fs::read(&out_file).unwrap(),
        b"the real web, in a file"
    );
    // The server saw the whole 2,000-character URL's path, then the Location.
    let path_len = 2000 - format!("http://{HOST_IP}:8010").len();
    assert_eq!(server.next_line(), format!("GET {path_len}"));
    assert_eq!(server.next_line(), "GET 300");

    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "--max-head", "2048", "-o"])
        .arg(&out_file);
    let err = one_error_line(&lab.run(&mut cmd));
    assert!(
        err.contains("response head larger than 2048 bytes"),
        "{err}"
    );
}

/// A URL over the limit: its own message, and the URL shown shortened, not 65 KB of it.
#[test]
fn an_over_long_url_is_named_and_shown_short() {
    let Some(lab) = Lab::new("longurl", &["python3"]) else {
        return;
    };
    let url = format!("http://{HOST_IP}/{}", "a".repeat(65_000));
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o", "/dev/null"]);
    let err = one_error_line(&lab.run(&mut cmd));
    assert!(err.contains("URL longer than 8192 bytes"), "{err}");
    assert!(err.contains("(65020 bytes)"), "{err}");
    assert!(err.len() < 300, "{} bytes: {err}", err.len());
}

/// Off the subnet without a gateway, a neighbour that never answers ARP, the device's own
/// address (`--ip` equal to the host's), and a dead first DNS server.
#[test]
fn unreachable_servers_are_told_apart() {
    let Some(lab) = Lab::new("reach", &["python3", "dnsmasq"]) else {
        return;
    };
    let get = |net: &[&str], url: &str| {
        let mut cmd = lab.tap(net);
        cmd.args(["get", url, "-o", "/dev/null"]);
        let started = Instant::now();
        let out = lab.run(&mut cmd);
        (out, started.elapsed())
    };

    let (out, took) = get(&STATIC_NET, "http://10.1.2.3/");
    let err = one_error_line(&out);
    assert!(err.contains("no route to 10.1.2.3"), "{err}");
    assert!(took < Duration::from_secs(3), "{took:?}");

    let (out, _) = get(&STATIC_NET, "http://192.168.69.7/");
    let err = one_error_line(&out);
    assert!(err.contains("no ARP reply from 192.168.69.7"), "{err}");

    let own = ["--tap", "tap0", "--ip", "192.168.69.1/24"];
    let (out, took) = get(&own, &format!("http://{HOST_IP}:8011/small"));
    let err = one_error_line(&out);
    assert!(
        err.contains("192.168.69.1 is this device's own address"),
        "{err}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");

    // dnsmasq answers on the host; 192.168.69.9 is nobody.
    let state = tempfile::tempdir().unwrap();
    let mut cmd = lab.cmd("dnsmasq");
    cmd.args([
        "--no-daemon",
        "--interface=tap0",
        "--bind-interfaces",
        "--address=/files.test/192.168.69.1",
        "--no-resolv",
        "--no-hosts",
        "--port=53",
    ])
    .arg(format!("--pid-file={}", state.path().join("pid").display()))
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let _dnsmasq = ChildGuard::spawn(&mut cmd);
    wait_listening(&lab, HOST_IP, 53);
    let _server = web_server(&lab, 8012);
    let mut net = STATIC_NET.to_vec();
    net.extend(["--dns", "192.168.69.9", "--dns", HOST_IP]);
    let (out, took) = get(&net, "http://files.test:8012/small");
    let stdout = success(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert!(took < Duration::from_secs(8), "{took:?}");
}
