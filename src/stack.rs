//! The network stack: one smoltcp [`Interface`] and the [`SocketSet`] its sockets live in.
//!
//! The caller owns all memory: the socket slots (`[SocketStorage; K]`) and every socket's
//! byte buffers ([`TcpBuffers`]) are arrays it declares, so RAM use is fixed at compile time.
//! A std platform may give the slots as a growing `Vec` instead (see [`SocketSlots`]).

use managed::ManagedSlice;
use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet, SocketStorage,
};
use smoltcp::phy::Device;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Cidr};
#[cfg(feature = "ipv6")]
use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

#[cfg(feature = "slaac")]
use crate::discovery::Discovery;
use crate::neighbor::Neighbors;
use crate::parking::Parking;
use crate::time::earliest;

/// How the interface is addressed: built with [`StackConfig::new`] or
/// [`StackConfig::unaddressed`] and the `with_*` methods (or by assigning the fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StackConfig {
    /// The Ethernet address of this device.
    pub mac: EthernetAddress,
    /// Static IPv4 address and prefix; `None` leaves the interface unaddressed (for DHCP).
    pub ip: Option<Ipv4Cidr>,
    /// Default gateway, if any.
    pub gateway: Option<Ipv4Address>,
    /// Seed for initial sequence numbers and ephemeral ports; use a different one each boot.
    pub random_seed: u64,
    /// Static IPv6 addresses with their prefixes (the link-local one is always added).
    #[cfg(feature = "ipv6")]
    pub ipv6: [Option<Ipv6Cidr>; StackConfig::MAX_STATIC_IPV6],
    /// Whether addresses and the IPv6 default route are learned from router advertisements.
    #[cfg(feature = "slaac")]
    pub slaac: bool,
}

impl StackConfig {
    /// A static configuration: `mac`, `ip/prefix`, no gateway.
    pub const fn new(mac: [u8; 6], ip: [u8; 4], prefix: u8) -> Self {
        let mut config = Self::unaddressed(mac);
        config.ip = Some(Ipv4Cidr::new(
            Ipv4Address::new(ip[0], ip[1], ip[2], ip[3]),
            prefix,
        ));
        config
    }

    /// `mac` without an IPv4 address (for DHCP, or IPv6 alone).
    pub const fn unaddressed(mac: [u8; 6]) -> Self {
        Self {
            mac: EthernetAddress(mac),
            ip: None,
            gateway: None,
            random_seed: 0,
            #[cfg(feature = "ipv6")]
            ipv6: [None; Self::MAX_STATIC_IPV6],
            #[cfg(feature = "slaac")]
            slaac: false,
        }
    }

    /// Most static IPv6 addresses ([`with_ipv6`](Self::with_ipv6)); the interface also has
    /// the link-local address and one from SLAAC.
    #[cfg(feature = "ipv6")]
    pub const MAX_STATIC_IPV6: usize = 2;

    /// The same configuration with one more static IPv6 address `addr/prefix` (on-link:
    /// addresses within the prefix are reached directly).
    ///
    /// # Panics
    /// With more than [`MAX_STATIC_IPV6`](Self::MAX_STATIC_IPV6) addresses, or a prefix
    /// over 128: the interface has no room (a platform checks its command line first).
    #[cfg(feature = "ipv6")]
    pub const fn with_ipv6(mut self, addr: Ipv6Address, prefix: u8) -> Self {
        let mut i = 0;
        while i < Self::MAX_STATIC_IPV6 {
            if self.ipv6[i].is_none() {
                self.ipv6[i] = Some(Ipv6Cidr::new(addr, prefix));
                return self;
            }
            i += 1;
        }
        panic!("too many static IPv6 addresses (StackConfig::MAX_STATIC_IPV6)");
    }

    /// The same configuration with SLAAC: router solicitations at start-up, an address from
    /// each advertised prefix (EUI-64, from the MAC) and the advertising router as the IPv6
    /// default route.
    #[cfg(feature = "slaac")]
    pub const fn with_slaac(mut self) -> Self {
        self.slaac = true;
        self
    }

    /// The same configuration with a default gateway.
    pub const fn with_gateway(mut self, gateway: [u8; 4]) -> Self {
        self.gateway = Some(Ipv4Address::new(
            gateway[0], gateway[1], gateway[2], gateway[3],
        ));
        self
    }

    /// The same configuration with another random seed.
    pub const fn with_seed(mut self, random_seed: u64) -> Self {
        self.random_seed = random_seed;
        self
    }
}

/// The receive and transmit buffers of one TCP socket, `RX` and `TX` bytes.
pub struct TcpBuffers<const RX: usize, const TX: usize> {
    rx: [u8; RX],
    tx: [u8; TX],
}

impl<const RX: usize, const TX: usize> TcpBuffers<RX, TX> {
    /// Zeroed buffers; `const` so they can sit in a `static`.
    pub const fn new() -> Self {
        Self {
            rx: [0; RX],
            tx: [0; TX],
        }
    }
}

impl<const RX: usize, const TX: usize> Default for TcpBuffers<RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

/// Ends a TCP socket's connection without the RST that [`tcp::Socket::abort`] queues.
///
/// For a peer that never answered ARP: the RST could never leave, and smoltcp would hold the
/// socket (its remote endpoint) until it did, so the next connection could never start.
#[cfg(feature = "http")]
pub(crate) fn drop_unreachable(socket: &mut tcp::Socket) {
    socket.abort();
    // Listening resets the connection state (the pending RST with it); nothing is accepted
    // in between, and aborting a listener sends nothing.
    if socket.listen(*EPHEMERAL.start()).is_ok() {
        socket.abort();
    }
}

/// Whether a TCP socket's connection is over, so the socket can be reused at once — provided
/// the interface has sent what was queued since the last frame arrived (any
/// poll does before the services run).
///
/// smoltcp keeps the remote endpoint of an aborted socket until its RST is out, so that case
/// checks itself. TIME-WAIT does not: the ACK of the peer's FIN is queued when the FIN
/// arrives and only leaves with the next egress; reusing the socket between frames would
/// discard it (see [`Service::after_frame`](crate::Service::after_frame)). TIME-WAIT itself only guards against old
/// duplicates, which a device with a handful of sockets cannot afford to wait out.
pub fn tcp_is_free(socket: &tcp::Socket) -> bool {
    match socket.state() {
        tcp::State::Closed => socket.remote_endpoint().is_none(),
        tcp::State::TimeWait => true,
        _ => false,
    }
}

/// The sockets of a [`Stack`]: smoltcp's [`SocketSet`] (it dereferences to it), and the
/// room where a server's spare sockets are parked out of smoltcp's walks (see
/// `Stack::with_parking`).
pub struct Sockets<'s> {
    pub(crate) set: SocketSet<'s>,
    pub(crate) parking: Parking<'s>,
}

impl<'s> core::ops::Deref for Sockets<'s> {
    type Target = SocketSet<'s>;

    fn deref(&self) -> &SocketSet<'s> {
        &self.set
    }
}

impl<'s> core::ops::DerefMut for Sockets<'s> {
    fn deref_mut(&mut self) -> &mut SocketSet<'s> {
        &mut self.set
    }
}

/// A smoltcp interface and its sockets, over caller-provided storage.
pub struct Stack<'s> {
    /// The interface: addresses, routes, neighbour cache.
    pub(crate) iface: Interface,
    /// Every socket of every service.
    pub(crate) sockets: Sockets<'s>,
    /// Next local port for outgoing connections.
    next_port: u16,
    /// The default IPv4 gateway, if any.
    gateway: Option<Ipv4Address>,
    /// DNS servers the network told us about (DHCP), for services that have none of their
    /// own.
    #[cfg(feature = "dns")]
    dns_servers: heapless::Vec<IpAddress, MAX_DNS_SERVERS>,
    /// Neighbour resolution on the wire: early repeats, the watched next hop.
    neighbors: Neighbors,
    /// Where SLAAC's router discovery is (worked around in [`crate::discovery`]).
    #[cfg(feature = "slaac")]
    discovery: Discovery,
    /// The seed the interface was made with (a rebuilt one gets a fresh one from it).
    #[cfg(feature = "slaac")]
    random_seed: u64,
}

/// Most DNS servers a [`Stack`] keeps from the network ([`Stack::set_dns_servers`]).
#[cfg(feature = "dns")]
pub const MAX_DNS_SERVERS: usize = 3;

/// What one pass of the poll sequence calls back into: the services of an
/// [`App`](crate::App), behind a seam so the stack never names them.
pub(crate) trait Round<'s> {
    /// A received frame changed some socket (see [`Service::after_frame`](crate::Service::after_frame)).
    fn after_frame(&mut self, sockets: &mut Sockets<'s>) -> bool;
    /// The services' turn; true if any changed something.
    fn run(&mut self, now: Instant, stack: &mut Stack<'s>) -> bool;
    /// The services' next deadline.
    fn poll_at(&self, now: Instant) -> Option<Instant>;
}

/// No services: the poll of a bare stack.
impl<'s> Round<'s> for () {
    fn after_frame(&mut self, _: &mut Sockets<'s>) -> bool {
        false
    }

    fn run(&mut self, _: Instant, _: &mut Stack<'s>) -> bool {
        false
    }

    fn poll_at(&self, _: Instant) -> Option<Instant> {
        None
    }
}

/// Upper bound on service/egress rounds in one poll, so one call is bounded work even
/// under a flood; leftover work is reported as an immediate deadline.
const MAX_ROUNDS: usize = 8;

/// Most frames one [`Stack::poll`] takes in before it sends what is due and returns, so a
/// flood cannot hold one call (and every timer behind it) forever. Generous on purpose:
/// on a busy TAP each turn of the loop also scans every socket, so a small budget costs
/// throughput (tests/bench/RESULTS.md has the measurement).
pub const INGRESS_BUDGET: usize = 256;

/// Where the stack keeps its sockets: a slice or array of slots, fixed (at most that many
/// sockets), or a [`ManagedSlice`] that may own a `Vec` (smoltcp's `alloc` feature, std
/// platforms) growing as sockets join. smoltcp walks every slot of the set, used or not, on
/// each egress pass, deadline query and received frame; a growing set is as long as its
/// busiest moment so far, which on a server with many spare sockets parked (see
/// `Stack::with_parking`) is far less than its capacity.
pub trait SocketSlots<'s> {
    /// The slots as smoltcp's storage.
    fn into_slots(self) -> ManagedSlice<'s, SocketStorage<'s>>;
}

impl<'s> SocketSlots<'s> for &'s mut [SocketStorage<'s>] {
    fn into_slots(self) -> ManagedSlice<'s, SocketStorage<'s>> {
        ManagedSlice::Borrowed(self)
    }
}

impl<'s, const N: usize> SocketSlots<'s> for &'s mut [SocketStorage<'s>; N] {
    fn into_slots(self) -> ManagedSlice<'s, SocketStorage<'s>> {
        ManagedSlice::Borrowed(self)
    }
}

impl<'s> SocketSlots<'s> for ManagedSlice<'s, SocketStorage<'s>> {
    fn into_slots(self) -> ManagedSlice<'s, SocketStorage<'s>> {
        self
    }
}

/// What one [`Stack::ingress_with`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Polled {
    /// Some socket may have changed: the services have work.
    pub(crate) changed: bool,
    /// The frame budget ran out and more frames may be waiting: poll again at once.
    pub(crate) more: bool,
}

/// Outgoing connections use local ports from this range (RFC 6335 dynamic ports).
const EPHEMERAL: core::ops::RangeInclusive<u16> = 49152..=65535;

impl<'s> Stack<'s> {
    /// Brings up an interface on `device` with `config`, its sockets kept in `storage`
    /// (see [`SocketSlots`]).
    pub fn new<D: Device + ?Sized>(
        config: &StackConfig,
        device: &mut D,
        storage: impl SocketSlots<'s>,
        now: Instant,
    ) -> Self {
        let mut iface_config = Config::new(HardwareAddress::Ethernet(config.mac));
        iface_config.random_seed = config.random_seed;
        #[cfg(feature = "slaac")]
        {
            iface_config.slaac = config.slaac;
        }
        let storage = storage.into_slots();
        let capacity = match &storage {
            ManagedSlice::Borrowed(slots) => slots.len(),
            // A growable set (std only): it is never full.
            #[allow(unreachable_patterns)]
            _ => usize::MAX,
        };
        let mut stack = Self {
            iface: Interface::new(iface_config, device, now),
            sockets: Sockets {
                set: SocketSet::new(storage),
                parking: Parking::none(capacity),
            },
            // Start somewhere seed-dependent so a reboot does not reuse the last ports.
            next_port: *EPHEMERAL.start() + (config.random_seed % 16384) as u16,
            gateway: None,
            #[cfg(feature = "dns")]
            dns_servers: heapless::Vec::new(),
            neighbors: Neighbors::new(),
            #[cfg(feature = "slaac")]
            discovery: Discovery::new(config.slaac),
            #[cfg(feature = "slaac")]
            random_seed: config.random_seed,
        };
        #[cfg(feature = "ipv6")]
        stack.add_ipv6(config);
        stack.set_ipv4(config.ip, config.gateway);
        stack
    }

    /// Gives the stack room to park sockets that are unused for now (a server's spare
    /// ones), so smoltcp's walks over every socket skip them. Call
    /// it before adding the sockets that may be parked. Needs the `parking` feature.
    #[cfg(feature = "parking")]
    pub fn with_parking(mut self, storage: &'s mut [SocketStorage<'s>]) -> Self {
        self.sockets.parking.set_storage(storage);
        self
    }

    /// Adds the link-local address (from the MAC, EUI-64) and the static IPv6 addresses.
    #[cfg(feature = "ipv6")]
    fn add_ipv6(&mut self, config: &StackConfig) {
        const LINK_LOCAL: Ipv6Cidr =
            Ipv6Cidr::new(Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 64);
        let link_local =
            Ipv6Cidr::from_link_prefix(&LINK_LOCAL, HardwareAddress::Ethernet(config.mac));
        self.iface.update_ip_addrs(|addrs| {
            for cidr in link_local.iter().chain(config.ipv6.iter().flatten()) {
                // Room for all of them: see the `ipv6` feature's address count.
                let _ = addrs.push(IpCidr::Ipv6(*cidr));
            }
        });
    }

    /// Replaces the IPv4 address and default route (static setup, or a DHCP lease); IPv6
    /// addresses stay.
    pub fn set_ipv4(&mut self, ip: Option<Ipv4Cidr>, gateway: Option<Ipv4Address>) {
        self.gateway = gateway;
        self.iface.update_ip_addrs(|addrs| {
            // IPv4 comes first, so it has room whatever IPv6 took (one address is the least
            // capacity). Without IPv6 it is the only address.
            #[cfg(feature = "ipv6")]
            addrs.retain(|cidr| !matches!(cidr, IpCidr::Ipv4(_)));
            #[cfg(not(feature = "ipv6"))]
            addrs.clear();
            if let Some(ip) = ip {
                let _ = addrs.insert(0, IpCidr::Ipv4(ip));
            }
        });
        match gateway {
            Some(gw) => {
                // The route table has room for the default route.
                let _ = self.iface.routes_mut().add_default_ipv4_route(gw);
            }
            None => {
                self.iface.routes_mut().remove_default_ipv4_route();
            }
        }
    }

    /// The interface's IPv4 address, if it has one.
    pub fn ipv4(&self) -> Option<Ipv4Address> {
        self.iface.ipv4_addr()
    }

    /// The interface's IPv6 addresses with their prefixes: link-local, static, from SLAAC.
    #[cfg(feature = "ipv6")]
    pub fn ipv6_addresses(&self) -> impl Iterator<Item = Ipv6Cidr> + '_ {
        self.iface.ip_addrs().iter().filter_map(|cidr| match cidr {
            IpCidr::Ipv6(cidr) => Some(*cidr),
            IpCidr::Ipv4(_) => None,
        })
    }

    /// The first IPv6 address beyond the link (static or from SLAAC), if any: with it the
    /// device can reach IPv6 hosts other than its link-local neighbours.
    #[cfg(feature = "ipv6")]
    pub fn global_ipv6(&self) -> Option<Ipv6Address> {
        self.ipv6_addresses()
            .map(|cidr| cidr.address())
            .find(|addr| !addr.is_unicast_link_local())
    }

    /// The IPv6 default router, learned from router advertisements (SLAAC), if any.
    #[cfg(feature = "ipv6")]
    pub fn ipv6_router(&self) -> Option<Ipv6Address> {
        match self.iface.routes().get_default_ipv6_route()?.via_router {
            IpAddress::Ipv6(router) => Some(router),
            IpAddress::Ipv4(_) => None,
        }
    }

    /// Whether `addr` is one of this interface's own addresses.
    pub fn is_own(&self, addr: IpAddress) -> bool {
        self.iface.has_ip_addr(addr)
    }

    /// Where frames for `addr` go: `addr` itself on a subnet of the interface, else the
    /// gateway of its family; `None`: no route (off the subnets and no gateway, or no address
    /// of that family at all).
    pub fn next_hop(&self, addr: IpAddress) -> Option<IpAddress> {
        let on_subnet = self
            .iface
            .ip_addrs()
            .iter()
            .any(|cidr| cidr.contains_addr(&addr));
        if on_subnet {
            return Some(addr);
        }
        match addr {
            IpAddress::Ipv4(_) => self.gateway.map(IpAddress::Ipv4),
            #[cfg(feature = "ipv6")]
            IpAddress::Ipv6(_) => self.ipv6_router().map(IpAddress::Ipv6),
        }
    }

    /// Starts watching neighbour resolution (ARP, or IPv6 neighbour discovery) for
    /// `next_hop` (`None`: stop), for [`neighbor_unanswered`](Self::neighbor_unanswered).
    pub fn watch_neighbor(&mut self, next_hop: Option<IpAddress>) {
        self.neighbors.watch(next_hop);
    }

    /// The watched next hop, if this device asked for its link-layer address (ARP request
    /// or neighbour solicitation) and it never answered.
    pub fn neighbor_unanswered(&self) -> Option<IpAddress> {
        self.neighbors.unanswered()
    }

    /// Adds a TCP socket whose buffers are `buffers`.
    ///
    /// # Panics
    /// If the socket storage is full: storage is sized once, at build time.
    pub fn add_tcp<const RX: usize, const TX: usize>(
        &mut self,
        buffers: &'s mut TcpBuffers<RX, TX>,
    ) -> SocketHandle {
        let socket = tcp::Socket::new(
            tcp::SocketBuffer::new(&mut buffers.rx[..]),
            tcp::SocketBuffer::new(&mut buffers.tx[..]),
        );
        self.sockets.add(socket)
    }

    /// The sockets, to reach a service's socket by its handle.
    pub fn sockets(&self) -> &Sockets<'s> {
        &self.sockets
    }

    /// The sockets, mutably (see [`sockets`](Self::sockets)).
    pub fn sockets_mut(&mut self) -> &mut Sockets<'s> {
        &mut self.sockets
    }

    /// Adds any smoltcp socket (UDP, DNS, raw...) to the set; TCP sockets over
    /// [`TcpBuffers`] are simpler through [`add_tcp`](Self::add_tcp).
    ///
    /// # Panics
    /// If the socket storage is full.
    pub fn add_socket<T: smoltcp::socket::AnySocket<'s>>(&mut self, socket: T) -> SocketHandle {
        self.sockets.add(socket)
    }

    /// The TCP socket `handle`.
    ///
    /// # Panics
    /// If `handle` is not a TCP socket of this stack (a parked one is not).
    pub fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'s> {
        self.sockets.set.get_mut::<tcp::Socket>(handle)
    }

    /// Opens a connection from TCP socket `handle` to `remote`, from `local_port` (`0`: the
    /// next [`ephemeral_port`](Self::ephemeral_port)).
    pub fn connect(
        &mut self,
        handle: SocketHandle,
        remote: impl Into<smoltcp::wire::IpEndpoint>,
        local_port: u16,
    ) -> Result<(), tcp::ConnectError> {
        let local_port = match local_port {
            0 => self.ephemeral_port(),
            port => port,
        };
        let socket = self.sockets.set.get_mut::<tcp::Socket>(handle);
        socket.connect(self.iface.context(), remote, local_port)
    }

    /// The smoltcp interface, to read what this API does not wrap (routes, the neighbour
    /// cache, the hardware address).
    pub fn iface(&self) -> &Interface {
        &self.iface
    }

    /// The smoltcp interface, mutably: an escape hatch (e.g. to add an address at run
    /// time). Changing the addresses behind a running service's back is the caller's risk.
    pub fn iface_mut(&mut self) -> &mut Interface {
        &mut self.iface
    }

    /// The DNS servers the network gave (a DHCP lease), for services configured with none.
    #[cfg(feature = "dns")]
    pub fn dns_servers(&self) -> &[IpAddress] {
        &self.dns_servers
    }

    /// Replaces the DNS servers learned from the network (DHCP does); the first
    /// [`MAX_DNS_SERVERS`] are kept.
    #[cfg(feature = "dns")]
    pub fn set_dns_servers(&mut self, servers: &[IpAddress]) {
        let kept = &servers[..servers.len().min(MAX_DNS_SERVERS)];
        // Fits: at most the capacity.
        self.dns_servers = heapless::Vec::from_slice(kept).unwrap_or_default();
    }

    /// A local port for a new outgoing connection (cycles through the dynamic range).
    pub fn ephemeral_port(&mut self) -> u16 {
        let port = self.next_port;
        self.next_port = if port == *EPHEMERAL.end() {
            *EPHEMERAL.start()
        } else {
            port + 1
        };
        port
    }

    /// Moves frames between `device` and the sockets of a stack that runs no services (a
    /// test peer whose sockets are driven from outside): the same sequence as
    /// [`App::poll`](crate::App::poll). Returns when to call again even if no frame arrives.
    pub fn poll<D: Device + ?Sized>(&mut self, now: Instant, device: &mut D) -> Option<Instant> {
        self.run(now, device, &mut ())
    }

    /// The one poll sequence (see [`crate::service`]): frames in with the per-frame hook,
    /// the services, egress while anything changed, neighbour repeats, the next deadline.
    pub(crate) fn run<D: Device + ?Sized, R: Round<'s>>(
        &mut self,
        now: Instant,
        device: &mut D,
        round: &mut R,
    ) -> Option<Instant> {
        // Frames in (up to the budget, and at most one read that finds nothing: that is a
        // wasted system call on a TAP).
        let polled = self.ingress(now, device, round);
        // Then the services, and what they and the frames queued out, until they are
        // done. Sending once after the services rather than also before them saves a
        // walk over every socket per call (smoltcp's egress looks at each one). Frames that
        // arrive meanwhile wait for the next call, which the platform makes at once: its
        // wait returns as soon as a frame is there.
        let mut more = false;
        for pass in 0..MAX_ROUNDS {
            more = round.run(now, self);
            if pass > 0 && !more {
                break;
            }
            self.egress_once(now, device);
            if !more {
                break;
            }
        }
        self.neighbors
            .send_due(now, &mut self.neighbors.device(device));
        // One egress pass sends one segment per socket; a socket with more to send says
        // so through the deadline, which is needed anyway (so no pass is spent finding that
        // nothing is left).
        let mut next = self.poll_at(now);
        for _ in 0..MAX_ROUNDS {
            if next.is_none_or(|at| at > now) || !self.egress_once(now, device) {
                break;
            }
            next = self.poll_at(now);
        }
        next = earliest(next, round.poll_at(now));
        if more || polled.more {
            next = Some(now);
        }
        next
    }

    /// Frames in: at most [`INGRESS_BUDGET`], the round's per-frame hook after each that
    /// changed a socket; nothing sent unless the hook asks.
    fn ingress<D: Device + ?Sized, R: Round<'s>>(
        &mut self,
        now: Instant,
        device: &mut D,
        round: &mut R,
    ) -> Polled {
        let mut polled = Polled {
            changed: false,
            more: true,
        };
        #[cfg(feature = "slaac")]
        self.watch_discovery(now, device);
        self.iface.poll_maintenance(now);
        let device = &mut self.neighbors.device(device);
        for _ in 0..INGRESS_BUDGET {
            match self
                .iface
                .poll_ingress_single(now, device, &mut self.sockets.set)
            {
                PollIngressSingleResult::None => {
                    polled.more = false;
                    break;
                }
                PollIngressSingleResult::PacketProcessed => {}
                PollIngressSingleResult::SocketStateChanged => {
                    polled.changed = true;
                    if round.after_frame(&mut self.sockets) {
                        send_queued(&mut self.iface, &mut self.sockets.set, now, device);
                        round.after_frame(&mut self.sockets);
                    }
                }
            }
        }
        polled
    }

    /// One pass of smoltcp's egress: each socket sends at most one segment. True if any did.
    ///
    /// Repeating passes until one sends nothing wastes that last pass (a walk over every
    /// socket) whenever each socket had one segment to send, the usual case for a server's
    /// answers. A socket with more to send makes [`poll_at`](Self::poll_at) say `now`, so
    /// the sequence asks that instead.
    fn egress_once<D: Device + ?Sized>(&mut self, now: Instant, device: &mut D) -> bool {
        let device = &mut self.neighbors.device(device);
        self.iface.poll_egress(now, device, &mut self.sockets.set) == PollResult::SocketStateChanged
    }

    /// When the interface next needs a poll even if no frame arrives: a timer of smoltcp's,
    /// or the next neighbour-request repeat.
    fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        let next = earliest(
            self.iface.poll_at(now, &self.sockets.set),
            self.neighbors.poll_at(),
        );
        #[cfg(feature = "slaac")]
        let next = earliest(next, self.discovery.poll_at(now));
        next
    }

    /// Follows SLAAC's router discovery; once it is over unanswered, rebuilds the interface
    /// without SLAAC, with the same addresses and IPv4 route (see [`crate::discovery`]).
    #[cfg(feature = "slaac")]
    fn watch_discovery<D: Device + ?Sized>(&mut self, now: Instant, device: &mut D) {
        let learned = self.ipv6_router().is_some();
        if !self
            .discovery
            .unanswered(now, self.ipv6_addresses().count(), learned)
        {
            return;
        }
        let mut config = Config::new(self.iface.hardware_addr());
        // A fresh seed: the same one would replay the initial sequence numbers.
        config.random_seed = self.random_seed ^ now.total_micros() as u64;
        let mut iface = Interface::new(config, device, now);
        let addrs = self.iface.ip_addrs();
        iface.update_ip_addrs(|new| {
            for cidr in addrs {
                // Same capacity.
                let _ = new.push(*cidr);
            }
        });
        if let Some(gateway) = self.gateway {
            // The route table has room for the default route.
            let _ = iface.routes_mut().add_default_ipv4_route(gateway);
        }
        self.iface = iface;
    }
}

/// Sends what the sockets have queued; true if any socket may have changed.
fn send_queued<D: Device + ?Sized>(
    iface: &mut Interface,
    sockets: &mut SocketSet<'_>,
    now: Instant,
    device: &mut D,
) -> bool {
    let mut changed = false;
    while iface.poll_egress(now, device, sockets) == PollResult::SocketStateChanged {
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Link;
    use smoltcp::phy::TxToken as _;

    #[test]
    fn one_poll_takes_in_at_most_the_budget() {
        const EXTRA: usize = 10;
        let link: Link<2, { INGRESS_BUDGET + EXTRA }, 64> = Link::new();
        let (mut device, mut flood) = (link.port(0), link.port(1));
        let mut storage = [SocketStorage::EMPTY; 1];
        let config = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 2], 24);
        let mut stack = Stack::new(&config, &mut device, &mut storage, Instant::ZERO);
        // Frames for some other host: read, looked at, dropped.
        for _ in 0..INGRESS_BUDGET + EXTRA {
            let tx = flood
                .transmit(Instant::ZERO)
                .expect("a link takes every frame");
            tx.consume(60, |frame| {
                frame.fill(0);
                frame[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x99]);
                frame[12..14].copy_from_slice(&[0x08, 0x00]);
            });
        }
        let first = stack.poll(Instant::ZERO, &mut device);
        assert_eq!(
            first,
            Some(Instant::ZERO),
            "the budget ran out: poll again at once"
        );
        assert_eq!(link.in_flight(), EXTRA);
        let second = stack.poll(Instant::ZERO, &mut device);
        assert_eq!(second, None, "nothing left");
        assert_eq!(link.in_flight(), 0);
    }

    #[cfg(feature = "ipv6")]
    #[test]
    fn a_dhcp_lease_keeps_the_ipv6_addresses() {
        let link: Link<2, 4, 64> = Link::new();
        let mut device = link.port(0);
        let mut storage = [SocketStorage::EMPTY; 1];
        let fd00 = |last| Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, last);
        const CONFIG: StackConfig = StackConfig::unaddressed([2, 0, 0, 0, 0, 1])
            .with_ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2), 64)
            .with_ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 3), 64);
        let mut stack = Stack::new(&CONFIG, &mut device, &mut storage, Instant::ZERO);
        let v6 = |stack: &Stack<'_>| {
            stack
                .ipv6_addresses()
                .map(|cidr| cidr.address())
                .collect::<heapless::Vec<_, 4>>()
        };
        let link_local = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1);
        let want = [link_local, fd00(2), fd00(3)];
        assert_eq!(v6(&stack), want);
        assert_eq!(stack.ipv4(), None);
        assert_eq!(stack.global_ipv6(), Some(fd00(2)));
        let lease = Ipv4Cidr::new(Ipv4Address::new(10, 0, 0, 2), 24);
        stack.set_ipv4(Some(lease), Some(Ipv4Address::new(10, 0, 0, 1)));
        assert_eq!(stack.ipv4(), Some(lease.address()));
        assert_eq!(v6(&stack), want);
        stack.set_ipv4(None, None);
        assert_eq!((stack.ipv4(), v6(&stack)), (None, want.into()));
        // On-link within a static prefix, else through a router (none yet).
        assert_eq!(stack.next_hop(fd00(9).into()), Some(fd00(9).into()));
        assert_eq!(
            stack.next_hop(Ipv6Address::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into()),
            None
        );
    }

    #[cfg(feature = "ipv6")]
    #[test]
    #[should_panic(expected = "too many static IPv6 addresses")]
    fn a_third_static_ipv6_address_is_refused() {
        let addr = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
        let _ = StackConfig::unaddressed([2, 0, 0, 0, 0, 1])
            .with_ipv6(addr, 64)
            .with_ipv6(addr, 64)
            .with_ipv6(addr, 64);
    }
}
