//! `ping` to `tcplink-tap serve` on a real TAP: the interface answers echo requests itself
//! (smoltcp's `auto-icmp-echo-reply`), the first thing anyone debugging a network tries.

mod common;

use common::*;

/// `ping -c 3` (with iputils' reply timeout) from the namespace to `addr`: every request gets
/// its reply. Returns ping's output.
fn ping_three(lab: &Lab, args: &[&str], addr: &str) -> String {
    let out = lab.run(
        lab.cmd("ping")
            .args(args)
            .args(["-c", "3", "-i", "0.2", "-W", "2", addr]),
    );
    let text = success(&out);
    assert!(
        text.contains("3 packets transmitted, 3 received, 0% packet loss"),
        "{text}"
    );
    text
}

/// IPv4: three echo requests, three replies, while the greeting server keeps serving.
/// Frames through io_uring, then through read(2)/write(2).
#[test]
fn ping_gets_every_reply() {
    ping4("ping4", "uring");
}

#[test]
fn ping_gets_every_reply_read_write() {
    ping4("ping4-rw", "read-write");
}

fn ping4(test: &str, io: &'static str) {
    let Some(lab) = Lab::new(test, &["ping"]) else {
        return;
    };
    let lab = lab.with_io(io);
    let mut server = lab.serve(&STATIC_NET, &[]);
    ping_three(&lab, &[], DEVICE_IP);
    // Ping went to the interface, not to the server: nothing was logged.
    let out = lab.run(
        lab.cmd(host_bin())
            .args(["greet", &format!("{DEVICE_IP}:9999")]),
    );
    assert_eq!(success(&out), TRANSCRIPT);
    assert!(accepted(&server.next_line()).is_some(), "{:?}", server.seen);
    server.stop();
}

/// IPv6: `ping -6` to the static address gets every reply (neighbour discovery, then echo).
#[test]
fn ping6_gets_every_reply() {
    let Some(lab) = Lab::new("ping6", &["ping"]) else {
        return;
    };
    let server = lab.serve(&DUAL_NET, &[]);
    ping_three(&lab, &["-6"], DEVICE_IP6);
    // And IPv4 still, on the same interface.
    ping_three(&lab, &[], DEVICE_IP);
    server.stop();
}
