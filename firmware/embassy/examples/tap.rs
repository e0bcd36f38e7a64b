//! The greeting server on embassy's std executor and embassy-net-tuntap's driver: the
//! "30-line main" of a board with an embassy driver, with a Linux TAP as the board.
//!
//! ```text
//! sudo ip tuntap add tap0 mode tap && sudo ip addr add 192.168.69.1/24 dev tap0 && sudo ip link set tap0 up
//! cargo run -p tcplink-embassy --example tap -- tap0
//! tcplink-host greet 192.168.69.2:9999 Alice Bob     # in another shell
//! ```
use std::fmt::Display;

use embassy_executor::Spawner;
use embassy_net_tuntap::TunTapDevice;
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::smoltcp::iface::SocketStorage;
use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};
use tcplink_embassy::{ethernet_address, with_device, Clock, EmbassyClock, Runner, Shared};

const SOCKETS: usize = 4;
type Services = (GreetingServer<SOCKETS>,);

/// The console: every event (greeting, link) as the log line it displays as.
struct Console;
impl<E: Display> Handler<E> for Console {
    fn event(&mut self, event: E) {
        println!("{event}");
    }
}

#[embassy_executor::task]
async fn net_task(
    mut runner: Runner<'static, 'static, Services, TunTapDevice, EmbassyClock, Console>,
) {
    runner.run().await
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let tap = std::env::args().nth(1).unwrap_or_else(|| "tap0".into());
    let mut driver = TunTapDevice::new(&tap).expect("open the TAP (root, and the TAP must exist)");
    let slots = Box::leak(Box::new([SocketStorage::EMPTY; SOCKETS]));
    let buffers = Box::leak(Box::new(
        [const { TcpBuffers::<1024, 256>::new() }; SOCKETS],
    ));
    let mac = ethernet_address(&driver).expect("a TAP is Ethernet");
    let config = StackConfig::new(mac, [192, 168, 69, 2], 24).with_seed(std::process::id().into());
    let mut stack = with_device(&mut driver, |device| {
        Stack::new(&config, device, slots, EmbassyClock.now())
    });
    let greeting = GreetingServer::new(GreetingConfig::default(), &mut stack, buffers);
    let app = Box::leak(Box::new(Shared::new(App::new(stack, (greeting,)))));
    println!("Waiting for connection...");
    spawner.spawn(net_task(Runner::new(app, driver, EmbassyClock, Console)).expect("one net task"));
}
