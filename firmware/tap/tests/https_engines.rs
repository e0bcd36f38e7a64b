//! Issue 25: what each TLS engine of `tcplink-tap get https://…` talks to, on a real TAP in
//! the test's own namespace, against nginx limited to one protocol version, group or cipher
//! suite. The PKI has three levels (root → intermediate → leaf; nginx sends leaf +
//! intermediate), made by the test kit's rcgen helpers. The rustls engine (the default)
//! fetches a file byte-identical from each; the embedded engine refuses TLS 1.2 with its
//! message.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;
use tcplink_testkit::Issuer;

/// Bytes served.
const SIZE: usize = 3 * 1024 * 1024;
/// nginx's HTTPS port on HOST_IP.
const HTTPS_PORT: u16 = 8443;

/// nginx on HOST_IP:HTTPS_PORT with `tls` (its ssl_* directives) and a three-level PKI,
/// serving `/file` (SIZE random bytes). Returns the server, the prefix (`ca.pem` is the
/// root), and the file's SHA-256.
fn nginx_with(lab: &Lab, tls: &str) -> (ChildGuard, tempfile::TempDir, String) {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    let root = Issuer::root("tcplink TAP test root");
    let intermediate = root.intermediate("tcplink TAP test intermediate");
    let leaf = intermediate.server(&[HOST_IP], &[&intermediate]);
    assert_eq!(leaf.chain.len(), 2, "leaf + intermediate");
    std::fs::write(p.join("ca.pem"), root.pem()).unwrap();
    std::fs::write(p.join("server.pem"), leaf.chain_pem()).unwrap();
    std::fs::write(p.join("server.key"), leaf.key_pem()).unwrap();
    let www = p.join("www");
    std::fs::create_dir(&www).unwrap();
    let data = random_bytes(SIZE);
    std::fs::write(www.join("file"), &data).unwrap();
    let site = format!(
        "root {www};\n    ssl_certificate {p}/server.pem;\n    ssl_certificate_key {p}/server.key;\n    {tls}",
        www = www.display(),
        p = p.display()
    );
    let https = format!("{HOST_IP}:{HTTPS_PORT} ssl");
    let args = tcplink_host::nginx::prepare(p, &[&https], &site).unwrap();
    let mut cmd = lab.cmd("nginx");
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let server = ChildGuard::spawn(&mut cmd);
    wait_listening(lab, HOST_IP, HTTPS_PORT);
    (server, prefix, sha256_hex(&data))
}

/// `tcplink-tap get https://HOST_IP:HTTPS_PORT/file -o OUT --cacert CA ENGINE...`.
fn get(lab: &Lab, ca: &Path, out: &Path, engine: &[&str]) -> std::process::Output {
    let url = format!("https://{HOST_IP}:{HTTPS_PORT}/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"])
        .arg(out)
        .arg("--cacert")
        .arg(ca)
        .args(engine);
    lab.run(&mut cmd)
}

/// nginx configured with `tls`: the default engine (rustls) saves the file byte-identical,
/// and so does an explicit `--tls-engine rustls`; with `embedded_refusal`, the embedded
/// engine fails with that message and saves nothing (which also shows nginx's limit holds).
fn rustls_fetches(test: &str, tls: &str, embedded_refusal: Option<&str>) {
    let Some(lab) = Lab::new(test, &["nginx"]) else {
        return;
    };
    let (_nginx, prefix, sha) = nginx_with(&lab, tls);
    let ca = prefix.path().join("ca.pem");
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    for engine in [&[][..], &["--tls-engine", "rustls"][..]] {
        let out = get(&lab, &ca, &out_file, engine);
        let stdout = success(&out);
        assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{tls}: {stdout}");
        assert_saved(&stdout, SIZE, &out_file, &sha);
        std::fs::remove_file(&out_file).unwrap();
    }
    if let Some(refusal) = embedded_refusal {
        let out = get(&lab, &ca, &out_file, &["--tls-engine", "embedded"]);
        let err = one_error_line(&out);
        assert!(err.contains(refusal), "{tls}: {err}");
        assert!(!out_file.exists());
    }
}

/// The embedded engine's message for a server without its one suite (AES-128-GCM).
const NO_COMMON: &str = "no cipher suite or group in common";

#[test]
fn rustls_fetches_from_a_tls12_only_nginx_and_the_embedded_engine_refuses() {
    rustls_fetches(
        "tls12",
        "ssl_protocols TLSv1.2;",
        Some("no TLS version in common with the server (the embedded engine speaks TLS 1.3 only)"),
    );
}

#[test]
fn rustls_fetches_from_an_x25519_only_nginx() {
    rustls_fetches(
        "tlsx25519",
        "ssl_protocols TLSv1.3;\n    ssl_ecdh_curve X25519;",
        None,
    );
}

#[test]
fn rustls_fetches_from_a_chacha20_only_nginx() {
    rustls_fetches(
        "tlschacha",
        "ssl_protocols TLSv1.3;\n    ssl_conf_command Ciphersuites TLS_CHACHA20_POLY1305_SHA256;",
        Some(NO_COMMON),
    );
}

#[test]
fn rustls_fetches_from_an_aes256_only_nginx() {
    rustls_fetches(
        "tlsaes256",
        "ssl_protocols TLSv1.3;\n    ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384;",
        Some(NO_COMMON),
    );
}
