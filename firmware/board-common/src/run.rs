//! The board's network settings and storage, and the one function that builds the core's
//! `App` and polls it forever ([`run`]): the greeting server on port 9999 and, when built
//! with `--features get` and `TCPLINK_GET_URL=http://...`, one HTTP GET whose head, body
//! size and FNV-1a hash it logs (the body itself is not kept: a board has nowhere to save
//! it). With `dhcp` the address (and DNS server) comes from a DHCP lease instead of the
//! static 192.168.69.2; with `ipv6` the board also has fd00:69::2/64 and its link-local
//! address; with `tls` the URL may be `https://...` (TLS 1.3, verified against the CA
//! compiled in from `TCPLINK_CA_DER`), and after the GET the board logs its stack high-water
//! mark and its longest `App::poll`.

use core::marker::PhantomData;

use smoltcp::iface::SocketStorage;
#[cfg(feature = "get")]
use smoltcp::wire::{IpAddress, Ipv4Address};
#[cfg(feature = "dhcp")]
use tcplink::dhcp::DhcpEvent;
use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
#[cfg(feature = "get")]
use tcplink::http::{BodySink, HttpClient, HttpConfig, HttpEvent, HttpStorage, SinkError};
use tcplink::smoltcp;
use tcplink::text::TextOut;
#[cfg(feature = "tls")]
use tcplink::tls::{TlsLayer, TlsStorage, Verify};
use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};

use crate::clock::Clock;
#[cfg(feature = "tls")]
use crate::cost;
#[cfg(feature = "tls")]
use crate::entropy;
#[cfg(feature = "tls")]
use crate::fault::fail;
use crate::{Console, Counters, Frames, Nic};

/// Locally administered station address for the board.
pub const MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x69, 0x00, 0x02];
const DEVICE_IP: [u8; 4] = [192, 168, 69, 2];
const PREFIX: u8 = 24;
const GATEWAY: [u8; 4] = [192, 168, 69, 1];
/// The static IPv6 address and prefix (`ipv6` feature); the link-local address comes from
/// the MAC.
#[cfg(feature = "ipv6")]
const DEVICE_IP6: smoltcp::wire::Ipv6Address =
    smoltcp::wire::Ipv6Address::new(0xfd00, 0x69, 0, 0, 0, 0, 0, 2);
#[cfg(feature = "ipv6")]
const PREFIX6: u8 = 64;

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

/// The URL to GET once at boot, chosen at build time (build.rs insists on it).
#[cfg(feature = "get")]
const GET_URL: &str = env!("TCPLINK_GET_URL");
/// DNS server for a GET by host name (a literal IP needs none), chosen at build time.
#[cfg(feature = "get")]
const DNS_SERVER: Option<&str> = option_env!("TCPLINK_DNS");
/// The GET's TCP receive buffer: the window the body streams through (six frames; smoltcp
/// caps it further to what the driver's `max_burst_size` says the controller holds). Its
/// transmit buffer only holds the request.
#[cfg(feature = "get")]
const HTTP_RX: usize = 8192;
#[cfg(feature = "get")]
const HTTP_TX: usize = 512;
/// Response head and URL buffers inside the client.
#[cfg(feature = "get")]
const HTTP_HEAD: usize = 2048;
#[cfg(feature = "get")]
const HTTP_URL: usize = 256;
/// TLS record buffers: 768 B receives a record of 512 B of data (the client asks the server
/// for max_fragment_length 512 because this is below a full 16 KiB record); 1 KiB sends the
/// ClientHello and the request.
#[cfg(feature = "tls")]
const TLS_RX: usize = 768;
#[cfg(feature = "tls")]
const TLS_TX: usize = 1024;
/// The one CA an `https://` server's chain must lead to (DER, from `TCPLINK_CA_DER`).
#[cfg(feature = "tls")]
const TRUST_ANCHORS: &[&[u8]] = &[include_bytes!(concat!(env!("OUT_DIR"), "/ca.der"))];

/// Socket slots: the greeting server's, plus the GET's TCP and DNS sockets if it runs, plus
/// the DHCP client's.
const SOCKETS: usize = GREETING_SOCKETS
    + if cfg!(feature = "get") { 2 } else { 0 }
    + if cfg!(feature = "dhcp") { 1 } else { 0 };

type GreetingBuffers = [TcpBuffers<GREETING_RX, GREETING_TX>; GREETING_SOCKETS];
type Greeting = GreetingServer<GREETING_SOCKETS, GREETING_MSG>;
/// The GET client exists only in builds with a URL, so a serving-only board links no HTTP
/// code and reserves no HTTP buffers (and the core is built without its `http` feature).
#[cfg(feature = "get")]
type Http = HttpClient<HTTP_HEAD, HTTP_URL>;
#[cfg(not(feature = "get"))]
type Http = ();
/// DHCP exists only in builds that ask for it.
#[cfg(feature = "dhcp")]
type Dhcp = tcplink::dhcp::Dhcp;
#[cfg(not(feature = "dhcp"))]
type Dhcp = ();
/// With TLS the client holds the TLS task, whose type has no name, so that app lives in
/// `run`'s frame (which never returns) instead of a static. DHCP runs first, so a lease
/// reaches the GET in the same poll.
#[cfg(not(feature = "tls"))]
type BoardApp = App<'static, (Dhcp, Greeting, Http)>;

/// Runs the board's network over `nic` forever: the static address (or DHCP), the greeting
/// server, and by feature the GET. `seed` varies smoltcp's sequence numbers from boot to
/// boot (not cryptographic: e.g. a free-running counter read at boot).
///
/// Inlined into the board's `main`, as it was written there before it was shared: 250 B
/// less flash than a call (LTO then lays out smoltcp's receive path as it did).
#[inline(always)]
pub fn run<N: Nic>(
    nic: &'static mut Frames<N>,
    mut clock: Clock,
    mut console: Console,
    seed: u32,
) -> ! {
    let config = stack_config(seed);

    // Statics, each taken once: the RAM they use is fixed at build time (.bss). Built slot
    // by slot: each empty slot is its tag alone, where `[SocketStorage::EMPTY; SOCKETS]`
    // would copy the whole 320-byte constant from flash.
    let storage = cortex_m::singleton!(: [SocketStorage<'static>; SOCKETS] =
        core::array::from_fn(|_| SocketStorage::default()))
    .expect("taken once");
    let greeting_buffers = cortex_m::singleton!(: GreetingBuffers =
        [const { TcpBuffers::new() }; GREETING_SOCKETS])
    .expect("taken once");

    let mut stack = Stack::new(&config, nic, storage, clock.now());
    let greeting_config = GreetingConfig::default();
    let greeting = Greeting::new(greeting_config, &mut stack, greeting_buffers);
    if let Some(ip) = stack.ipv4() {
        console.put("greeting: listening on ");
        console.ipv4(ip);
        console.put(":");
        console.decimal(u64::from(greeting_config.port));
        console.end_line();
    }
    // `ipv6: fe80::ff:fe69:2/64`, `ipv6: fd00:69::2/64`: the server listens on these too.
    #[cfg(feature = "ipv6")]
    for cidr in stack.ipv6_addresses() {
        console.put("ipv6: ");
        console.ipv6(cidr.address());
        console.put("/");
        console.decimal(u64::from(cidr.prefix_len()));
        console.end_line();
    }
    serve(stack, greeting, nic, clock, console)
}

/// The interface settings: the board's MAC, the static address and gateway (none with
/// `dhcp`: the lease brings them), fd00:69::2/64 with `ipv6`.
fn stack_config(seed: u32) -> StackConfig {
    let mut config = StackConfig::new(MAC, DEVICE_IP, PREFIX)
        .with_gateway(GATEWAY)
        .with_seed(0x7463_706c_696e_6b00 ^ u64::from(seed));
    if cfg!(feature = "dhcp") {
        // The lease brings address, gateway and DNS server.
        config.ip = None;
        config.gateway = None;
    }
    #[cfg(feature = "ipv6")]
    {
        config = config.with_ipv6(DEVICE_IP6, PREFIX6);
    }
    config
}

/// Builds the `App` (greeting server, then by feature DHCP, the GET and its TLS layer) and
/// polls it forever, sleeping until a frame interrupt or the next deadline.
#[inline(always)]
fn serve<N: Nic>(
    stack: Stack<'static>,
    greeting: Greeting,
    nic: &'static mut Frames<N>,
    mut clock: Clock,
    console: Console,
) -> ! {
    let mut log = Log::<N> {
        _nic: PhantomData,
        console,
        #[cfg(feature = "get")]
        body: Body::default(),
        #[cfg(feature = "tls")]
        finished: false,
    };
    #[allow(unused_mut)]
    let mut stack = stack;
    // The TLS session's memory and its task, for an `https://` URL. The task is pinned in
    // this frame: `serve` never returns.
    #[cfg(feature = "tls")]
    let tls_storage =
        cortex_m::singleton!(: TlsStorage<TLS_RX, TLS_TX> = TlsStorage::new()).expect("taken once");
    #[cfg(feature = "tls")]
    let Some(rng) = entropy::rng() else {
        fail(|out| out.put("entropy: no seed from the host (semihosting target=native)"))
    };
    #[cfg(feature = "tls")]
    let (wire, task) = tls_storage.split(
        rng,
        Verify::Anchors {
            anchors: TRUST_ANCHORS,
            clock: Some(entropy::unix_time),
            more: None,
        },
    );
    #[cfg(feature = "tls")]
    let task = core::pin::pin!(task);
    #[cfg(feature = "tls")]
    let mut tls = TlsLayer::new(wire, task);
    // The lease is logged as `DHCP: address A/P, gateway G, DNS D`.
    #[cfg(feature = "dhcp")]
    let dhcp = Dhcp::new(&mut stack);
    #[cfg(not(feature = "dhcp"))]
    let dhcp = ();
    #[cfg(feature = "get")]
    let http = {
        let storage = cortex_m::singleton!(: HttpStorage<HTTP_RX, HTTP_TX> = HttpStorage::new())
            .expect("taken once");
        let dns: Option<IpAddress> = DNS_SERVER
            .and_then(|s| s.parse::<Ipv4Address>().ok())
            .map(IpAddress::Ipv4);
        let client = Http::new(HttpConfig::default(), &mut stack, storage, dns.as_slice());
        #[cfg(feature = "tls")]
        let client = client.with_secure(&mut tls);
        client
    };
    #[cfg(not(feature = "get"))]
    let http = ();
    #[allow(unused_mut)]
    let mut app = App::new(stack, (dhcp, greeting, http));
    #[cfg(feature = "get")]
    {
        let url = GET_URL;
        let out = &mut log.console;
        out.put("GET ");
        out.put(url);
        out.end_line();
        if let Err(e) = app.services_mut().2.get(url, clock.now()) {
            out.put("http: failed: ");
            out.line(&e);
        }
    }
    #[cfg(not(feature = "tls"))]
    let app = cortex_m::singleton!(: BoardApp = app).expect("taken once");
    #[cfg(feature = "tls")]
    let mut app = app;
    #[cfg(feature = "tls")]
    let app = &mut app;

    let mut reported = Counters::default();
    #[cfg(feature = "tls")]
    let mut timer = cost::PollTimer::default();
    loop {
        #[cfg(not(feature = "tls"))]
        let next = app.poll(clock.now(), nic, &mut log);
        #[cfg(feature = "tls")]
        let next = timer.time(&mut clock, |clock| app.poll(clock.now(), nic, &mut log));
        #[cfg(feature = "tls")]
        if core::mem::take(&mut log.finished) {
            timer.report(&mut log.console);
        }
        nic.nic
            .counters()
            .report_changes(N::COUNTERS_LINE, &mut reported, &mut log.console);

        // Sleep until a frame arrives (the controller's interrupt) or the next 1 ms tick,
        // unless there is work now. Interrupts stay masked from the check to `wfi`, so a
        // frame that lands in between leaves its interrupt pending and `wfi` returns at once.
        cortex_m::interrupt::free(|_| {
            nic.nic.arm_rx_interrupt();
            let due = next.is_some_and(|at| at <= clock.now());
            if !due && !nic.nic.rx_pending() {
                cortex_m::asm::wfi();
            }
        });
    }
}

/// Prints the applications' events over semihosting; hashes GET bodies instead of storing
/// them. Generic over the driver only so that it is compiled in the board crate, with the
/// loop (see [`LineOut`](crate::console::LineOut)).
struct Log<N> {
    _nic: PhantomData<fn() -> N>,
    console: Console,
    #[cfg(feature = "get")]
    body: Body,
    /// The GET just ended (done or failed): time to log what it cost.
    #[cfg(feature = "tls")]
    finished: bool,
}

/// What arrived of the current response's body.
#[cfg(feature = "get")]
#[derive(Default)]
struct Body {
    len: u64,
    hash: Fnv1a64,
}

/// The seed's own wording.
impl<N> Handler<GreetingEvent> for Log<N> {
    fn event(&mut self, event: GreetingEvent) {
        self.console.line(&event);
    }
}

#[cfg(feature = "dhcp")]
impl<N> Handler<DhcpEvent> for Log<N> {
    fn event(&mut self, event: DhcpEvent) {
        self.console.line(&event);
    }
}

#[cfg(feature = "get")]
impl<N> Handler<HttpEvent<'_>> for Log<N> {
    fn event(&mut self, event: HttpEvent<'_>) {
        let out = &mut self.console;
        match event {
            HttpEvent::Head(head) => {
                // A new response (after a redirect, the next one): its body starts afresh.
                self.body = Body::default();
                out.line(&head);
            }
            HttpEvent::Done { status, body_len } => {
                debug_assert_eq!(body_len, self.body.len);
                out.put("http: done, status ");
                out.decimal(u64::from(status));
                out.put(", body ");
                out.decimal(body_len);
                out.put(" bytes, fnv1a64 ");
                out.hex(self.body.hash.0, 16);
                out.end_line();
                #[cfg(feature = "tls")]
                {
                    self.finished = true;
                }
            }
            HttpEvent::Failed(e) => {
                out.put("http: failed: ");
                out.line(&e);
                #[cfg(feature = "tls")]
                {
                    self.finished = true;
                }
            }
            event => {
                out.put("http: ");
                out.line(&event);
            }
        }
    }
}

#[cfg(feature = "get")]
impl<N> BodySink for Log<N> {
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        self.body.len += chunk.len() as u64;
        self.body.hash.update(chunk);
        Ok(())
    }
}

/// FNV-1a, 64 bits: a few lines, no table, enough to tell a body arrived intact.
#[cfg(feature = "get")]
struct Fnv1a64(u64);

#[cfg(feature = "get")]
impl Default for Fnv1a64 {
    fn default() -> Self {
        Fnv1a64(0xcbf2_9ce4_8422_2325)
    }
}

#[cfg(feature = "get")]
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
