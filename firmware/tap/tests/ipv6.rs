//! `tcplink-tap` over IPv6 on a real TAP, each test in its own namespace (the host side is
//! fd00:69::1/64 there): the seed's client behaviour, a GET from nginx, and an address from
//! SLAAC with radvd as the router. (Ping of both families: ping.rs.)

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// The device's first lines with `--ip6 fd00:69::2/64`: the seed's, then its addresses.
fn assert_ipv6_lines(server: &mut Server) {
    let link_local = server.next_line();
    // From the MAC 02:00:00:00:00:02 (EUI-64).
    assert_eq!(link_local, "IPv6: link-local fe80::ff:fe00:2/64");
    assert_eq!(server.next_line(), format!("IPv6: static {DEVICE_IP6}/64"));
}

/// `tcplink-host greet [fd00:69::2]:9999` gets the seed's transcript, twice on one socket,
/// and the server logs the seed's lines with the client's address as `[fd00:69::1]:PORT`.
/// An IPv4 client of the same server still gets the seed's lines byte for byte.
#[test]
fn host_greet_over_ipv6_gets_the_seed_transcript() {
    let Some(lab) = Lab::new("greet6", &[]) else {
        return;
    };
    let host = host_bin();
    let mut server = lab.serve(&DUAL_NET, &["--sockets", "1"]);
    assert_ipv6_lines(&mut server);
    let addr6 = format!("[{DEVICE_IP6}]:9999");
    for _ in 0..2 {
        let out = lab.run(lab.cmd(&host).args(["greet", &addr6]));
        assert_eq!(success(&out), TRANSCRIPT);
        let accept = server.next_line();
        let (ip, port) =
            accepted(&accept).unwrap_or_else(|| panic!("not an accept line: {accept}"));
        assert_eq!(ip, format!("[{HOST_IP6}]"));
        assert!(port >= 1024, "{accept}");
        assert_eq!(
            server.next_line(),
            format!("Connection from [{HOST_IP6}]:{port} close.")
        );
    }
    let out = lab.run(lab.cmd(&host).args(["greet", &format!("{DEVICE_IP}:9999")]));
    assert_eq!(success(&out), TRANSCRIPT);
    let (ip, port) = accepted(&server.next_line()).expect("an accept line");
    assert_eq!(ip, HOST_IP);
    assert_eq!(
        server.next_line(),
        format!("Connection from {HOST_IP}:{port} close.")
    );
    assert_eq!(server.stop(), "", "nothing on stderr without -v");
}

/// Bytes served in the download test.
const SIZE: usize = 5 * 1024 * 1024;
/// nginx's port on [HOST_IP6].
const NGINX_PORT: u16 = 8096;

/// 5 MiB from nginx listening on `[fd00:69::1]` only arrive byte-identical, fetched by an
/// IPv6 literal URL.
#[test]
fn get_five_mib_from_nginx_over_ipv6() {
    let Some(lab) = Lab::new("ngx6", &["nginx", "python3"]) else {
        return;
    };
    let prefix = tempfile::tempdir().unwrap();
    let www = prefix.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let data = random_bytes(SIZE);
    std::fs::write(www.join("file"), &data).unwrap();
    let listen = format!("[{HOST_IP6}]:{NGINX_PORT}");
    let site = format!("root {};", www.display());
    let args = tcplink_host::nginx::prepare(prefix.path(), &[&listen], &site).unwrap();
    let mut cmd = lab.cmd("nginx");
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let _nginx = ChildGuard::spawn(&mut cmd);
    wait_listening(&lab, HOST_IP6, NGINX_PORT);

    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("saved.bin");
    let url = format!("http://[{HOST_IP6}]:{NGINX_PORT}/file");
    // IPv6 only: no IPv4 address to fall back on.
    let mut cmd = lab.tap(&["--tap", "tap0", "--ip6", "fd00:69::2/64"]);
    cmd.args(["get", &url, "-o"]).arg(&out_file);
    let stdout = success(&lab.run(&mut cmd));
    let head = stdout
        .split_once("HTTP/1.1 200 OK\n")
        .unwrap_or_else(|| panic!("no 200: {stdout}"))
        .1;
    assert!(
        head.contains("\nServer: nginx/") || head.starts_with("Server: nginx/"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\nContent-Length: {SIZE}\n")),
        "{stdout}"
    );
    assert_saved(&stdout, SIZE, &out_file, &sha256_hex(&data));
    assert_eq!(dir_names(out_dir.path()), ["saved.bin"]);
}

/// With `--slaac` alone the device has no address but its link-local one until radvd (in the
/// namespace, advertising fd00:69::/64) answers; then it logs the address it formed from the
/// prefix and its MAC, and a client reaches the greeting server there.
#[test]
fn slaac_address_from_radvd_serves_the_greeting() {
    let Some(lab) = Lab::new("slaac", &["radvd"]) else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let _radvd = tcplink_host::radvd::spawn(&lab.ns, state.path(), "fd00:69::/64");
    let mut server = lab.serve(&["--tap", "tap0", "--slaac"], &[]);
    assert_eq!(server.next_line(), "IPv6: link-local fe80::ff:fe00:2/64");
    let start = Instant::now();
    let learned = server.next_line();
    let took = start.elapsed();
    let radvd_log = || std::fs::read_to_string(state.path().join("radvd.log")).unwrap_or_default();
    let rest = learned
        .strip_prefix("IPv6: SLAAC ")
        .unwrap_or_else(|| panic!("not a SLAAC line: {learned}; radvd: {}", radvd_log()));
    let (cidr, router) = rest.split_once(", router ").expect("names the router");
    assert!(router.starts_with("fe80::"), "{learned}");
    // EUI-64 from 02:00:00:00:00:02 in the advertised prefix.
    assert_eq!(cidr, "fd00:69::ff:fe00:2/64");
    let addr = cidr.split_once('/').unwrap().0;
    eprintln!("SLAAC address after {took:?}");
    // smoltcp solicits again only after 4 s: the first solicitation must be answered.
    assert!(took < Duration::from_secs(2), "{took:?}");

    let out = lab.run(
        lab.cmd(host_bin())
            .args(["greet", &format!("[{addr}]:9999")]),
    );
    assert_eq!(success(&out), TRANSCRIPT);
    let (ip, _) = accepted(&server.next_line()).expect("an accept line");
    assert_eq!(ip, format!("[{HOST_IP6}]"));
    server.stop();
}

/// An IPv6-only device resolves a name through an IPv6 DNS server (`--dns fd00:69::1`,
/// dnsmasq answering AAAA) and fetches the file from `tcplink-host serve-http` listening on
/// `[fd00:69::1]`, byte-identical.
#[test]
fn get_by_aaaa_name_through_an_ipv6_dns_server() {
    let Some(lab) = Lab::new("aaaa", &["dnsmasq"]) else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let mut dns = lab.cmd("dnsmasq");
    dns.args([
        "--no-daemon",
        "--bind-interfaces",
        &format!("--listen-address={HOST_IP6}"),
        &format!("--address=/files6.test/{HOST_IP6}"),
        "--no-resolv",
        "--no-hosts",
        "--port=53",
    ])
    .arg(format!("--pid-file={}", state.path().join("pid").display()))
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let _dns = ChildGuard::spawn(&mut dns);
    wait_listening(&lab, HOST_IP6, 53);

    let data = random_bytes(256 * 1024);
    let _http = host_http(&lab, HOST_IP6, 8000, &data);

    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("file");
    let mut cmd = lab.tap(&["--tap", "tap0", "--ip6", "fd00:69::2/64"]);
    cmd.args([
        "--dns",
        HOST_IP6,
        "get",
        "http://files6.test:8000/file",
        "-o",
    ])
    .arg(&out_file);
    let stdout = success(&lab.run(&mut cmd));
    assert!(stdout.contains("HTTP/1.1 200 OK\n"), "{stdout}");
    assert_saved(&stdout, data.len(), &out_file, &sha256_hex(&data));
}
