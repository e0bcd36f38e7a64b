//! The porting skeleton: everything a board's `main` does with tcplink, and nothing else.
//!
//! A port supplies three things, here the [`Board`] trait: a network interface that is a
//! smoltcp [`Device`] (the Ethernet driver), a clock, and a way to sleep until a frame or a
//! deadline. [`run`] is then the whole main loop: memory declared once, the stack, the
//! services, and `poll` → sleep, forever. Copy it into your firmware's `main` and replace
//! the trait with your peripherals (firmware/mps2-an385 is a complete example).
#![no_std]
#![forbid(unsafe_code)]

use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
use tcplink::smoltcp::iface::SocketStorage;
use tcplink::smoltcp::phy::Device;
use tcplink::smoltcp::time::Instant;
use tcplink::text::{Render, TextOut};
use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};

/// Clients served at once (one socket each).
const SOCKETS: usize = 4;

/// What the loop needs from a board.
pub trait Board {
    /// The Ethernet driver.
    type Nic: Device;
    /// The network interface, and the console the log lines go to (a UART, semihosting,
    /// RTT): both at once, as the poll uses both.
    fn io(&mut self) -> (&mut Self::Nic, &mut dyn TextOut);
    /// Monotonic time since boot (a SysTick counter, a timer peripheral).
    fn now(&self) -> Instant;
    /// Sleeps until a frame arrives or `deadline` passes (`None`: until a frame), e.g.
    /// `wfi` with the NIC's receive interrupt and a timer armed; returning early is fine.
    fn sleep(&mut self, deadline: Option<Instant>);
    /// This board's Ethernet address.
    fn mac(&self) -> [u8; 6];
    /// A seed that differs at every boot (a free-running counter, a TRNG).
    fn seed(&self) -> u64;
}

/// The platform's handler: the seed's log lines on the board's console.
struct Log<'c>(&'c mut dyn TextOut);

impl Handler<GreetingEvent> for Log<'_> {
    fn event(&mut self, event: GreetingEvent) {
        event.render(self.0);
        self.0.put("\n");
    }
}

/// Runs the greeting server at 192.168.69.2/24 on `board`, forever.
pub fn run<B: Board>(board: &mut B) -> ! {
    // All the memory the network uses, declared once: fixed at build time, nothing
    // allocated. (A board puts these in statics, e.g. `cortex_m::singleton!`, to keep them
    // off the stack; a frame that never returns works too.)
    let mut slots: [SocketStorage; SOCKETS] = core::array::from_fn(|_| SocketStorage::default());
    let mut buffers = [const { TcpBuffers::<1024, 256>::new() }; SOCKETS];

    let config = StackConfig::new(board.mac(), [192, 168, 69, 2], 24)
        .with_gateway([192, 168, 69, 1])
        .with_seed(board.seed());
    let now = board.now();
    let mut stack = Stack::new(&config, board.io().0, &mut slots[..], now);
    let greeting =
        GreetingServer::<SOCKETS>::new(GreetingConfig::default(), &mut stack, &mut buffers);
    // More services go into the tuple: (greeting, dhcp, http, your_own).
    let mut app = App::new(stack, (greeting,));

    board.io().1.put("Waiting for connection...\n");
    loop {
        let now = board.now();
        // Frames in, every service, frames out; then when to come back at the latest.
        let (nic, console) = board.io();
        let next = app.poll(now, nic, &mut Log(console));
        board.sleep(next);
    }
}
