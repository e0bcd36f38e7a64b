//! The greeting server's main on two real embassy Ethernet drivers, built for
//! thumbv7em-none-eabihf by `cargo xtask ci`: proof that the adapter fits them, and the
//! "30-line main" a board with an embassy driver copies.
//!
//! [`serve`] is the whole network task for any [`Driver`]; [`enc28j60`] and [`w5500`] are
//! what a board adds for its chip (its HAL gives the SPI device and the pins, and its
//! embassy-time driver the clock).
#![no_std]
#![forbid(unsafe_code)]

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;

use embedded_hal::digital::OutputPin;
use embedded_hal_async::digital::Wait;
use embedded_hal_async::spi::SpiDevice;
use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
use tcplink::smoltcp::iface::SocketStorage;
use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};
use tcplink_embassy::{
    ethernet_address, with_device, Clock, Driver, EmbassyClock, LinkEvent, Runner, Shared,
};

/// Clients served at once.
const SOCKETS: usize = 4;

/// Where the board's log lines go (defmt, a UART, RTT): here, nowhere.
pub struct Log;

impl Handler<GreetingEvent> for Log {
    fn event(&mut self, _event: GreetingEvent) {}
}

impl Handler<LinkEvent> for Log {
    fn event(&mut self, _event: LinkEvent) {}
}

/// The greeting server at 192.168.69.2/24 on `driver`, forever: the network task.
pub async fn serve<D: Driver>(mut driver: D, seed: u64) -> ! {
    let mut slots = [SocketStorage::EMPTY; SOCKETS];
    let mut buffers = [const { TcpBuffers::<1024, 256>::new() }; SOCKETS];
    let mac = ethernet_address(&driver).expect("an Ethernet driver");
    let config = StackConfig::new(mac, [192, 168, 69, 2], 24)
        .with_gateway([192, 168, 69, 1])
        .with_seed(seed);
    let now = EmbassyClock.now();
    let mut stack = with_device(&mut driver, |device| {
        Stack::new(&config, device, &mut slots, now)
    });
    let greeting =
        GreetingServer::<SOCKETS>::new(GreetingConfig::default(), &mut stack, &mut buffers);
    // More services go into the tuple; other tasks reach them through `app.with(..)`.
    let app = Shared::new(App::new(stack, (greeting,)));
    Runner::new(&app, driver, EmbassyClock, Log).run().await
}

/// A Microchip ENC28J60 on SPI (blocking `embedded-hal` SPI): the driver is the chip.
pub async fn enc28j60<S: embedded_hal::spi::SpiDevice, O: OutputPin>(
    spi: S,
    reset: O,
    mac: [u8; 6],
) -> ! {
    let driver = embassy_net_enc28j60::Enc28j60::new(spi, Some(reset), mac);
    serve(
        driver,
        u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]),
    )
    .await
}

/// A WIZnet W5500 on SPI with its interrupt pin: the driver is a channel, filled by the
/// chip's own runner, which runs beside ours (here in the same task; a board may spawn it).
pub async fn w5500<S: SpiDevice, I: Wait, O: OutputPin>(
    spi: S,
    interrupt: I,
    reset: O,
    mac: [u8; 6],
) -> ! {
    let mut state = embassy_net_wiznet::State::<4, 4>::new();
    let (driver, chip) = embassy_net_wiznet::new::<4, 4, embassy_net_wiznet::chip::W5500, _, _, _>(
        mac, &mut state, spi, interrupt, reset,
    )
    .await
    .expect("the W5500 answers");
    let seed = u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    both(chip.run(), serve(driver, seed)).await
}

/// Polls two futures that never end, in one task.
async fn both<A: Future, B: Future>(a: A, b: B) -> ! {
    let (mut a, mut b) = (pin!(a), pin!(b));
    poll_fn(|cx| {
        let _ = a.as_mut().poll(cx);
        let _ = b.as_mut().poll(cx);
        Poll::<()>::Pending
    })
    .await;
    unreachable!("polled forever")
}
