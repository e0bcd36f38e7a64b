//! Start-up on a real TAP: the first hop resolves within tens of milliseconds even when the
//! host missed the device's first ARP request or IPv6 neighbour solicitation (as it does
//! while its side of a freshly attached TAP is not transmitting yet).

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The host does not own its address when the device's first ARP request arrives, so that
/// request goes unanswered; the address is added right after it. The GET must then finish
/// long before smoltcp's own retry, one second after the first request.
#[test]
fn a_missed_first_arp_request_costs_milliseconds_not_a_second() {
    let Some(lab) = Lab::new("startarp", &["python3"]) else {
        return;
    };
    let host_cidr = format!("{HOST_IP}/24");
    ip(&lab, &["addr", "del", &host_cidr, "dev", "tap0"]);

    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello"), "hello from the host\n").unwrap();
    let mut http = lab.cmd("python3");
    http.args([
        "-m",
        "http.server",
        "--bind",
        "0.0.0.0",
        "8000",
        "--directory",
    ])
    .arg(root.path())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let _http = ChildGuard::spawn(&mut http);
    wait_listening(&lab, "127.0.0.1", 8000);

    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("hello");
    let url = format!("http://{HOST_IP}:8000/hello");
    let frames = || -> u64 { lab.tap_sysfs("statistics/rx_packets").parse().unwrap() };
    let before = frames();
    let mut cmd = lab.tap(&STATIC_NET);
    cmd.args(["get", &url, "-o"]).arg(&out_file);
    let mut get = Server::spawn(&mut cmd);

    // The device's first frame is its ARP request for the host: wait for it, then answer
    // from now on.
    let waiting = Instant::now();
    while frames() == before {
        assert!(waiting.elapsed() < DEADLINE, "the device sent nothing");
        std::thread::sleep(Duration::from_millis(2));
    }
    let add = ["addr", "add", &host_cidr, "dev", "tap0"];
    answer_then_finish(&lab, &add, &mut get, &out_file, "hello from the host\n");
}

/// The IPv6 counterpart: the host does not own fd00:69::1 when the device's first neighbour
/// solicitation for it arrives (read from the device's pcap), and adds it right after. The
/// GET must finish long before smoltcp's own retry, one second after the first solicitation.
#[test]
fn a_missed_first_neighbour_solicitation_costs_milliseconds_not_a_second() {
    let Some(lab) = Lab::new("startndp", &[]) else {
        return;
    };
    let host_cidr = format!("{HOST_IP6}/64");
    ip(&lab, &["-6", "addr", "del", &host_cidr, "dev", "tap0"]);

    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello"), "hello over IPv6\n").unwrap();
    let mut http = lab.cmd(host_bin());
    http.args(["serve-http", "--listen", "[::]:8000", "--root"])
        .arg(root.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _http = ChildGuard::spawn(&mut http);
    wait_listening(&lab, "::1", 8000);

    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("hello");
    let pcap = out_dir.path().join("device.pcap");
    let url = format!("http://[{HOST_IP6}]:8000/hello");
    let mut cmd = lab.tap(&["--tap", "tap0", "--ip6", "fd00:69::2/64", "--pcap"]);
    cmd.arg(&pcap).args(["get", &url, "-o"]).arg(&out_file);
    let mut get = Server::spawn(&mut cmd);

    // The device's first solicitation for the host (in its pcap, flushed per frame): answer
    // from now on.
    let waiting = Instant::now();
    while !solicits(&std::fs::read(&pcap).unwrap_or_default(), HOST_IP6) {
        assert!(
            waiting.elapsed() < DEADLINE,
            "the device never solicited {HOST_IP6}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let add = ["-6", "addr", "add", &host_cidr, "dev", "tap0", "nodad"];
    answer_then_finish(&lab, &add, &mut get, &out_file, "hello over IPv6\n");
}

/// `ip -n NS ARGS` in the test's namespace; it must succeed.
fn ip(lab: &Lab, args: &[&str]) {
    let out = lab.run(
        std::process::Command::new("ip")
            .args(["-n", lab.ns.name()])
            .args(args),
    );
    success(&out);
}

/// Gives the host its address (`ip` with `add`) now that the device's first request went
/// unanswered, then checks the GET ends with `body` in `out_file` well before smoltcp's own
/// retry: without early repeats about 950 ms (it asks again 1 s after the first request);
/// with them, the next repeat (at most 160 ms away) gets the answer.
fn answer_then_finish(
    lab: &Lab,
    add: &[&str],
    get: &mut Server,
    out_file: &std::path::Path,
    body: &str,
) {
    ip(lab, add);
    let answering = Instant::now();
    let status = get.child.wait(DEADLINE);
    let took = answering.elapsed();

    assert!(status.success(), "{status}: {:?}", get.seen);
    assert_eq!(std::fs::read_to_string(out_file).unwrap(), body);
    assert!(
        took < Duration::from_millis(500),
        "GET took {took:?} after the host could answer"
    );
}

/// Whether the pcap file `bytes` holds a neighbour solicitation for `target`.
fn solicits(bytes: &[u8], target: &str) -> bool {
    let target: std::net::Ipv6Addr = target.parse().unwrap();
    // The global header, then records: 16-byte header (captured length at 8..12), frame.
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let Some(frame) = bytes.get(at + 16..at + 16 + len) else {
            break;
        };
        // Ethernet IPv6, next header ICMPv6, type 135, its target address.
        if frame.len() >= 14 + 40 + 24
            && frame[12..14] == [0x86, 0xdd]
            && frame[14 + 6] == 58
            && frame[54] == 135
            && frame[54 + 8..54 + 24] == target.octets()
        {
            return true;
        }
        at += 16 + len;
    }
    false
}
