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

pub use client::{Client, Outcome, Step};

use smoltcp::iface::{SocketHandle, SocketStorage};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};
use tcplink::app::{App, Event};
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::link::{Link, Port};
use tcplink::stack::{Stack, StackConfig, TcpBuffers};

/// The device under test: 10.0.0.2/24.
pub const DEVICE_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
/// The peer host: 10.0.0.1/24.
pub const PEER_IP: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
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

/// Receive buffer of each device greeting socket.
pub const GREETING_RX: usize = 2048;
/// Transmit buffer of each device greeting socket (holds a 1024-byte read's replies).
pub const GREETING_TX: usize = 2048;

/// Leaks `value` for the rest of the test process.
pub fn leak<T>(value: T) -> &'static mut T {
    Box::leak(Box::new(value))
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

/// Collects the device's events with the simulated time they happened at.
pub struct Events {
    /// Every event so far, in order.
    pub list: Vec<(Instant, Event)>,
    now: Instant,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            now: Instant::ZERO,
        }
    }
}

impl tcplink::app::Handler for Events {
    fn event(&mut self, event: Event) {
        self.list.push((self.now, event));
    }
}

/// The normal-OS side: a smoltcp interface with client sockets, each run by a [`Client`].
pub struct Peer {
    /// The peer's stack.
    pub stack: Stack<'static>,
    port: SimPort,
    clients: Vec<(SocketHandle, Client)>,
    next_port: u16,
}

impl Peer {
    /// A peer at [`PEER_IP`] on end 1 of `link`, with room for `sockets` sockets.
    pub fn new(link: &'static SimLink, sockets: usize, now: Instant) -> Self {
        let mut port = link.port(1);
        let storage = socket_storage(sockets);
        let config = StackConfig::new(PEER_MAC, PEER_IP.octets(), 24).with_seed(0x5eed_0001);
        Self {
            stack: Stack::new(&config, &mut port, storage, now),
            port,
            clients: Vec::new(),
            next_port: 49152,
        }
    }

    /// Starts `client` on a new socket connecting to `remote`; returns its index.
    pub fn connect(&mut self, remote: IpEndpoint, mut client: Client, now: Instant) -> usize {
        let handle = self.stack.add_tcp(leak(TcpBuffers::<65536, 65536>::new()));
        let socket = self.stack.sockets.get_mut::<tcp::Socket>(handle);
        let local = self.next_port;
        self.next_port = self.next_port.wrapping_add(1).max(49152);
        socket
            .connect(self.stack.iface.context(), remote, local)
            .expect("connect on a fresh socket");
        client.started_at = now;
        client.local_port = local;
        self.clients.push((handle, client));
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
            let socket = self.stack.sockets.get_mut::<tcp::Socket>(*handle);
            client.drive(socket, now);
            next = earliest(next, client.wake_at());
        }
        self.stack.poll(now, &mut self.port);
        earliest(next, self.stack.poll_at(now))
    }
}

/// The device under test: the tcplink [`App`] on end 0 of the link.
pub struct Device<const N: usize> {
    /// The app under test.
    pub app: App<'static, N>,
    port: SimPort,
}

impl<const N: usize> Device<N> {
    /// A device at [`DEVICE_IP`] running the greeting server with `config` on `N` sockets.
    pub fn greeting(link: &'static SimLink, config: GreetingConfig, now: Instant) -> Self {
        let mut port = link.port(0);
        let storage = socket_storage(N + 4);
        let stack_config =
            StackConfig::new(DEVICE_MAC, DEVICE_IP.octets(), 24).with_seed(0x5eed_0002);
        let mut stack = Stack::new(&stack_config, &mut port, storage, now);
        let buffers = leak([const { TcpBuffers::<GREETING_RX, GREETING_TX>::new() }; N]);
        let server = GreetingServer::<N>::new(config, &mut stack, buffers);
        Self {
            app: App::new(stack).with_greeting(server),
            port,
        }
    }
}

/// A device, a peer, a link between them, and a simulated clock.
pub struct Sim<const N: usize> {
    /// Simulated time now.
    pub now: Instant,
    /// The link between device and peer.
    pub link: &'static SimLink,
    /// The device under test.
    pub device: Device<N>,
    /// The peer host.
    pub peer: Peer,
    /// What the device reported.
    pub events: Events,
}

impl<const N: usize> Sim<N> {
    /// A greeting server with `config` on `N` sockets, and a peer with room for `clients`.
    pub fn greeting(config: GreetingConfig, clients: usize) -> Self {
        let link = new_link();
        let now = Instant::ZERO;
        Self {
            now,
            link,
            device: Device::greeting(link, config, now),
            peer: Peer::new(link, clients, now),
            events: Events::default(),
        }
    }

    /// The device's greeting endpoint.
    pub fn server(&self) -> IpEndpoint {
        let port = self.device.app.greeting().map_or(9999, |s| s.config().port);
        IpEndpoint::new(IpAddress::Ipv4(DEVICE_IP), port)
    }

    /// Starts a client against the device's greeting server; returns its index.
    pub fn start(&mut self, client: Client) -> usize {
        let server = self.server();
        self.peer.connect(server, client, self.now)
    }

    /// One round at the current time; returns the earliest deadline of either side.
    pub fn step(&mut self) -> Option<Instant> {
        self.events.now = self.now;
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

    /// The device's events, without their times.
    pub fn event_list(&self) -> Vec<Event> {
        self.events.list.iter().map(|(_, e)| *e).collect()
    }
}

/// The earlier of two optional deadlines.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
