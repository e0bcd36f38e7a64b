//! `tcplink-tap get https://…` on a real TAP in the test's own namespace, against nginx and
//! `openssl s_server -tls1_3` there, with a CA the test makes (rcgen; ECDSA P-256, or RSA-2048
//! with keys from `openssl genpkey`, as ring cannot make RSA keys).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};

/// Bytes served.
const SIZE: usize = 5 * 1024 * 1024;
/// Bytes of the big download.
const BIG_SIZE: usize = 256 * 1024 * 1024;
/// The big download's time limit (it takes a few seconds in a debug build).
const BIG_DEADLINE: Duration = Duration::from_secs(120);
/// nginx's HTTPS and plain HTTP ports on HOST_IP.
const HTTPS_PORT: u16 = 8443;
const HTTP_PORT: u16 = 8081;
/// openssl s_server's port.
const S_SERVER_PORT: u16 = 4433;

/// The keys of a test PKI.
#[derive(Clone, Copy)]
enum Keys {
    /// ECDSA P-256 (rcgen makes them).
    Ecdsa,
    /// RSA-2048, CA and server (openssl makes them).
    Rsa,
}

/// A new key of `kind`, made in `dir` as `name` for RSA.
fn new_key(dir: &Path, kind: Keys, name: &str) -> KeyPair {
    match kind {
        Keys::Ecdsa => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap(),
        Keys::Rsa => {
            let path = dir.join(name);
            let out = run(
                std::process::Command::new("openssl")
                    .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
                    .args(["rsa_keygen_bits:2048", "-out"])
                    .arg(&path),
                DEADLINE,
            );
            success(&out);
            let pem = std::fs::read_to_string(&path).unwrap();
            KeyPair::from_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).unwrap()
        }
    }
}

/// A CA and a server certificate for HOST_IP (an IP SAN) in `dir`: `ca.pem`, `server.pem`,
/// `server.key`; plus `other-ca.pem`, a CA that signed nothing here.
fn make_pki(dir: &Path) {
    make_pki_of(dir, Keys::Ecdsa);
}

/// [`make_pki`] with keys of `kind`.
fn make_pki_of(dir: &Path, kind: Keys) {
    let ca_key = new_key(dir, kind, "ca.key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "tcplink TAP test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = new_key(dir, kind, "server.key");
    let mut leaf = CertificateParams::new(vec![HOST_IP.to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, HOST_IP);
    let leaf_cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), leaf_cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    let other_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    other.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    std::fs::write(
        dir.join("other-ca.pem"),
        other.self_signed(&other_key).unwrap().pem(),
    )
    .unwrap();
}

/// nginx with TLS 1.3 on HTTPS_PORT and plain HTTP on HTTP_PORT, serving `www/file`
/// (SIZE random bytes) and `/go`, a 302 to the file over https. Returns the prefix (with the
/// PKI) and the file's SHA-256.
fn nginx_tls(lab: &Lab) -> (ChildGuard, tempfile::TempDir, String) {
    nginx_tls_of(lab, Keys::Ecdsa, SIZE)
}

/// [`nginx_tls`] with a PKI of `keys` and a file of `size` bytes.
fn nginx_tls_of(lab: &Lab, keys: Keys, size: usize) -> (ChildGuard, tempfile::TempDir, String) {
    let prefix = tempfile::tempdir().unwrap();
    let p = prefix.path();
    make_pki_of(p, keys);
    let www = p.join("www");
    std::fs::create_dir(&www).unwrap();
    let data = random_bytes(size);
    std::fs::write(www.join("file"), &data).unwrap();
    let site = format!(
        "root {www};\n    ssl_certificate {p}/server.pem;\n    ssl_certificate_key {p}/server.key;\n    \
         ssl_protocols TLSv1.3;\n    error_log {p}/handshakes.log info;\n    location = /go {{ return 302 https://{HOST_IP}:{HTTPS_PORT}/file; }}",
        www = www.display(),
        p = p.display()
    );
    let https = format!("{HOST_IP}:{HTTPS_PORT} ssl");
    let http = format!("{HOST_IP}:{HTTP_PORT}");
    let args = tcplink_host::nginx::prepare(p, &[&https, &http], &site).unwrap();
    let mut cmd = lab.cmd("nginx");
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let server = ChildGuard::spawn(&mut cmd);
    wait_listening(lab, HOST_IP, HTTPS_PORT);
    (server, prefix, sha256_hex(&data))
}

fn get_to(lab: &Lab, url: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", url, "-o"]).arg(out).args(extra);
    lab.run(&mut cmd)
}

/// 5 MiB over TLS 1.3 from nginx, verified against the test's CA (`--cacert`), identical;
/// the same URL through an http:// redirect; the wrong CA refused; `--insecure` warns. With
/// the default engine (rustls).
#[test]
fn get_https_from_nginx() {
    if let Some(lab) = Lab::new("tlsngx", &["nginx", "python3"]) {
        https_from_nginx(&lab, &[]);
    }
}

/// [`get_https_from_nginx`] with the board's engine on the TAP (`--tls-engine embedded`).
#[test]
fn get_https_from_nginx_with_the_embedded_engine() {
    if let Some(lab) = Lab::new("tlsngxe", &["nginx", "python3"]) {
        https_from_nginx(&lab, &["--tls-engine", "embedded"]);
    }
}

/// The fetches of [`get_https_from_nginx`], each with `engine` (extra arguments) too.
fn https_from_nginx(lab: &Lab, engine: &[&str]) {
    let get_to = |lab: &Lab, url: &str, out: &Path, extra: &[&str]| {
        let args: Vec<&str> = extra.iter().chain(engine).copied().collect();
        get_to(lab, url, out, &args)
    };
    let (_nginx, prefix, sha) = nginx_tls(lab);
    let ca = prefix.path().join("ca.pem");
    let ca = ca.to_str().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");

    let url = format!("https://{HOST_IP}:{HTTPS_PORT}/file");
    let out = get_to(lab, &url, &out_file, &["--cacert", ca]);
    let stdout = success(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert_saved(&stdout, SIZE, &out_file, &sha);

    // http:// → 302 → https://
    std::fs::remove_file(&out_file).unwrap();
    let go = format!("http://{HOST_IP}:{HTTP_PORT}/go");
    let out = get_to(lab, &go, &out_file, &["--cacert", ca]);
    let stdout = success(&out);
    assert!(
        stdout.starts_with("HTTP/1.1 302 Moved Temporarily\n"),
        "{stdout}"
    );
    assert_saved(&stdout, SIZE, &out_file, &sha);

    // A CA that did not sign the server's certificate: refused, nothing saved.
    std::fs::remove_file(&out_file).unwrap();
    let other = prefix.path().join("other-ca.pem");
    let out = get_to(lab, &url, &out_file, &["--cacert", other.to_str().unwrap()]);
    let err = one_error_line(&out);
    assert!(err.contains("unknown CA"), "{err}");
    assert!(!out_file.exists());
    // nginx was told why, by the fatal alert curl would send (OpenSSL logs it at "info").
    let log = prefix.path().join("handshakes.log");
    let told = |log: &Path| {
        std::fs::read_to_string(log).is_ok_and(|text| text.contains("tlsv1 alert unknown ca"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !told(&log) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        told(&log),
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // --insecure: no verification, and a warning saying so.
    let out = get_to(lab, &url, &out_file, &["--insecure"]);
    let stdout = success(&out);
    assert_saved(&stdout, SIZE, &out_file, &sha);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: --insecure"), "{stderr}");
}

/// `openssl s_server -tls1_3 -WWW`: a read-until-close body ended by close_notify.
#[test]
fn get_https_from_openssl_s_server() {
    if let Some(lab) = Lab::new("tlsossl", &["openssl", "python3"]) {
        https_from_openssl_s_server(&lab, &[]);
    }
}

/// [`get_https_from_openssl_s_server`] with the board's engine (`--tls-engine embedded`).
#[test]
fn get_https_from_openssl_s_server_with_the_embedded_engine() {
    if let Some(lab) = Lab::new("tlsossle", &["openssl", "python3"]) {
        https_from_openssl_s_server(&lab, &["--tls-engine", "embedded"]);
    }
}

/// The fetch of [`get_https_from_openssl_s_server`] with `engine` (extra arguments).
fn https_from_openssl_s_server(lab: &Lab, engine: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    fetch_from_s_server(lab, dir.path(), &[], SIZE, engine);
}

/// `openssl s_server -quiet -tls1_3 -WWW` on S_SERVER_PORT in `dir` (its `server.pem` and
/// `server.key`) with `extra` arguments, serving `size` random bytes as `file`, which
/// `tcplink-tap get` with `engine` (more arguments) trusting `dir`'s `ca.pem` must save
/// byte-identical. The server is stopped on return.
fn fetch_from_s_server(lab: &Lab, dir: &Path, extra: &[&str], size: usize, engine: &[&str]) {
    let data = random_bytes(size);
    std::fs::write(dir.join("file"), &data).unwrap();
    let mut cmd = lab.cmd("openssl");
    cmd.args([
        "s_server",
        "-quiet",
        "-tls1_3",
        "-WWW",
        "-accept",
        &format!("{HOST_IP}:{S_SERVER_PORT}"),
        "-cert",
        "server.pem",
        "-key",
        "server.key",
    ])
    .args(extra)
    .current_dir(dir)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let _server = ChildGuard::spawn(&mut cmd);
    wait_listening(lab, HOST_IP, S_SERVER_PORT);
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    let ca = dir.join("ca.pem");
    let url = format!("https://{HOST_IP}:{S_SERVER_PORT}/file");
    let mut args = vec!["--cacert", ca.to_str().unwrap()];
    args.extend(engine);
    let out = get_to(lab, &url, &out_file, &args);
    let stdout = success(&out);
    assert!(
        stdout.starts_with("HTTP/1.0 200 ok\n"),
        "{extra:?}: {stdout}"
    );
    assert_saved(&stdout, size, &out_file, &sha256_hex(&data));
}

/// A three-level ECDSA P-256 PKI in `dir`: `ca.pem` (the root), `intermediate.pem` (a CA
/// under it), `server.pem` and `server.key` (a leaf for HOST_IP under the intermediate).
fn make_three_level_pki(dir: &Path) {
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "tcplink TAP test root");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let im_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut im = CertificateParams::new(Vec::<String>::new()).unwrap();
    im.distinguished_name
        .push(DnType::CommonName, "tcplink TAP test intermediate");
    im.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    im.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let im_cert = im.signed_by(&im_key, &ca_cert, &ca_key).unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf = CertificateParams::new(vec![HOST_IP.to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, HOST_IP);
    let leaf_cert = leaf.signed_by(&key, &im_cert, &im_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("intermediate.pem"), im_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), leaf_cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// Issue 25, the board's engine against OpenSSL: `openssl s_server -max_send_frag 512`
/// sending leaf + intermediate (`-cert_chain`), so its Certificate message spans records,
/// under a root the device trusts (`--cacert`); 1 MiB saved byte-identical. Two servers:
/// OpenSSL's default groups (the device's X25519 key share taken: one ClientHello in the
/// server's `-trace`) and `-groups P-256` (a HelloRetryRequest for P-256: two ClientHellos).
/// (`-stateless`, OpenSSL's cookie HelloRetryRequest, does not apply to `-WWW` mode, so the
/// cookie's echo is tested on forged bytes, third_party/embedded-tls/tests/hello_retry_test.rs.)
#[test]
fn get_https_from_s_server_in_512_byte_records_through_an_intermediate() {
    let Some(lab) = Lab::new("tlsfrag", &["openssl", "python3"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    make_three_level_pki(dir.path());
    let trace = dir.path().join("trace.txt");
    let trace_arg = trace.to_str().unwrap();
    for (groups, client_hellos) in [(&[][..], 1), (&["-groups", "P-256"][..], 2)] {
        let _ = std::fs::remove_file(&trace);
        let mut extra = vec![
            "-max_send_frag",
            "512",
            "-cert_chain",
            "intermediate.pem",
            "-trace",
            "-msgfile",
            trace_arg,
        ];
        extra.extend_from_slice(groups);
        let engine = ["--tls-engine", "embedded"];
        fetch_from_s_server(&lab, dir.path(), &extra, 1024 * 1024, &engine);
        let trace = std::fs::read_to_string(&trace).unwrap();
        let received = trace
            .lines()
            .filter(|l| l.trim_start().starts_with("ClientHello, Length="))
            .count();
        assert_eq!(received, client_hellos, "{groups:?}:\n{trace}");
    }
}

/// An RSA CA and an RSA server certificate (as most of the web still has): verified with
/// `--cacert` through the host's RSA (PKCS#1 v1.5 chain, RSA-PSS handshake signature), 5 MiB
/// identical. Without `--cacert` the system store is loaded (its RSA and ECDSA roots) and
/// vouches for nothing here: unknown CA.
#[test]
fn get_https_rsa_certificate_from_nginx() {
    let Some(lab) = Lab::new("tlsrsa", &["nginx", "python3", "openssl"]) else {
        return;
    };
    let (_nginx, prefix, sha) = nginx_tls_of(&lab, Keys::Rsa, SIZE);
    let ca = prefix.path().join("ca.pem");
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    let url = format!("https://{HOST_IP}:{HTTPS_PORT}/file");
    let out = get_to(&lab, &url, &out_file, &["--cacert", ca.to_str().unwrap()]);
    let stdout = success(&out);
    assert!(stdout.starts_with("HTTP/1.1 200 OK\n"), "{stdout}");
    assert_saved(&stdout, SIZE, &out_file, &sha);

    std::fs::remove_file(&out_file).unwrap();
    let out = get_to(&lab, &url, &out_file, &[]);
    let err = one_error_line(&out);
    assert!(err.contains("unknown CA"), "{err}");
    assert!(!out_file.exists());
}

/// 256 MiB over TLS 1.3 from nginx, identical, within BIG_DEADLINE.
#[test]
fn get_256_mib_https_from_nginx() {
    let Some(lab) = Lab::new("tlsbig", &["nginx", "python3"]) else {
        return;
    };
    let (_nginx, prefix, sha) = nginx_tls_of(&lab, Keys::Ecdsa, BIG_SIZE);
    let ca = prefix.path().join("ca.pem");
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    let url = format!("https://{HOST_IP}:{HTTPS_PORT}/file");
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"])
        .arg(&out_file)
        .args(["--cacert", ca.to_str().unwrap()]);
    let started = Instant::now();
    // Panics naming the limit when the download takes longer.
    let out = run(&mut cmd, BIG_DEADLINE);
    let took = started.elapsed();
    let stdout = success(&out);
    assert_saved(&stdout, BIG_SIZE, &out_file, &sha);
    eprintln!("256 MiB over HTTPS in {took:.1?}");
}
