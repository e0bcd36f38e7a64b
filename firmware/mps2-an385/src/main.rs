//! tcplink on the Arm MPS2 AN385 board (Cortex-M3 + LAN9118), as QEMU emulates it.
//!
//! Boots, brings up the LAN9118, and runs the tcplink core's `App` in one loop that sleeps
//! in `wfi` between frames and timer deadlines: the greeting server on port 9999 and, when
//! built with `TCPLINK_GET_URL=http://...`, one HTTP GET whose head, body size and FNV-1a
//! hash it logs (the body itself is not kept: a board has nowhere to save it). The log goes
//! to the debugger's (QEMU's) stdout through semihosting.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod clock;
#[allow(unsafe_code)]
mod lan9118;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprintln};
use smoltcp::iface::SocketStorage;
#[cfg(tcplink_get)]
use smoltcp::wire::Ipv4Address;
use tcplink::app::{App, Event, Handler, SinkError};
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::http::HttpEvent;
#[cfg(tcplink_get)]
use tcplink::http::{HttpClient, HttpConfig, HttpStorage};
use tcplink::smoltcp;
use tcplink::stack::{Stack, StackConfig, TcpBuffers};

use clock::Clock;
use lan9118::{Counters, Lan9118};

/// Locally administered station address for the board.
const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x69, 0x00, 0x02];
const DEVICE_IP: [u8; 4] = [192, 168, 69, 2];
const PREFIX: u8 = 24;
const GATEWAY: [u8; 4] = [192, 168, 69, 1];

/// Clients the greeting server serves at once (one more is refused with RST); 4 unless
/// built with `TCPLINK_SOCKETS=N` (the footprint benchmark builds 1, 4 and 16).
const GREETING_SOCKETS: usize = match option_env!("TCPLINK_SOCKETS") {
    Some(n) => parse_count(n),
    None => 4,
};
/// The most one read takes, as the seed's `recv(1024)`.
const GREETING_MSG: usize = 1024;
/// Per-socket TCP buffers: a 1 KiB window in, which also holds a read while it is answered
/// in place, and a small buffer out that replies stream through.
const GREETING_RX: usize = GREETING_MSG;
const GREETING_TX: usize = 256;

/// The URL to GET once at boot, chosen at build time; none: the board only serves.
const GET_URL: Option<&str> = option_env!("TCPLINK_GET_URL");
/// DNS server for a GET by host name (a literal IP needs none), chosen at build time.
#[cfg(tcplink_get)]
const DNS_SERVER: Option<&str> = option_env!("TCPLINK_DNS");
/// The GET's TCP receive buffer: the window the body streams through (six frames, what
/// the driver advertises anyway). Its transmit buffer only holds the request.
#[cfg(tcplink_get)]
const HTTP_RX: usize = 8192;
#[cfg(tcplink_get)]
const HTTP_TX: usize = 512;
/// Response head and URL buffers inside the client.
#[cfg(tcplink_get)]
const HTTP_HEAD: usize = 2048;
#[cfg(tcplink_get)]
const HTTP_URL: usize = 256;

/// Socket slots: the greeting server's, plus the GET's TCP and DNS sockets if it runs.
const SOCKETS: usize = GREETING_SOCKETS + if GET_URL.is_some() { 2 } else { 0 };

type GreetingBuffers = [TcpBuffers<GREETING_RX, GREETING_TX>; GREETING_SOCKETS];
type Greeting = GreetingServer<GREETING_SOCKETS, GREETING_MSG>;
/// The GET client exists only in builds with a URL, so a serving-only board links no HTTP
/// code and reserves no HTTP buffers (build.rs sets `tcplink_get`).
#[cfg(tcplink_get)]
type Http = HttpClient<HTTP_HEAD, HTTP_URL>;
#[cfg(not(tcplink_get))]
type Http = ();
type BoardApp = App<'static, Greeting, Http>;

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("core peripherals are taken once");
    let mut clock = Clock::start(cp.SYST);
    hprintln!("tcplink-mps2-an385: booting");

    // Statics, each taken once: the RAM they use is fixed at build time (.bss).
    let nic = match Lan9118::take(MAC) {
        Ok(nic) => cortex_m::singleton!(: Lan9118 = nic).expect("taken once"),
        Err(e) => fail(format_args!("lan9118: {e}")),
    };
    nic.enable_interrupt(&mut cp.NVIC);
    let config = StackConfig::new(MAC, DEVICE_IP, PREFIX)
        .with_gateway(GATEWAY)
        .with_seed(0x7463_706c_696e_6b00 ^ u64::from(nic.free_running_counter()));
    hprintln!("lan9118: up, MAC {}", config.mac);

    let storage = cortex_m::singleton!(: [SocketStorage<'static>; SOCKETS] =
        [SocketStorage::EMPTY; SOCKETS])
    .expect("taken once");
    let greeting_buffers = cortex_m::singleton!(: GreetingBuffers =
        [const { TcpBuffers::new() }; GREETING_SOCKETS])
    .expect("taken once");

    let mut stack = Stack::new(&config, nic, storage, clock.now());
    let greeting_config = GreetingConfig::default();
    let greeting = GreetingServer::<GREETING_SOCKETS, GREETING_MSG>::new(
        greeting_config,
        &mut stack,
        greeting_buffers,
    );
    if let Some(ip) = stack.ipv4() {
        hprintln!("greeting: listening on {}:{}", ip, greeting_config.port);
    }
    let app = App::new(stack).with_greeting(greeting);
    #[cfg(tcplink_get)]
    let app = {
        let url = GET_URL.expect("build.rs sets tcplink_get only with a URL");
        let mut app = app;
        let storage = cortex_m::singleton!(: HttpStorage<HTTP_RX, HTTP_TX> = HttpStorage::new())
            .expect("taken once");
        let dns: Option<Ipv4Address> = DNS_SERVER.and_then(|s| s.parse().ok());
        let client = Http::new(HttpConfig::default(), app.stack(), storage, dns.as_slice());
        let mut app = app.with_http(client);
        hprintln!("GET {}", url);
        if let Err(e) = app.get(url, clock.now()) {
            hprintln!("http: failed: {}", e);
        }
        app
    };
    let app = cortex_m::singleton!(: BoardApp = app).expect("taken once");

    let mut log = Log::default();
    let mut reported = Counters::default();
    loop {
        let next = app.poll(clock.now(), nic, &mut log);

        let counters = nic.counters();
        if (counters.rx_dropped, counters.tx_errors) != (reported.rx_dropped, reported.tx_errors) {
            hprintln!(
                "lan9118: rx_frames={} tx_frames={} rx_dropped={} tx_errors={}",
                counters.rx_frames,
                counters.tx_frames,
                counters.rx_dropped,
                counters.tx_errors
            );
            reported = counters;
        }

        // Sleep until a frame arrives (LAN9118 interrupt) or the next 1 ms tick, unless
        // there is work now. Interrupts stay masked from the check to `wfi`, so a frame that
        // lands in between leaves its interrupt pending and `wfi` returns at once.
        cortex_m::interrupt::free(|_| {
            nic.arm_rx_interrupt();
            let due = next.is_some_and(|at| at <= clock.now());
            if !due && !nic.rx_pending() {
                cortex_m::asm::wfi();
            }
        });
    }
}

/// Prints the applications' events over semihosting; hashes GET bodies instead of storing
/// them.
#[derive(Default)]
struct Log {
    body_len: u64,
    body_hash: Fnv1a64,
}

impl Handler for Log {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Http(HttpEvent::Head(head)) => {
                // A new response (after a redirect, the next one): its body starts afresh.
                self.body_len = 0;
                self.body_hash = Fnv1a64::default();
                hprintln!("{}", head);
            }
            Event::Http(HttpEvent::Done { status, body_len }) => {
                debug_assert_eq!(body_len, self.body_len);
                hprintln!(
                    "http: done, status {}, body {} bytes, fnv1a64 {:016x}",
                    status,
                    body_len,
                    self.body_hash.0
                );
            }
            Event::Http(HttpEvent::Failed(e)) => hprintln!("http: failed: {}", e),
            Event::Http(event) => hprintln!("http: {}", event),
            // The greeting server's lines are the seed's own wording.
            event => hprintln!("{}", event),
        }
    }

    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        self.body_len += chunk.len() as u64;
        self.body_hash.update(chunk);
        Ok(())
    }
}

/// FNV-1a, 64 bits: a few lines, no table, enough to tell a body arrived intact.
struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a64 {
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A socket count from the build environment, checked at compile time.
const fn parse_count(text: &str) -> usize {
    let bytes = text.as_bytes();
    assert!(!bytes.is_empty(), "TCPLINK_SOCKETS must be a number");
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i].is_ascii_digit(),
            "TCPLINK_SOCKETS must be a number"
        );
        n = n * 10 + (bytes[i] - b'0') as usize;
        i += 1;
    }
    assert!(n > 0, "TCPLINK_SOCKETS must be at least 1");
    n
}

/// Logs why the board cannot go on and ends the QEMU run with a failure status.
fn fail(why: core::fmt::Arguments) -> ! {
    hprintln!("{}", why);
    debug::exit(debug::EXIT_FAILURE);
    // Only reached on hardware without a debugger attached.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    fail(format_args!("panic: {info}"))
}

/// A fault is a bug: say where it happened instead of spinning silently.
// SAFETY: cortex-m-rt requires `unsafe fn` for this handler; it only reads the frame it is
// given and stops the program.
#[allow(unsafe_code)]
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    fail(format_args!("hard fault at pc={:#010x}", frame.pc()))
}
