//! The interop matrix: `tcplink-tap` against the servers and clients people run, each started
//! by the test inside its own namespace. `get` from nginx (a 5 MiB file by Content-Length, a
//! 404, and chunked through nginx as a proxy); `serve` to socat and a python3 asyncio client.
//! (python3 http.server, `tcplink-host`, dnsmasq and the seed's programs are in get.rs and
//! serve.rs.)

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;

/// Bytes served in the download tests.
const SIZE: usize = 5 * 1024 * 1024;
/// nginx's port on HOST_IP.
const NGINX_PORT: u16 = 8090;

/// nginx (sendfile on, one foreground process, everything under `prefix`) on
/// HOST_IP:NGINX_PORT with `site` as its server body, once it accepts connections.
fn nginx(lab: &Lab, prefix: &Path, site: &str) -> ChildGuard {
    let listen = format!("{HOST_IP}:{NGINX_PORT}");
    let args = tcplink_host::nginx::prepare(prefix, &[&listen], site).unwrap();
    let mut cmd = lab.cmd("nginx");
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let server = ChildGuard::spawn(&mut cmd);
    wait_listening(lab, HOST_IP, NGINX_PORT);
    server
}

/// nginx serving `www/file` (SIZE random bytes) from a new prefix: the prefix and the SHA-256.
fn nginx_with_file(lab: &Lab) -> (ChildGuard, tempfile::TempDir, String) {
    let prefix = tempfile::tempdir().unwrap();
    let www = prefix.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let data = random_bytes(SIZE);
    std::fs::write(www.join("file"), &data).unwrap();
    let site = format!("root {};", www.display());
    let server = nginx(lab, prefix.path(), &site);
    (server, prefix, sha256_hex(&data))
}

/// 5 MiB from nginx (sendfile, Content-Length) arrive byte-identical.
#[test]
fn get_five_mib_from_nginx() {
    let Some(lab) = Lab::new("ngxget", &["nginx", "python3"]) else {
        return;
    };
    let (_nginx, _prefix, sha) = nginx_with_file(&lab);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    let url = format!("http://{HOST_IP}:{NGINX_PORT}/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"]).arg(&out_file);
    let stdout = success(&lab.run(&mut cmd));
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert!(stdout.contains("\nServer: nginx/"), "{stdout}");
    assert!(
        stdout.contains(&format!("\nContent-Length: {SIZE}\n")),
        "{stdout}"
    );
    assert_saved(&stdout, SIZE, &out_file, &sha);
    assert_eq!(dir_names(out_dir.path()), ["saved.bin"]);
}

/// nginx's 404 is an error naming the status, and no file (temporary or final) is left.
#[test]
fn nginx_404_is_an_error_and_no_file() {
    let Some(lab) = Lab::new("ngx404", &["nginx", "python3"]) else {
        return;
    };
    let (_nginx, _prefix, _) = nginx_with_file(&lab);
    let out_dir = tempfile::tempdir().unwrap();
    let url = format!("http://{HOST_IP}:{NGINX_PORT}/missing");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"])
        .arg(out_dir.path().join("out"));
    let out = lab.run(&mut cmd);
    let err = one_error_line(&out);
    assert!(err.contains("404"), "{err}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.1 404 Not Found\n"),
        "{out:?}"
    );
    assert_eq!(dir_names(out_dir.path()), Vec::<String>::new());
}

/// nginx as a proxy in front of an upstream that sends no Content-Length
/// (`tcplink-host serve-http --chunked`): nginx re-chunks the body itself and 5 MiB arrive
/// byte-identical.
#[test]
fn get_five_mib_chunked_through_nginx_proxy() {
    let Some(lab) = Lab::new("ngxchunk", &["nginx", "python3"]) else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let data = random_bytes(SIZE);
    std::fs::write(root.path().join("file"), &data).unwrap();
    let upstream = format!("{HOST_IP}:8091");
    let mut cmd = lab.cmd(host_bin());
    cmd.args(["serve-http", "--root"])
        .arg(root.path())
        .args(["--listen", &upstream, "--chunked"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _upstream = ChildGuard::spawn(&mut cmd);
    wait_listening(&lab, HOST_IP, 8091);
    let prefix = tempfile::tempdir().unwrap();
    let site = format!(
        "location / {{ proxy_pass http://{upstream}; proxy_http_version 1.1; \
         chunked_transfer_encoding on; }}"
    );
    let _nginx = nginx(&lab, prefix.path(), &site);

    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    let url = format!("http://{HOST_IP}:{NGINX_PORT}/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"]).arg(&out_file);
    let stdout = success(&lab.run(&mut cmd));
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert!(stdout.contains("\nServer: nginx/"), "{stdout}");
    assert!(
        stdout.contains("\nTransfer-Encoding: chunked\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("Content-Length"), "{stdout}");
    assert_saved(&stdout, SIZE, &out_file, &sha256_hex(&data));
    assert_eq!(dir_names(out_dir.path()), ["saved.bin"]);
}

/// Asserts the server's accept and close lines name the same client at HOST_IP.
fn check_session_lines(server: &mut Server) {
    let accept = server.next_line();
    let (ip, port) = accepted(&accept).unwrap_or_else(|| panic!("not an accept line: {accept}"));
    assert_eq!(ip, HOST_IP);
    assert_eq!(closed(&server.next_line()), Some((ip, port)));
}

/// socat sends `Alice\nBob\nexit\n` in one go (lines, as a terminal user types them) and
/// gets the welcome and both replies, then the server closes the session.
#[test]
fn socat_lines_get_the_greetings() {
    let Some(lab) = Lab::new("socat", &["socat"]) else {
        return;
    };
    let mut server = lab.serve(&STATIC_NET, &[]);
    // -t 5: after its stdin ends, wait up to 5 s for the server's side (it closes at `exit`).
    let script = r"printf 'Alice\nBob\nexit\n' | socat -t 5 - TCP:$1,connect-timeout=5";
    let addr = format!("{DEVICE_IP}:9999");
    let out = lab.run(lab.cmd("sh").args(["-c", script, "sh", &addr]));
    assert_eq!(success(&out), "WelcomeHello, Alice!Hello, Bob!");
    check_session_lines(&mut server);
    server.stop();
}

/// The seed client's conversation written with asyncio streams, one message per write.
const ASYNCIO_CLIENT: &str = r#"
import asyncio, sys

async def main(host, port):
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    print((await asyncio.wait_for(reader.read(1024), 5)).decode())
    for name in (b'Alice', b'Bob', b'Jack'):
        writer.write(name)
        await writer.drain()
        print((await asyncio.wait_for(reader.read(1024), 5)).decode())
    writer.write(b'exit')
    await writer.drain()
    rest = await asyncio.wait_for(reader.read(1024), 5)
    assert rest == b'', rest
    writer.close()
    await writer.wait_closed()

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"#;

/// A python3 asyncio client gets the seed's transcript, and the server closes after `exit`.
#[test]
fn python_asyncio_client_gets_the_seed_transcript() {
    let Some(lab) = Lab::new("asyncio", &["python3"]) else {
        return;
    };
    let mut server = lab.serve(&STATIC_NET, &[]);
    let out = lab.run(
        lab.cmd("python3")
            .args(["-c", ASYNCIO_CLIENT, DEVICE_IP, "9999"]),
    );
    assert_eq!(success(&out), TRANSCRIPT);
    check_session_lines(&mut server);
    server.stop();
}
