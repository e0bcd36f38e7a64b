//! Neighbour resolution as seen on the wire: the stack's first request for a next hop is
//! repeated early until answered, and one next hop is watched so a connect that fails can say
//! "no ARP reply from X" (or "no neighbour advertisement from X" for IPv6) instead of a bare
//! timeout.
//!
//! smoltcp asks for a next hop's hardware address once and then stays silent for a fixed
//! second, and keeps its neighbour cache private. The frames are the only witness, so a
//! [`Resolving`] device wraps the platform's device inside [`Stack`](crate::stack::Stack)'s
//! polls and shows every frame to one [`Neighbors`] record:
//!
//! * A request the stack sends is copied and sent again 20, 60, 140 and 300 ms after the
//!   first while no answer has come (then smoltcp's own 1 s retry takes over). A first
//!   answer is lost more often than one would think: a TAP's host side drops what it sends
//!   before its kernel has activated the link, and any link can drop a frame. The repeats
//!   cost four small frames, and only when nothing answers in time.
//! * While a connection is being made, whether its next hop was asked for and answered.
//!
//! What counts as a request and as an answer is decided in one place (`Sighting::read`):
//! ARP requests and replies, and with the `ipv6` feature IPv6 neighbour solicitations and
//! advertisements, which have the same shape (a solicitation asks for its target and tells
//! its sender; an advertisement tells its target).

use core::cell::RefCell;

use smoltcp::phy::{self, Device, DeviceCapabilities, PacketMeta};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, IpAddress};
#[cfg(feature = "ipv6")]
use smoltcp::wire::{Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Packet, NdiscRepr};

/// Delay of each repeat after the previous send; then the stack's own 1 s retry takes over.
const REPEATS: [Duration; 4] = [
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
    Duration::from_millis(160),
];

/// Room for the request frame: ARP is 42 bytes, an IPv6 neighbour solicitation (with the
/// source link-layer option) 86; an IPv4-only build keeps only the room ARP needs.
const FRAME: usize = if cfg!(feature = "ipv6") { 86 } else { 42 };

/// What one frame says about neighbour resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sighting {
    /// The address whose link-layer address the frame tells: its sender's (any ARP packet
    /// teaches its sender, a request as much as a reply).
    told: IpAddress,
    /// The address the frame asks for, if it is a request (not a gratuitous announcement,
    /// which asks for its own address).
    asked: Option<IpAddress>,
}

impl Sighting {
    /// Reads `frame`; `None` if it is not about neighbour resolution.
    fn read(frame: &[u8]) -> Option<Self> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        match eth.ethertype() {
            EthernetProtocol::Arp => Self::arp(eth.payload()),
            #[cfg(feature = "ipv6")]
            EthernetProtocol::Ipv6 => Self::ndisc(eth.payload()),
            _ => None,
        }
    }

    /// An ARP packet: a request asks for its target; any ARP packet tells its sender.
    fn arp(payload: &[u8]) -> Option<Self> {
        match ArpRepr::parse(&ArpPacket::new_checked(payload).ok()?).ok()? {
            ArpRepr::EthernetIpv4 {
                operation,
                source_protocol_addr,
                target_protocol_addr,
                ..
            } => Some(Self {
                told: source_protocol_addr.into(),
                asked: (operation == ArpOperation::Request
                    && source_protocol_addr != target_protocol_addr)
                    .then_some(target_protocol_addr.into()),
            }),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// An IPv6 packet, if it is neighbour discovery: a solicitation asks for its target and
    /// tells its sender (unless it is a duplicate address probe, sent from `::`); an
    /// advertisement tells its target.
    #[cfg(feature = "ipv6")]
    fn ndisc(payload: &[u8]) -> Option<Self> {
        let ip = Ipv6Packet::new_checked(payload).ok()?;
        if ip.next_header() != IpProtocol::Icmpv6 {
            return None;
        }
        let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        // Checksums are smoltcp's business; this only looks.
        let caps = smoltcp::phy::ChecksumCapabilities::ignored();
        match Icmpv6Repr::parse(&src, &dst, &icmp, &caps).ok()? {
            Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target_addr, .. })
                if !src.is_unspecified() =>
            {
                Some(Self {
                    told: src.into(),
                    asked: Some(target_addr.into()),
                })
            }
            Icmpv6Repr::Ndisc(NdiscRepr::NeighborAdvert { target_addr, .. }) => Some(Self {
                told: target_addr.into(),
                asked: None,
            }),
            _ => None,
        }
    }
}

/// The request being repeated.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// Whose address is asked for.
    target: IpAddress,
    frame: [u8; FRAME],
    len: usize,
    /// Repeats sent so far.
    repeats: usize,
    /// When the next repeat is due; `None` once they are all out.
    next: Option<Instant>,
}

/// What was seen of resolution for the watched next hop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Watch {
    target: Option<IpAddress>,
    asked: bool,
    answered: bool,
}

#[derive(Debug, Default)]
struct State {
    pending: Option<Pending>,
    watch: Watch,
}

impl State {
    fn sent(&mut self, frame: &[u8], now: Instant) {
        let Some(target) = Sighting::read(frame).and_then(|s| s.asked) else {
            return;
        };
        if self.watch.target == Some(target) {
            self.watch.asked = true;
        }
        // The stack's own retry of the same request does not start the repeats again: they
        // are for the first request only.
        if frame.len() <= FRAME && self.pending.is_none_or(|p| p.target != target) {
            let mut copy = [0; FRAME];
            copy[..frame.len()].copy_from_slice(frame);
            self.pending = Some(Pending {
                target,
                frame: copy,
                len: frame.len(),
                repeats: 0,
                next: Some(now + REPEATS[0]),
            });
        }
    }

    fn received(&mut self, frame: &[u8]) {
        let Some(told) = Sighting::read(frame).map(|s| s.told) else {
            return;
        };
        if self.watch.target == Some(told) {
            self.watch.answered = true;
        }
        if self.pending.is_some_and(|p| p.target == told) {
            self.pending = None;
        }
    }
}

/// The stack's record of neighbour resolution: the request being repeated, the next hop
/// being watched.
#[derive(Debug, Default)]
pub struct Neighbors {
    state: RefCell<State>,
}

impl Neighbors {
    /// Nothing asked, nothing watched.
    pub const fn new() -> Self {
        Self {
            state: RefCell::new(State {
                pending: None,
                watch: Watch {
                    target: None,
                    asked: false,
                    answered: false,
                },
            }),
        }
    }

    /// `device`, with every frame shown to this record.
    pub fn device<'a, D: Device + ?Sized>(&'a self, device: &'a mut D) -> Resolving<'a, D> {
        Resolving {
            device,
            state: &self.state,
        }
    }

    /// Starts watching `next_hop` afresh (`None`: stop), for [`unanswered`](Self::unanswered).
    pub fn watch(&self, next_hop: Option<IpAddress>) {
        self.state.borrow_mut().watch = Watch {
            target: next_hop,
            ..Watch::default()
        };
    }

    /// The watched next hop, if it was asked for and never answered (a request from it
    /// counts as an answer).
    pub fn unanswered(&self) -> Option<IpAddress> {
        let watch = self.state.borrow().watch;
        watch.target.filter(|_| watch.asked && !watch.answered)
    }

    /// When [`send_due`](Self::send_due) must run next, if a request waits for its answer.
    pub fn poll_at(&self) -> Option<Instant> {
        self.state.borrow().pending.and_then(|p| p.next)
    }

    /// Sends the pending request again on `device` if its time has come. `device` may be
    /// this record's own [`Resolving`] wrapper.
    pub fn send_due<D: Device + ?Sized>(&self, now: Instant, device: &mut D) {
        let (frame, len) = {
            let mut state = self.state.borrow_mut();
            let Some(p) = state
                .pending
                .as_mut()
                .filter(|p| p.next.is_some_and(|at| now >= at))
            else {
                return;
            };
            p.repeats += 1;
            p.next = REPEATS.get(p.repeats).map(|delay| now + *delay);
            (p.frame, p.len)
        };
        // A device with no room now drops this repeat; the next one (or the stack's) follows.
        if let Some(tx) = device.transmit(now) {
            phy::TxToken::consume(tx, len, |buffer| buffer.copy_from_slice(&frame[..len]));
        }
    }
}

/// The platform's device, with every frame shown to a [`Neighbors`] record.
pub struct Resolving<'a, D: ?Sized> {
    device: &'a mut D,
    state: &'a RefCell<State>,
}

impl<D: Device + ?Sized> Device for Resolving<'_, D> {
    type RxToken<'b>
        = RxToken<'b, D::RxToken<'b>>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b, D::TxToken<'b>>
    where
        Self: 'b;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let state = self.state;
        let (rx, tx) = self.device.receive(now)?;
        Some((
            RxToken { token: rx, state },
            TxToken {
                token: tx,
                state,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let state = self.state;
        let token = self.device.transmit(now)?;
        Some(TxToken { token, state, now })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.device.capabilities()
    }
}

/// A received frame, shown to the record before smoltcp reads it.
pub struct RxToken<'a, T> {
    token: T,
    state: &'a RefCell<State>,
}

impl<T: phy::RxToken> phy::RxToken for RxToken<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let state = self.state;
        self.token.consume(|frame| {
            state.borrow_mut().received(frame);
            f(frame)
        })
    }

    fn meta(&self) -> PacketMeta {
        self.token.meta()
    }
}

/// Room for a frame, shown to the record after smoltcp wrote it.
pub struct TxToken<'a, T> {
    token: T,
    state: &'a RefCell<State>,
    now: Instant,
}

impl<T: phy::TxToken> phy::TxToken for TxToken<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let (state, now) = (self.state, self.now);
        self.token.consume(len, |frame| {
            let result = f(frame);
            state.borrow_mut().sent(frame, now);
            result
        })
    }

    fn set_meta(&mut self, meta: PacketMeta) {
        self.token.set_meta(meta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Link;
    use smoltcp::phy::{RxToken as _, TxToken as _};
    use smoltcp::wire::{EthernetAddress, EthernetRepr, Ipv4Address};

    type Wire = Link<2, 8, 128>;
    /// An ARP frame's length.
    const ARP: usize = 42;

    const DEVICE: Ipv4Address = Ipv4Address::new(192, 168, 69, 2);
    const HOST: Ipv4Address = Ipv4Address::new(192, 168, 69, 1);

    fn arp_frame(operation: ArpOperation, from: Ipv4Address, to: Ipv4Address) -> [u8; ARP] {
        let mac = EthernetAddress([2, 0, 0, 0, 0, from.octets()[3]]);
        let arp = ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: mac,
            source_protocol_addr: from,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: to,
        };
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let mut frame = [0; ARP];
        let mut packet = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut packet);
        arp.emit(&mut ArpPacket::new_unchecked(packet.payload_mut()));
        frame
    }

    /// The stack sends `frame` through the wrapper at `at`.
    fn send(neighbors: &Neighbors, wire: &Wire, at: Instant, frame: &[u8]) {
        let mut port = wire.port(0);
        let mut device = neighbors.device(&mut port);
        let tx = device.transmit(at).unwrap();
        tx.consume(frame.len(), |buf| buf.copy_from_slice(frame));
    }

    /// The peer sends `frame`; the stack reads it through the wrapper at `at`. Returns what
    /// the stack was given.
    fn deliver(neighbors: &Neighbors, wire: &Wire, at: Instant, frame: &[u8; ARP]) -> [u8; ARP] {
        let mut peer = wire.port(1);
        let tx = peer.transmit(at).unwrap();
        tx.consume(ARP, |buf| buf.copy_from_slice(frame));
        let mut port = wire.port(0);
        let mut device = neighbors.device(&mut port);
        let (rx, _) = device.receive(at).unwrap();
        rx.consume(|frame| frame.try_into().unwrap())
    }

    /// The peer's end takes one frame off the wire, if any.
    fn take(wire: &Wire) -> Option<[u8; ARP]> {
        let mut peer = wire.port(1);
        let (rx, _) = peer.receive(Instant::ZERO)?;
        rx.consume(|frame| frame.try_into().ok())
    }

    /// Runs the stack's side every millisecond from `from` to `until`: sends what is due, and
    /// notes when each frame reached the peer. Returns the times, in ms, and how many.
    fn run(neighbors: &Neighbors, wire: &Wire, from: i64, until: i64) -> ([i64; 8], usize) {
        let (mut times, mut count) = ([0; 8], 0);
        for ms in from..=until {
            // Through the wrapper, as the stack does.
            let mut port = wire.port(0);
            neighbors.send_due(Instant::from_millis(ms), &mut neighbors.device(&mut port));
            while let Some(frame) = take(wire) {
                assert_eq!(frame, arp_frame(ArpOperation::Request, DEVICE, HOST));
                times[count] = ms;
                count += 1;
            }
        }
        (times, count)
    }

    #[test]
    fn an_unanswered_request_is_repeated_early_then_left_to_the_stack() {
        let (neighbors, wire) = (Neighbors::new(), Wire::new());
        let request = arp_frame(ArpOperation::Request, DEVICE, HOST);
        send(&neighbors, &wire, Instant::ZERO, &request);
        let (times, count) = run(&neighbors, &wire, 0, 999);
        assert_eq!(times[..count], [0, 20, 60, 140, 300]);
        assert_eq!(neighbors.poll_at(), None);
        // The stack's own retry after 1 s is passed on, not repeated again.
        send(&neighbors, &wire, Instant::from_millis(1000), &request);
        assert_eq!(neighbors.poll_at(), None);
        assert_eq!(run(&neighbors, &wire, 1000, 2000).1, 1);
    }

    #[test]
    fn the_answer_ends_the_repeats() {
        let (neighbors, wire) = (Neighbors::new(), Wire::new());
        send(
            &neighbors,
            &wire,
            Instant::ZERO,
            &arp_frame(ArpOperation::Request, DEVICE, HOST),
        );
        assert_eq!(run(&neighbors, &wire, 0, 20).1, 2);
        assert_eq!(neighbors.poll_at(), Some(Instant::from_millis(60)));
        let reply = arp_frame(ArpOperation::Reply, HOST, DEVICE);
        let given = deliver(&neighbors, &wire, Instant::from_millis(21), &reply);
        assert_eq!(given, reply, "passed on unchanged");
        assert_eq!(neighbors.poll_at(), None);
        assert_eq!(run(&neighbors, &wire, 21, 999).1, 0);
    }

    #[test]
    fn other_frames_are_not_repeated() {
        let (neighbors, wire) = (Neighbors::new(), Wire::new());
        // A reply, and a gratuitous announcement (asks for its own address).
        let reply = arp_frame(ArpOperation::Reply, DEVICE, HOST);
        let gratuitous = arp_frame(ArpOperation::Request, DEVICE, DEVICE);
        let mut ip = arp_frame(ArpOperation::Request, DEVICE, HOST);
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        for frame in [reply, gratuitous, ip] {
            send(&neighbors, &wire, Instant::ZERO, &frame);
            assert_eq!(take(&wire), Some(frame));
        }
        assert_eq!(neighbors.poll_at(), None);
        assert_eq!(run(&neighbors, &wire, 0, 999).1, 0);
    }

    #[test]
    fn a_watched_next_hop_is_unanswered_only_if_asked_and_silent() {
        let (neighbors, wire) = (Neighbors::new(), Wire::new());
        let request = arp_frame(ArpOperation::Request, DEVICE, HOST);
        // Asked while nobody watched: nothing to report.
        send(&neighbors, &wire, Instant::ZERO, &request);
        assert_eq!(neighbors.unanswered(), None);
        neighbors.watch(Some(HOST.into()));
        assert_eq!(neighbors.unanswered(), None, "not asked yet");
        send(&neighbors, &wire, Instant::ZERO, &request);
        assert_eq!(neighbors.unanswered(), Some(HOST.into()));
        // A request from the next hop teaches its address as well as a reply.
        let asks = arp_frame(ArpOperation::Request, HOST, DEVICE);
        deliver(&neighbors, &wire, Instant::ZERO, &asks);
        assert_eq!(neighbors.unanswered(), None);
        neighbors.watch(None);
        send(&neighbors, &wire, Instant::ZERO, &request);
        assert_eq!(neighbors.unanswered(), None);
    }

    #[cfg(feature = "ipv6")]
    mod ndisc {
        use super::*;
        use smoltcp::phy::ChecksumCapabilities;
        use smoltcp::wire::{Ipv6Address, Ipv6Repr, NdiscNeighborFlags};

        const DEVICE6: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
        const HOST6: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
        /// A neighbour solicitation or advertisement frame's length (with the address option).
        const NDP: usize = 86;

        /// A solicitation from `from` for `target`, or `target`'s advertisement to `from`.
        fn ndp_frame(solicit: bool, from: Ipv6Address, target: Ipv6Address) -> [u8; NDP] {
            let mac = EthernetAddress([2, 0, 0, 0, 0, from.octets()[15]]);
            let repr = if solicit {
                NdiscRepr::NeighborSolicit {
                    target_addr: target,
                    lladdr: Some(mac.into()),
                }
            } else {
                NdiscRepr::NeighborAdvert {
                    flags: NdiscNeighborFlags::SOLICITED,
                    target_addr: from,
                    lladdr: Some(mac.into()),
                }
            };
            let icmp = Icmpv6Repr::Ndisc(repr);
            // ff02::1:ffXX:XXXX, the target's solicited-node group.
            let low = target.segments();
            let solicited =
                Ipv6Address::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | (low[6] & 0xff), low[7]);
            let dst = if solicit { solicited } else { target };
            let ip = Ipv6Repr {
                src_addr: from,
                dst_addr: dst,
                next_header: IpProtocol::Icmpv6,
                payload_len: icmp.buffer_len(),
                hop_limit: 255,
            };
            let eth = EthernetRepr {
                src_addr: mac,
                dst_addr: EthernetAddress([0x33, 0x33, 0xff, 0, 0, target.octets()[15]]),
                ethertype: EthernetProtocol::Ipv6,
            };
            let mut frame = [0; NDP];
            let mut packet = EthernetFrame::new_unchecked(&mut frame[..]);
            eth.emit(&mut packet);
            let mut ip_packet = Ipv6Packet::new_unchecked(packet.payload_mut());
            ip.emit(&mut ip_packet);
            icmp.emit(
                &from,
                &dst,
                &mut Icmpv6Packet::new_unchecked(ip_packet.payload_mut()),
                &ChecksumCapabilities::default(),
            );
            frame
        }

        #[test]
        fn a_solicitation_is_repeated_until_the_advertisement() {
            let (neighbors, wire) = (Neighbors::new(), Wire::new());
            let solicit = ndp_frame(true, DEVICE6, HOST6);
            neighbors.watch(Some(HOST6.into()));
            send(&neighbors, &wire, Instant::ZERO, &solicit);
            assert_eq!(neighbors.unanswered(), Some(HOST6.into()));
            let mut times = [0; 4];
            let mut count = 0;
            for ms in 0..=100 {
                let mut port = wire.port(0);
                neighbors.send_due(Instant::from_millis(ms), &mut neighbors.device(&mut port));
                let mut peer = wire.port(1);
                while let Some((rx, _)) = peer.receive(Instant::ZERO) {
                    rx.consume(|frame| assert_eq!(frame, &solicit[..]));
                    times[count] = ms;
                    count += 1;
                }
            }
            assert_eq!(times[..count], [0, 20, 60]);
            // The advertisement ends the repeats and answers the watch.
            let advert = ndp_frame(false, HOST6, DEVICE6);
            let mut peer = wire.port(1);
            let tx = peer.transmit(Instant::ZERO).unwrap();
            tx.consume(NDP, |buf| buf.copy_from_slice(&advert));
            let mut port = wire.port(0);
            let mut device = neighbors.device(&mut port);
            let (rx, _) = device.receive(Instant::from_millis(101)).unwrap();
            rx.consume(|frame| assert_eq!(frame, &advert[..]));
            assert_eq!(neighbors.poll_at(), None);
            assert_eq!(neighbors.unanswered(), None);
        }

        #[test]
        fn duplicate_address_probes_are_not_repeated() {
            let (neighbors, wire) = (Neighbors::new(), Wire::new());
            // Sent from `::` for the sender's own tentative address.
            let probe = ndp_frame(true, Ipv6Address::UNSPECIFIED, DEVICE6);
            send(&neighbors, &wire, Instant::ZERO, &probe);
            assert_eq!(neighbors.poll_at(), None);
        }
    }
}
