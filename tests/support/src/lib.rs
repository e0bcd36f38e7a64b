//! Test support for tcplink: a second host on the in-memory link and a simulated clock.
//!
//! A [`Sim`] wires the device under test (an [`App`]) and a [`Peer`] (a plain smoltcp
//! interface with client sockets) to the two ends of a [`Link`], and runs them in one thread.
//! Time is simulated: when nothing is in flight the clock jumps to the next deadline, so a
//! 60 s timeout takes microseconds. Runs are deterministic.
//!
//! Memory is leaked on purpose (`Box::leak`): everything a smoltcp socket set borrows must
//! outlive it, and a test process is short.

mod client;
mod dns_server;
mod faults;
mod forge;
mod http_server;
mod pki;
mod tls_server;

pub use client::{Client, Outcome, Step};
pub use dns_server::{DnsServer, TYPE_A, TYPE_AAAA};
pub use faults::{faulty, FaultStats, Faults, FaultyPort, Shuffle};
pub use forge::{Forger, RecordCounter};
pub use http_server::{End, HttpServer, Response};
pub use pki::{pem, Issuer, KeyKind, ServerCert, Validity};
/// The seeded RNG the TLS tests give the device.
pub use rand_chacha;
/// The certificate parameters [`Issuer::intermediate_with`] and [`Issuer::server_with`] edit.
pub use rcgen;
/// The TLS library of the peer's server (its cipher suite and group names).
pub use rustls;
pub use tls_server::{
    hello_extension, key_share_groups, server_name, supported_groups, Forgery, TlsBehaviour,
    TlsServer,
};

use managed::ManagedSlice;
use sha2::{Digest, Sha256};
use smoltcp::iface::{SocketHandle, SocketStorage};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address, Ipv6Address};
use tcplink::dhcp::DhcpEvent;
use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
use tcplink::http::{
    BodySink, HttpClient, HttpConfig, HttpError, HttpEvent, HttpStorage, NoTls, Secure, SinkError,
};
use tcplink::link::{Link, Port};
pub use tcplink::time::earliest;
use tcplink::tls::{TlsLayer, TlsStorage, UnixClock, Verify};
use tcplink::{App, Handler, Service, Stack, StackConfig, TcpBuffers};

/// The device under test: 10.0.0.2/24.
pub const DEVICE_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
/// The peer host: 10.0.0.1/24.
pub const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
/// The device's IPv6 address, fd00::2/64, when [`DeviceSetup::ipv6`] asks for one.
pub const DEVICE_IP6: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
/// The peer host's IPv6 address: fd00::1/64 (the peer is always dual-stack).
pub const PEER_IP6: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// Device Ethernet address (locally administered).
pub const DEVICE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// Peer Ethernet address (locally administered).
pub const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

/// Frames each end of the simulated link can queue.
pub const LINK_DEPTH: usize = 256;
/// The simulated link: device on end 0, peer on end 1.
pub type SimLink = Link<2, LINK_DEPTH>;
/// One end of the simulated link.
pub type SimPort = Port<'static, 2, LINK_DEPTH>;

/// Receive buffer of each device greeting socket: one whole read (the board's size).
pub const GREETING_RX: usize = 1024;
/// Transmit buffer of each device greeting socket: replies stream through it (the board's size).
pub const GREETING_TX: usize = 256;

/// Leaks `value` for the rest of the test process.
pub fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
}

/// Leaks `items` as a slice for the rest of the test process.
pub fn leak_vec<T>(items: Vec<T>) -> &'static mut [T] {
    Box::leak(items.into_boxed_slice())
}

/// `count` empty socket slots for a stack.
pub fn socket_storage(count: usize) -> &'static mut [SocketStorage<'static>] {
    let slots: Vec<_> = (0..count).map(|_| SocketStorage::EMPTY).collect();
    Box::leak(slots.into_boxed_slice())
}

/// A new simulated link with empty queues.
pub fn new_link() -> &'static SimLink {
    leak(SimLink::new())
}

/// A device event, owned so it can be kept after the poll that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// From the greeting server.
    Greeting(GreetingEvent),
    /// DNS answered.
    Resolved(IpAddress),
    /// The GET connected.
    Connected(IpEndpoint),
    /// A response head: status and the head as printed.
    Head {
        /// Status code.
        status: u16,
        /// The head's text (Display of the event).
        text: String,
    },
    /// A redirect was followed.
    Redirect {
        /// Status of the redirect.
        status: u16,
        /// Where to.
        to: String,
    },
    /// The GET completed.
    Done {
        /// Final status.
        status: u16,
        /// Body bytes.
        body_len: u64,
    },
    /// The GET failed.
    Failed(HttpError),
    /// From DHCP.
    Dhcp(DhcpEvent),
}

impl From<HttpEvent<'_>> for Recorded {
    fn from(event: HttpEvent<'_>) -> Self {
        match event {
            HttpEvent::Resolved { addr } => Self::Resolved(addr),
            HttpEvent::Connected { remote } => Self::Connected(remote),
            HttpEvent::Head(head) => Self::Head {
                status: head.status,
                text: head.to_string(),
            },
            HttpEvent::Redirect { status, to } => Self::Redirect {
                status,
                to: to.to_string(),
            },
            HttpEvent::Done { status, body_len } => Self::Done { status, body_len },
            HttpEvent::Failed(error) => Self::Failed(error),
            other => panic!("an HTTP event the test kit does not know: {other}"),
        }
    }
}

/// Bodies up to this size are kept whole for byte-exact checks; larger ones only hashed.
pub const BODY_KEEP: usize = 1 << 20;

/// The platform side of the device: collects events (with their simulated time) and bodies.
pub struct Events {
    /// Every event so far, in order.
    pub list: Vec<(Instant, Recorded)>,
    /// The body bytes (only the first [`BODY_KEEP`] bytes are kept).
    pub body: Vec<u8>,
    /// Body bytes received in all.
    pub body_len: u64,
    /// SHA-256 of all body bytes.
    pub body_hash: Sha256,
    /// Body writes seen (how many pieces the body came in).
    pub body_writes: u64,
    /// Refuse body bytes after this many (to test sink errors).
    pub body_limit: Option<u64>,
    now: Instant,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            body: Vec::new(),
            body_len: 0,
            body_hash: Sha256::new(),
            body_writes: 0,
            body_limit: None,
            now: Instant::ZERO,
        }
    }
}

impl Events {
    /// SHA-256 of the body so far, as hex.
    pub fn body_sha256(&self) -> String {
        hex(&self.body_hash.clone().finalize())
    }

    /// The GET's final outcome, if it has ended.
    pub fn http_outcome(&self) -> Option<Result<(u16, u64), HttpError>> {
        self.list.iter().rev().find_map(|(_, e)| match e {
            Recorded::Done { status, body_len } => Some(Ok((*status, *body_len))),
            Recorded::Failed(error) => Some(Err(*error)),
            _ => None,
        })
    }
}

impl Handler<GreetingEvent> for Events {
    fn event(&mut self, event: GreetingEvent) {
        self.list.push((self.now, Recorded::Greeting(event)));
    }
}

impl Handler<HttpEvent<'_>> for Events {
    fn event(&mut self, event: HttpEvent<'_>) {
        self.list.push((self.now, event.into()));
    }
}

impl Handler<DhcpEvent> for Events {
    fn event(&mut self, event: DhcpEvent) {
        self.list.push((self.now, Recorded::Dhcp(event)));
    }
}

impl BodySink for Events {
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        if self
            .body_limit
            .is_some_and(|limit| self.body_len + chunk.len() as u64 > limit)
        {
            return Err(SinkError);
        }
        let keep = BODY_KEEP.saturating_sub(self.body.len()).min(chunk.len());
        self.body.extend_from_slice(&chunk[..keep]);
        self.body_len += chunk.len() as u64;
        self.body_hash.update(chunk);
        self.body_writes += 1;
        Ok(())
    }
}

/// SHA-256 of `data`, as hex.
pub fn sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic pseudo-random bytes (xorshift), for bodies.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The normal-OS side: a smoltcp interface with client sockets, each run by a [`Client`].
pub struct Peer {
    /// The peer's stack.
    pub stack: Stack<'static>,
    port: SimPort,
    clients: Vec<(SocketHandle, Client)>,
    next_port: u16,
    /// HTTP servers on the peer.
    pub http: Vec<HttpServer>,
    /// The DNS responder on the peer, if started.
    pub dns: Option<DnsServer>,
    /// TLS servers on the peer.
    pub tls: Vec<TlsServer>,
}

impl Peer {
    /// A peer at [`PEER_IP`] on end 1 of `link`, with room for `sockets` sockets.
    pub fn new(link: &'static SimLink, sockets: usize, now: Instant) -> Self {
        let mut port = link.port(1);
        let storage = socket_storage(sockets);
        let config = StackConfig::new(PEER_MAC, PEER_IP.octets(), 24)
            .with_seed(0x5eed_0001)
            .with_ipv6(PEER_IP6, 64);
        Self {
            stack: Stack::new(&config, &mut port, storage, now),
            port,
            clients: Vec::new(),
            next_port: 49152,
            http: Vec::new(),
            dns: None,
            tls: Vec::new(),
        }
    }

    /// Starts a TLS server on `port` presenting `cert`; returns its index.
    pub fn serve_tls(&mut self, port: u16, cert: &ServerCert, behaviour: TlsBehaviour) -> usize {
        let server = TlsServer::new(
            &mut self.stack,
            port,
            2,
            cert.chain.clone(),
            cert.key_der.clone(),
            behaviour,
        );
        self.tls.push(server);
        self.tls.len() - 1
    }

    /// Starts an HTTP server on `port` with `sockets` connections; returns its index.
    pub fn serve_http(&mut self, port: u16, sockets: usize) -> usize {
        let server = HttpServer::new(&mut self.stack, port, sockets);
        self.http.push(server);
        self.http.len() - 1
    }

    /// Starts the DNS responder with `records`: A records for IPv4 addresses, AAAA for
    /// IPv6 (a name may have both).
    pub fn serve_dns<A: Into<IpAddress> + Copy>(
        &mut self,
        records: &[(&str, A)],
    ) -> &mut DnsServer {
        let mut dns = DnsServer::new(&mut self.stack);
        for (name, addr) in records {
            dns.add(name, (*addr).into());
        }
        self.dns.insert(dns)
    }

    /// Starts `client` on a new socket connecting to `remote`; returns its index.
    pub fn connect(&mut self, remote: IpEndpoint, mut client: Client, now: Instant) -> usize {
        let handle = if client.is_slow() {
            self.stack
                .add_tcp(leak(TcpBuffers::<{ client::SLOW_WINDOW }, 16384>::new()))
        } else {
            self.stack.add_tcp(leak(TcpBuffers::<16384, 16384>::new()))
        };
        // Acknowledge at once, as a desktop stack does at the end of a connection, so the
        // device sees the last ACK of one session and the next SYN in the same burst.
        self.stack.tcp(handle).set_ack_delay(None);
        let local = self.next_port;
        self.next_port = self.next_port.wrapping_add(1).max(49152);
        self.stack
            .connect(handle, remote, local)
            .expect("connect on a fresh socket");
        client.started_at = now;
        client.local_port = local;
        self.clients.push((handle, client));
        self.clients.len() - 1
    }

    /// Starts a plain TCP server on `port` that runs `script` with the first client that
    /// connects (one connection, like `nc -l`); returns its index among the clients.
    pub fn listen(&mut self, port: u16, mut script: Client, now: Instant) -> usize {
        let handle = self.stack.add_tcp(leak(TcpBuffers::<16384, 16384>::new()));
        let socket = self.stack.tcp(handle);
        socket.set_ack_delay(None);
        socket.listen(port).expect("listen on a fresh socket");
        script.started_at = now;
        script.local_port = port;
        self.clients.push((handle, script));
        self.clients.len() - 1
    }

    /// Client number `index`.
    pub fn client(&self, index: usize) -> &Client {
        &self.clients[index].1
    }

    /// All clients, in the order they were started.
    pub fn clients(&self) -> impl Iterator<Item = &Client> {
        self.clients.iter().map(|(_, c)| c)
    }

    /// Moves frames and runs every client; returns the next deadline.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        self.stack.poll(now, &mut self.port);
        let mut next = None;
        for (handle, client) in &mut self.clients {
            client.drive(self.stack.tcp(*handle), now);
            next = earliest(next, client.wake_at());
        }
        for server in &mut self.http {
            next = earliest(next, server.poll(&mut self.stack, now));
        }
        for server in &mut self.tls {
            server.poll(&mut self.stack, now);
        }
        if let Some(dns) = &mut self.dns {
            dns.poll(&mut self.stack);
        }
        earliest(next, self.stack.poll(now, &mut self.port))
    }
}

/// Receive buffer of the device's GET socket: the window the body streams through.
pub const HTTP_RX: usize = 4096;
/// Transmit buffer of the device's GET socket: the request, whose longest URL is
/// [`HTTP_URL`] bytes.
pub const HTTP_TX: usize = HTTP_URL + 1024;

/// What the device under test runs.
#[derive(Debug, Clone, Default)]
pub struct DeviceSetup {
    /// The greeting server, if any.
    pub greeting: Option<GreetingConfig>,
    /// The GET client, if any.
    pub http: Option<HttpConfig>,
    /// DNS servers for the GET client.
    pub dns: Vec<IpAddress>,
    /// Whether the device also has [`DEVICE_IP6`]/64 (then it looks names up AAAA first).
    pub ipv6: bool,
    /// Whether the device runs SLAAC (learns addresses and a router from advertisements).
    pub slaac: bool,
    /// How bad the device's network is (none by default).
    pub faults: Faults,
    /// HTTPS for the GET client (none: `https://` is unsupported).
    pub tls: Option<TlsSetup>,
}

/// The device's TLS layer.
#[derive(Debug, Clone, Default)]
pub struct TlsSetup {
    /// Trusted CA certificates, DER; empty with `insecure`.
    pub anchors: Vec<Vec<u8>>,
    /// No verification at all.
    pub insecure: bool,
    /// The wall clock for validity dates.
    pub clock: Option<UnixClock>,
    /// Seed of the device's (deterministic, test-only) random source.
    pub seed: u64,
    /// A 768-byte receive record buffer (max_fragment_length 512) instead of 16,640.
    pub small_records: bool,
    /// RSA signatures checked by the host's [`tcplink_rsa::Rsa`] (as `tcplink-tap` does);
    /// without it the device knows ECDSA only, as a board does.
    pub rsa: bool,
    /// Which TLS engine runs behind the GET client's `Secure` seam.
    pub engine: TlsEngine,
}

/// The TLS engines a device can run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsEngine {
    /// The core's embedded-tls layer ([`TlsLayer`]): no heap, TLS 1.3, AES-128-GCM, as a
    /// board runs it.
    #[default]
    Embedded,
    /// [`tcplink_rustls::RustlsLayer`]: TLS 1.2 and 1.3, all common groups and suites, as
    /// tcplink-tap runs it by default (`small_records` and `rsa` do not apply: rustls takes
    /// any record and checks RSA itself).
    Rustls,
}

impl TlsEngine {
    /// Both engines, for tests that must hold over each.
    pub const ALL: [Self; 2] = [Self::Embedded, Self::Rustls];
}

impl TlsSetup {
    /// Trusts `anchors` (DER), the clock of the host for dates.
    pub fn trusting(anchors: &[&[u8]]) -> Self {
        Self {
            anchors: anchors.iter().map(|a| a.to_vec()).collect(),
            insecure: false,
            clock: Some(system_clock),
            seed: 1,
            small_records: false,
            rsa: false,
            engine: TlsEngine::Embedded,
        }
    }

    /// [`trusting`](Self::trusting) with `engine`.
    pub fn trusting_with(anchors: &[&[u8]], engine: TlsEngine) -> Self {
        Self {
            engine,
            ..Self::trusting(anchors)
        }
    }
}

/// The host's wall clock, Unix seconds.
pub fn system_clock() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The device's TLS layer for `setup`, leaked for the test.
fn tls_layer(setup: &TlsSetup) -> &'static mut dyn Secure {
    use rand_chacha::rand_core::SeedableRng;
    let anchors: Vec<&'static [u8]> = setup
        .anchors
        .iter()
        .map(|a| &*leak_vec(a.clone()))
        .collect();
    let anchors: &'static [&'static [u8]] = leak_vec(anchors);
    let verify = if setup.insecure {
        Verify::Insecure
    } else {
        Verify::Anchors {
            anchors,
            clock: setup.clock,
            more: setup
                .rsa
                .then_some(&tcplink_rsa::Rsa as &dyn tcplink::tls::SignatureCheck),
        }
    };
    if setup.engine == TlsEngine::Rustls {
        return leak(tcplink_rustls::RustlsLayer::new(verify));
    }
    let rng = rand_chacha::ChaCha20Rng::seed_from_u64(setup.seed);
    if setup.small_records {
        let storage = leak(TlsStorage::<768, { tcplink::tls::RECORD_TX }>::new());
        let (wire, task) = storage.split(rng, verify);
        let task = core::pin::Pin::static_mut(leak(task));
        return leak(TlsLayer::new(wire, task));
    }
    let storage = leak(TlsStorage::<
        { tcplink::tls::RECORD_RX },
        { tcplink::tls::RECORD_TX },
    >::new());
    let (wire, task) = storage.split(rng, verify);
    let task = core::pin::Pin::static_mut(leak(task));
    leak(TlsLayer::new(wire, task))
}

/// Response head capacity of the device's GET client: tcplink-tap's (lower limits come from
/// [`HttpConfig`]).
pub const HTTP_HEAD: usize = 64 * 1024;
/// URL capacity of the device's GET client: tcplink-tap's.
pub const HTTP_URL: usize = 8 * 1024;
/// Header capacity of the device's GET client: tcplink-tap's.
pub const HTTP_HEADERS: usize = 128;
/// The device's GET client, with a TLS layer when the setup asks for one.
pub type DeviceHttp = HttpClient<HTTP_HEAD, HTTP_URL, HTTP_HEADERS, &'static mut dyn Secure>;

/// The device's services: a greeting server on `N` sockets and a GET client, each optional.
pub type DeviceServices<const N: usize> = (Option<GreetingServer<N>>, Option<DeviceHttp>);
/// The device's app.
pub type DeviceApp<const N: usize> = App<'static, DeviceServices<N>>;

/// A device under test: an [`App`] running services `S` on end 0 of the link.
pub struct Node<S> {
    /// The app under test.
    pub app: App<'static, S>,
    /// Its network interface; change its fault settings to break the link mid-run.
    pub port: FaultyPort,
    /// What the reordering/duplicating stage did.
    pub fault_stats: &'static std::cell::Cell<FaultStats>,
}

impl<S> Node<S> {
    /// A device at [`DEVICE_IP`] (and [`DEVICE_IP6`], SLAAC, faults as `setup` says) whose
    /// services `build` adds to its stack. The stack's socket set grows as sockets join, as
    /// tcplink-tap's does, and has room to park `park` sockets.
    pub fn build(
        link: &'static SimLink,
        setup: &DeviceSetup,
        park: usize,
        now: Instant,
        build: impl FnOnce(&mut Stack<'static>) -> S,
    ) -> Self {
        let (mut port, fault_stats) = faulty(link.port(0), setup.faults);
        let storage = ManagedSlice::Owned(Vec::with_capacity(park + 4));
        let mut stack_config =
            StackConfig::new(DEVICE_MAC, DEVICE_IP.octets(), 24).with_seed(0x5eed_0002);
        if setup.ipv6 {
            stack_config = stack_config.with_ipv6(DEVICE_IP6, 64);
        }
        if setup.slaac {
            stack_config = stack_config.with_slaac();
        }
        let mut stack =
            Stack::new(&stack_config, &mut port, storage, now).with_parking(socket_storage(park));
        let services = build(&mut stack);
        Self {
            app: App::new(stack, services),
            port,
            fault_stats,
        }
    }
}

/// The seed's device: a greeting server on `N` sockets and a GET client, as `setup` says.
pub type Device<const N: usize> = Node<DeviceServices<N>>;

impl<const N: usize> Device<N> {
    /// A device at [`DEVICE_IP`] running what `setup` says (greeting on `N` sockets).
    pub fn new(link: &'static SimLink, setup: &DeviceSetup, now: Instant) -> Self {
        // Room to park every greeting socket, as tcplink-tap gives (spare ones are parked).
        Node::build(link, setup, N, now, |stack| {
            let greeting = setup.greeting.map(|config| {
                let buffers = leak([const { TcpBuffers::<GREETING_RX, GREETING_TX>::new() }; N]);
                GreetingServer::<N>::new(config, stack, buffers)
            });
            let http = setup.http.map(|config| {
                let storage = leak(HttpStorage::<HTTP_RX, HTTP_TX>::new());
                let secure: &'static mut dyn Secure = match &setup.tls {
                    Some(tls) => tls_layer(tls),
                    None => leak(NoTls),
                };
                HttpClient::new(config, stack, storage, &setup.dns).with_secure(secure)
            });
            (greeting, http)
        })
    }
}

/// A device handler the harness tells the simulated time before each poll, so it can
/// stamp what it records (the default ignores it).
pub trait Observer {
    /// The simulated time of the poll about to run.
    fn now(&mut self, now: Instant) {
        let _ = now;
    }
}

impl Observer for Events {
    fn now(&mut self, now: Instant) {
        self.now = now;
    }
}

impl Observer for tcplink::Ignore {}

/// A device running services `S` that report to `H`, a peer, a link between them, and a
/// simulated clock: the harness for any composition of services.
pub struct Net<S, H> {
    /// Simulated time now.
    pub now: Instant,
    /// The link between device and peer.
    pub link: &'static SimLink,
    /// The device under test (boxed: a GET client's buffers are too big to move around a
    /// test thread's stack).
    pub device: Box<Node<S>>,
    /// The peer host.
    pub peer: Peer,
    /// What the device reported: the platform's handler.
    pub events: H,
    /// The device address clients connect to ([`DEVICE_IP`] unless changed).
    pub device_addr: IpAddress,
}

/// The seed's simulation: the [`Device`] (greeting + GET) and a peer.
pub type Sim<const N: usize> = Net<DeviceServices<N>, Events>;

impl<S: Service<H>, H: Observer> Net<S, H> {
    /// `device` on `link`, reporting to `events`, and a peer with room for `sockets`.
    pub fn with_device(link: &'static SimLink, device: Node<S>, events: H, sockets: usize) -> Self {
        let now = Instant::ZERO;
        Self {
            now,
            link,
            device: Box::new(device),
            peer: Peer::new(link, sockets, now),
            events,
            device_addr: DEVICE_IP.into(),
        }
    }

    /// Starts a scripted client against `port` of the device; returns its index.
    pub fn connect(&mut self, port: u16, client: Client) -> usize {
        let remote = IpEndpoint::new(self.device_addr, port);
        self.peer.connect(remote, client, self.now)
    }

    /// One round at the current time; returns the earliest deadline of either side.
    pub fn step(&mut self) -> Option<Instant> {
        self.events.now(self.now);
        let device = self
            .device
            .app
            .poll(self.now, &mut self.device.port, &mut self.events);
        let peer = self.peer.poll(self.now);
        earliest(device, peer)
    }

    /// Runs until `done` holds or `limit` of simulated time has passed since the call;
    /// returns whether `done` held. Time jumps to the next deadline whenever the link is quiet.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            let next = self.step();
            if done(self) {
                return true;
            }
            if self.link.in_flight() > 0 {
                continue;
            }
            if self.now >= end {
                return false;
            }
            // Quiet link: jump to the next deadline (at least 1 ms on, so time always moves).
            let next = next.unwrap_or(end).max(self.now + Duration::from_millis(1));
            self.now = next.min(end);
        }
    }

    /// Lets `duration` of simulated time pass, serving whatever happens meanwhile.
    pub fn advance(&mut self, duration: Duration) {
        self.run_until(duration, |_| false);
    }

    /// Runs until every client is finished, or panics after `limit` of simulated time.
    pub fn run_clients(&mut self, limit: Duration) {
        let finished = self.run_until(limit, |sim| sim.peer.clients().all(Client::finished));
        assert!(
            finished,
            "clients not finished after {limit}: {:#?}",
            self.peer.clients.iter().map(|(_, c)| c).collect::<Vec<_>>()
        );
    }
}

impl<const N: usize> Sim<N> {
    /// A device running `setup`, and a peer with room for `sockets` sockets.
    pub fn new(setup: &DeviceSetup, sockets: usize) -> Self {
        let link = new_link();
        let device = Device::new(link, setup, Instant::ZERO);
        Self::with_device(link, device, Events::default(), sockets)
    }

    /// A greeting server with `config` on `N` sockets reached over IPv6 at [`DEVICE_IP6`],
    /// and a peer with room for `clients`.
    pub fn greeting_v6(config: GreetingConfig, clients: usize) -> Self {
        let setup = DeviceSetup {
            greeting: Some(config),
            ipv6: true,
            ..DeviceSetup::default()
        };
        let mut sim = Self::new(&setup, clients);
        sim.device_addr = DEVICE_IP6.into();
        sim
    }

    /// A device with the GET client over `tls` (asking the peer for DNS), and a peer serving
    /// TLS with `cert` on 443 as `behaviour` says and DNS for `files.test` and `other.test`.
    pub fn https(tls: TlsSetup, cert: &ServerCert, behaviour: TlsBehaviour) -> Self {
        let mut sim = Self::https_device(tls);
        sim.peer.serve_tls(443, cert, behaviour);
        sim
    }

    /// [`https`](Self::https) with the peer serving nothing on 443 yet (for a test's own
    /// server, e.g. one that sends forged handshake bytes).
    pub fn https_device(tls: TlsSetup) -> Self {
        let setup = DeviceSetup {
            http: Some(HttpConfig::default()),
            dns: vec![PEER_IP.into()],
            tls: Some(tls),
            ..DeviceSetup::default()
        };
        let mut sim = Self::new(&setup, 16);
        sim.peer
            .serve_dns(&[("files.test", PEER_IP), ("other.test", PEER_IP)]);
        sim
    }

    /// A greeting server with `config` on `N` sockets, and a peer with room for `clients`.
    pub fn greeting(config: GreetingConfig, clients: usize) -> Self {
        let setup = DeviceSetup {
            greeting: Some(config),
            ..DeviceSetup::default()
        };
        Self::new(&setup, clients)
    }

    /// Starts a GET on the device.
    pub fn get(&mut self, url: &str) -> Result<(), HttpError> {
        let now = self.now;
        self.http_mut().ok_or(HttpError::NoClient)?.get(url, now)
    }

    /// The device's greeting server.
    ///
    /// # Panics
    /// If the setup had none.
    pub fn greeting_server(&self) -> &GreetingServer<N> {
        self.device
            .app
            .services()
            .0
            .as_ref()
            .expect("a greeting server")
    }

    /// The device's GET client, if the setup has one.
    pub fn http_mut(&mut self) -> Option<&mut DeviceHttp> {
        self.device.app.services_mut().1.as_mut()
    }

    /// Runs until the GET ends (or `limit` passes); returns its outcome.
    pub fn run_get(&mut self, limit: Duration) -> Option<Result<(u16, u64), HttpError>> {
        self.run_until(limit, |sim| sim.events.http_outcome().is_some());
        self.events.http_outcome()
    }

    /// The device's greeting endpoint.
    pub fn server(&self) -> IpEndpoint {
        let port = self
            .device
            .app
            .services()
            .0
            .as_ref()
            .map_or(9999, |s| s.config().port);
        IpEndpoint::new(self.device_addr, port)
    }

    /// Starts a client against the device's greeting server; returns its index.
    pub fn start(&mut self, client: Client) -> usize {
        let server = self.server();
        self.peer.connect(server, client, self.now)
    }

    /// The device's events, without their times.
    pub fn event_list(&self) -> Vec<Recorded> {
        self.events.list.iter().map(|(_, e)| e.clone()).collect()
    }

    /// The text of every response head the device reported, in order.
    pub fn heads(&self) -> Vec<String> {
        self.events
            .list
            .iter()
            .filter_map(|(_, e)| match e {
                Recorded::Head { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Checks what a greeting client received against what it sent.
///
/// `received` must be `Welcome` followed by `Hello, m!` replies whose messages `m`, in order,
/// spell a prefix of `sent` with its framing removed. Line feeds are framing; carriage
/// returns are compared loosely (ignored on both sides): a `\r` is framing before a `\n` in
/// the same read and data otherwise, and where reads split depends on the network (the exact
/// rule is unit-tested in `tcplink::framing`). Returns how many bytes of the unframed input
/// were echoed, or `None` if `received` is not such a sequence.
pub fn greeting_echo(sent: &[u8], received: &[u8]) -> Option<usize> {
    let content: Vec<u8> = sent
        .iter()
        .copied()
        .filter(|&b| b != b'\n' && b != b'\r')
        .collect();
    let replies = received.strip_prefix(b"Welcome")?;
    echo_from(
        replies,
        0,
        &content,
        0,
        &mut std::collections::HashMap::new(),
    )
}

/// Depth-first: replies from `at` echo content from `echoed`. Messages may contain `!` and
/// `Hello, `, so a reply sequence can parse more than one way; the longest echo wins.
fn echo_from(
    replies: &[u8],
    at: usize,
    content: &[u8],
    echoed: usize,
    memo: &mut std::collections::HashMap<(usize, usize), Option<usize>>,
) -> Option<usize> {
    if at == replies.len() {
        return Some(echoed);
    }
    if let Some(&known) = memo.get(&(at, echoed)) {
        return known;
    }
    let body = replies[at..].strip_prefix(b"Hello, ")?;
    // Walk the message once: wherever a `!` could end it, try the rest; stop at the first
    // byte that cannot be the input's next (CRs are skipped, see above).
    let mut best = None;
    let mut matched = 0;
    for (len, &byte) in body.iter().enumerate() {
        if byte == b'!' && len > 0 {
            let rest = echo_from(replies, at + 7 + len + 1, content, echoed + matched, memo);
            best = best.max(rest);
        }
        if byte == b'\r' {
            continue;
        }
        if content.get(echoed + matched) != Some(&byte) {
            break;
        }
        matched += 1;
    }
    memo.insert((at, echoed), best);
    best
}
