//! The namespace/TAP helper, for real (root, iproute2 and /dev/net/tun needed).

use std::process::Command;

use tcplink_host::netns::{
    self, require_privileges, Namespace, HOST_IP, HOST_IP6, PREFIX, PREFIX6,
};

fn ns_name(test: &str) -> String {
    format!("tl-{test}-{}", std::process::id())
}

fn ip_n(ns: &str, args: &[&str]) -> String {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ip -n {ns} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn namespace_with_tap_is_created_and_removed() {
    if !require_privileges("namespace_with_tap_is_created_and_removed") {
        return;
    }
    let name = ns_name("create");
    let ns = Namespace::create(&name, "tap0").unwrap();
    assert_eq!((ns.name(), ns.tap()), (name.as_str(), "tap0"));
    assert!(netns::exists(&name).unwrap());

    let addr = ip_n(&name, &["addr", "show", "tap0"]);
    assert!(
        addr.contains(&format!("inet {HOST_IP}/{PREFIX} ")),
        "{addr}"
    );
    // IPv6 without duplicate address detection: usable at once, never `tentative`.
    let inet6 = format!("inet6 {HOST_IP6}/{PREFIX6} ");
    let line = addr
        .lines()
        .find(|l| l.contains(&inet6))
        .unwrap_or_else(|| panic!("no {inet6}: {addr}"));
    assert!(!line.contains("tentative"), "{line}");
    assert!(addr.contains(",UP"), "tap0 not up: {addr}");
    let out = ns
        .command("sysctl")
        .args([
            "-n",
            "net/ipv6/conf/tap0/accept_dad",
            "net/ipv6/conf/tap0/accept_ra",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0\n0\n", "{out:?}");
    let lo = ip_n(&name, &["link", "show", "lo"]);
    assert!(lo.contains(",UP"), "lo not up: {lo}");

    // command() runs inside the namespace: it sees tap0, which the host's namespace has not.
    let out = ns
        .command("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("tap0"));

    drop(ns);
    assert!(
        !netns::exists(&name).unwrap(),
        "namespace {name} left behind"
    );
    assert!(!std::path::Path::new("/run/netns").join(&name).exists());
}

#[test]
fn stale_namespace_is_replaced() {
    if !require_privileges("stale_namespace_is_replaced") {
        return;
    }
    let name = ns_name("stale");
    let first = Namespace::create(&name, "tapx").unwrap();
    std::mem::forget(first); // leave it behind, as a crashed run would
    let ns = Namespace::create(&name, "tap1").unwrap();
    // The stale namespace (and its tapx) is gone; the new one has only tap1.
    let links = ip_n(&name, &["-o", "link", "show"]);
    assert!(links.contains("tap1") && !links.contains("tapx"), "{links}");
    drop(ns);
    assert!(!netns::exists(&name).unwrap());
}

#[test]
fn cli_up_and_down() {
    if !require_privileges("cli_up_and_down") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_tcplink-host");
    let name = ns_name("cli");
    let up = Command::new(bin)
        .args(["netns", "up", "--name", &name, "--tap", "tap9"])
        .output()
        .unwrap();
    // Remove it whatever the assertions below find.
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = netns::delete(self.0);
        }
    }
    let _cleanup = Cleanup(&name);
    assert!(up.status.success(), "{up:?}");
    let addr = ip_n(&name, &["addr", "show", "tap9"]);
    assert!(addr.contains("inet 192.168.69.1/24 "), "{addr}");
    assert!(addr.contains("inet6 fd00:69::1/64 "), "{addr}");

    let down = Command::new(bin)
        .args(["netns", "down", "--name", &name])
        .output()
        .unwrap();
    assert!(down.status.success(), "{down:?}");
    assert!(!netns::exists(&name).unwrap());
}

#[test]
fn invalid_names_are_refused_before_running_ip() {
    let e = Namespace::create("bad/name", "tap0").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = Namespace::create("ok", "name-longer-than-15").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
