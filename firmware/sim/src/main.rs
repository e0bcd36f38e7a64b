//! `cargo run --release`: the seed's greeting session on a simulated device.
//!
//! The tcplink core runs as the device (10.0.0.2) on one end of an in-memory Ethernet link; a
//! plain smoltcp host (10.0.0.1) on the other end plays the seed's `tcp_client.py`. Frames,
//! ARP, IP and TCP are real; the clock is simulated, so the run is instant and repeatable.

use smoltcp::time::Duration;
use tcplink::greeting::GreetingConfig;
use tcplink_testkit::{Client, Recorded, Sim, DEVICE_IP};

fn main() {
    let mut sim = Sim::<4>::greeting(GreetingConfig::default(), 1);
    println!(
        "tcplink greeting server at {DEVICE_IP}:{} on an in-memory Ethernet link\n",
        sim.server().port
    );
    let client = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(Duration::from_secs(10));

    println!("--- server (the device) ---");
    println!("Waiting for connection...");
    for (_, event) in &sim.events.list {
        if let Recorded::Greeting(event) = event {
            println!("{event}");
        }
    }
    println!("\n--- client (the peer, as tcp_client.py) ---");
    for line in sim.peer.client(client).transcript_strings() {
        println!("{line}");
    }
    let link = sim.link;
    println!(
        "\n{} frames from the device, {} from the peer, {} dropped; {} of simulated time",
        link.stats(0).sent,
        link.stats(1).sent,
        link.stats(0).dropped + link.stats(1).dropped,
        sim.now - smoltcp::time::Instant::ZERO,
    );
}
