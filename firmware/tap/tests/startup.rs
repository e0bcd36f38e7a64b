//! Start-up on a real TAP: the first hop resolves within tens of milliseconds even when the
//! host missed the device's first ARP request (as it does while its side of a freshly
//! attached TAP is not transmitting yet).

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
    let ns = lab.ns.name().to_string();
    let ip = |args: &[&str]| {
        let out = lab.run(
            std::process::Command::new("ip")
                .args(["-n", &ns])
                .args(args),
        );
        success(&out);
    };
    let host_cidr = format!("{HOST_IP}/24");
    ip(&["addr", "del", &host_cidr, "dev", "tap0"]);

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
    ip(&["addr", "add", &host_cidr, "dev", "tap0"]);
    let answering = Instant::now();
    let status = get.child.wait(DEADLINE);
    let took = answering.elapsed();

    assert!(status.success(), "{status}: {:?}", get.seen);
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "hello from the host\n"
    );
    // Without early repeats this is about 950 ms: smoltcp asks again 1 s after the first
    // request. With them, the next repeat (at most 160 ms away) gets the answer.
    assert!(
        took < Duration::from_millis(500),
        "GET took {took:?} after the host could answer"
    );
}
