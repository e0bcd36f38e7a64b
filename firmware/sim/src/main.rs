//! `cargo run --release`: the seed's two programs on a simulated device.
//!
//! The tcplink core runs as the device (10.0.0.2) on one end of an in-memory Ethernet link; a
//! plain smoltcp host (10.0.0.1) on the other end plays the seed's `tcp_client.py`, a web
//! server and a DNS server. Frames, ARP, IP, UDP and TCP are real; the clock is simulated, so
//! the run is instant and repeatable. The fetched page is saved to the file named by the first
//! argument (default: `tcplink-demo.html` in the system's temporary directory).

use std::path::PathBuf;

use smoltcp::time::{Duration, Instant};
use tcplink::greeting::GreetingConfig;
use tcplink::http::HttpConfig;
use tcplink_testkit::{Client, DeviceSetup, Recorded, Response, Sim, DEVICE_IP, PEER_IP};

const PAGE: &str = "<!DOCTYPE html>\n<html>\n<head><title>tcplink</title></head>\n<body>\n<h1>Hello from the peer</h1>\n<p>Fetched by a no_std smoltcp device over an in-memory Ethernet link.</p>\n</body>\n</html>\n";

fn main() {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tcplink-demo.html"));

    let setup = DeviceSetup {
        greeting: Some(GreetingConfig::default()),
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 8);
    sim.peer.serve_http(80, 1);
    sim.peer.serve_dns(&[("www.example.test", PEER_IP)]);
    sim.peer.http[0].route("/", Response::chunked(PAGE.as_bytes(), 64));

    println!("tcplink device {DEVICE_IP} on an in-memory Ethernet link; peer {PEER_IP}\n");

    // Both programs at once, in the device's one poll loop.
    let client = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.get("http://www.example.test/").expect("valid URL");
    sim.run_clients(Duration::from_secs(10));
    let outcome = sim.run_get(Duration::from_secs(60));

    println!("--- greeting server (the device) ---");
    println!("Waiting for connection...");
    for (_, event) in &sim.events.list {
        if let Recorded::Greeting(event) = event {
            println!("{event}");
        }
    }
    println!("\n--- greeting client (the peer, as tcp_client.py) ---");
    for line in sim.peer.client(client).transcript_strings() {
        println!("{line}");
    }

    println!("\n--- GET http://www.example.test/ (the device, as http_get.py) ---");
    for (_, event) in &sim.events.list {
        if let Recorded::Head { text, .. } = event {
            println!("{text}");
        }
    }
    match outcome {
        Some(Ok((status, len))) => {
            std::fs::write(&out, &sim.events.body)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
            println!("\nstatus {status}: saved {len} bytes to {}", out.display());
        }
        Some(Err(error)) => {
            eprintln!("GET failed: {error}");
            std::process::exit(1);
        }
        None => {
            eprintln!("GET did not finish");
            std::process::exit(1);
        }
    }

    let link = sim.link;
    println!(
        "\n{} frames from the device, {} from the peer, {} dropped; {} ms of simulated time",
        link.stats(0).sent,
        link.stats(1).sent,
        link.stats(0).dropped + link.stats(1).dropped,
        (sim.now - Instant::ZERO).total_millis(),
    );
}
