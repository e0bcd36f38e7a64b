//! Early retries of address resolution: a [`Device`] wrapper that repeats the stack's
//! neighbour request after tens of milliseconds while no answer has come.
//!
//! smoltcp asks for a next hop's hardware address once and then stays silent for a fixed
//! second. On a TAP that second is lost on most starts that race the host: the host's side
//! only transmits once its kernel has activated the link (the carrier-on work runs later, in
//! a kernel worker, under the global RTNL lock), and an answer sent before that is dropped.
//! Repeating the request at 20, 60, 140 and 300 ms after the first turns that second into a
//! few milliseconds, and costs four small frames only when nothing answers.
//!
//! The wrapper only copies and replays frames the stack built itself. What counts as a
//! request and as its answer is decided in one place ([`request_target`], [`answer_source`]):
//! ARP today; IPv6 neighbour solicitations and advertisements fit the same shape.

use std::cell::RefCell;

use smoltcp::phy::{self, Device, DeviceCapabilities};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, IpAddress};

/// Delay of each repeat after the previous send; then the stack's own 1 s retry takes over.
const REPEATS: [Duration; 4] = [
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
    Duration::from_millis(160),
];

/// Room for the request frame: ARP is 42 bytes, an IPv6 neighbour solicitation 86.
const FRAME: usize = 128;

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

/// `inner`, with the stack's neighbour requests repeated early until answered.
pub struct Resolving<D> {
    inner: D,
    pending: RefCell<Option<Pending>>,
}

impl<D: Device> Resolving<D> {
    pub fn new(inner: D) -> Self {
        Self {
            inner,
            pending: RefCell::new(None),
        }
    }

    pub fn get_ref(&self) -> &D {
        &self.inner
    }

    /// When [`repeat`](Self::repeat) must run next, if a request waits for its answer.
    pub fn poll_at(&self) -> Option<Instant> {
        self.pending.borrow().and_then(|p| p.next)
    }

    /// Sends the pending request again if its time has come.
    pub fn repeat(&mut self, now: Instant) {
        let mut pending = self.pending.borrow_mut();
        let Some(p) = pending
            .as_mut()
            .filter(|p| p.next.is_some_and(|at| now >= at))
        else {
            return;
        };
        if let Some(tx) = self.inner.transmit(now) {
            let frame = &p.frame[..p.len];
            phy::TxToken::consume(tx, frame.len(), |buffer| buffer.copy_from_slice(frame));
            log::debug!("neighbour request for {} repeated", p.target);
        }
        p.repeats += 1;
        p.next = REPEATS.get(p.repeats).map(|delay| now + *delay);
    }
}

/// The address a neighbour request in `frame` asks for (ARP request).
fn request_target(frame: &[u8]) -> Option<IpAddress> {
    match arp(frame)? {
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } if source_protocol_addr != target_protocol_addr => Some(target_protocol_addr.into()),
        _ => None,
    }
}

/// The address whose link-layer address `frame` tells (any ARP packet teaches its sender).
fn answer_source(frame: &[u8]) -> Option<IpAddress> {
    match arp(frame)? {
        ArpRepr::EthernetIpv4 {
            source_protocol_addr,
            ..
        } => Some(source_protocol_addr.into()),
        _ => None,
    }
}

fn arp(frame: &[u8]) -> Option<ArpRepr> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()
}

impl<D: Device> Device for Resolving<D> {
    type RxToken<'a>
        = RxToken<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (rx, tx) = self.inner.receive(now)?;
        let pending = &self.pending;
        Some((
            RxToken { inner: rx, pending },
            TxToken {
                inner: tx,
                pending,
                now,
            },
        ))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let inner = self.inner.transmit(now)?;
        Some(TxToken {
            inner,
            pending: &self.pending,
            now,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

/// A received frame; an answer to the pending request ends its repeats.
pub struct RxToken<'a, T> {
    inner: T,
    pending: &'a RefCell<Option<Pending>>,
}

impl<T: phy::RxToken> phy::RxToken for RxToken<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let pending = self.pending;
        self.inner.consume(|frame| {
            let mut pending = pending.borrow_mut();
            if pending.is_some_and(|p| answer_source(frame) == Some(p.target)) {
                *pending = None;
            }
            drop(pending);
            f(frame)
        })
    }
}

/// Room for a frame; a neighbour request sent through it is remembered for repeating.
pub struct TxToken<'a, T> {
    inner: T,
    pending: &'a RefCell<Option<Pending>>,
    now: Instant,
}

impl<T: phy::TxToken> phy::TxToken for TxToken<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let (pending, now) = (self.pending, self.now);
        self.inner.consume(len, |frame| {
            let result = f(frame);
            if let Some(target) = request_target(frame).filter(|_| frame.len() <= FRAME) {
                let mut pending = pending.borrow_mut();
                // The stack's own retry of the same request does not start the repeats
                // again: they are for the first request only.
                if pending.is_none_or(|p| p.target != target) {
                    let mut copy = [0; FRAME];
                    copy[..frame.len()].copy_from_slice(frame);
                    *pending = Some(Pending {
                        target,
                        frame: copy,
                        len: frame.len(),
                        repeats: 0,
                        next: Some(now + REPEATS[0]),
                    });
                }
            }
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{Medium, RxToken as _, TxToken as _};
    use smoltcp::wire::{EthernetAddress, EthernetRepr, Ipv4Address};

    /// Frames sent are recorded; frames queued in `rx` are received.
    struct Wire {
        sent: Vec<(Instant, Vec<u8>)>,
        rx: Vec<Vec<u8>>,
        now: Instant,
    }

    impl Default for Wire {
        fn default() -> Self {
            Self {
                sent: Vec::new(),
                rx: Vec::new(),
                now: Instant::ZERO,
            }
        }
    }

    struct Rx(Vec<u8>);
    struct Tx<'a>(&'a mut Wire);

    impl phy::RxToken for Rx {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            f(&self.0)
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            let mut frame = vec![0; len];
            let result = f(&mut frame);
            let now = self.0.now;
            self.0.sent.push((now, frame));
            result
        }
    }

    impl Device for Wire {
        type RxToken<'a> = Rx;
        type TxToken<'a> = Tx<'a>;

        fn receive(&mut self, now: Instant) -> Option<(Rx, Tx<'_>)> {
            self.now = now;
            let frame = self.rx.pop()?;
            Some((Rx(frame), Tx(self)))
        }

        fn transmit(&mut self, now: Instant) -> Option<Tx<'_>> {
            self.now = now;
            Some(Tx(self))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut caps = DeviceCapabilities::default();
            caps.medium = Medium::Ethernet;
            caps.max_transmission_unit = 1514;
            caps
        }
    }

    const DEVICE: Ipv4Address = Ipv4Address::new(192, 168, 69, 2);
    const HOST: Ipv4Address = Ipv4Address::new(192, 168, 69, 1);

    fn arp_frame(operation: ArpOperation, from: Ipv4Address, to: Ipv4Address) -> Vec<u8> {
        let arp = ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, from.octets()[3]]),
            source_protocol_addr: from,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: to,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, from.octets()[3]]),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let mut frame = vec![0; eth.buffer_len() + arp.buffer_len()];
        let mut packet = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.emit(&mut packet);
        arp.emit(&mut ArpPacket::new_unchecked(packet.payload_mut()));
        frame
    }

    fn send(nic: &mut Resolving<Wire>, at: Instant, frame: &[u8]) {
        let tx = nic.transmit(at).unwrap();
        tx.consume(frame.len(), |buf| buf.copy_from_slice(frame));
    }

    /// Runs the loop's side: repeats whatever is due, every millisecond up to `until`.
    fn run_until(nic: &mut Resolving<Wire>, until: Instant) {
        let mut now = Instant::ZERO;
        while now <= until {
            nic.repeat(now);
            now += Duration::from_millis(1);
        }
    }

    fn sent_at(nic: &Resolving<Wire>) -> Vec<i64> {
        nic.inner
            .sent
            .iter()
            .map(|(t, _)| t.total_millis())
            .collect()
    }

    #[test]
    fn an_unanswered_request_is_repeated_early_then_left_to_the_stack() {
        let mut nic = Resolving::new(Wire::default());
        let request = arp_frame(ArpOperation::Request, DEVICE, HOST);
        send(&mut nic, Instant::ZERO, &request);
        run_until(&mut nic, Instant::from_millis(999));
        assert_eq!(sent_at(&nic), [0, 20, 60, 140, 300]);
        assert!(nic.inner.sent.iter().all(|(_, f)| *f == request));
        assert_eq!(nic.poll_at(), None);
        // The stack's own retry after 1 s is passed on, not repeated again.
        send(&mut nic, Instant::from_millis(1000), &request);
        assert_eq!(nic.poll_at(), None);
    }

    #[test]
    fn the_answer_ends_the_repeats() {
        let mut nic = Resolving::new(Wire::default());
        send(
            &mut nic,
            Instant::ZERO,
            &arp_frame(ArpOperation::Request, DEVICE, HOST),
        );
        nic.repeat(Instant::from_millis(20));
        assert_eq!(nic.poll_at(), Some(Instant::from_millis(60)));
        let reply = arp_frame(ArpOperation::Reply, HOST, DEVICE);
        nic.inner.rx.push(reply.clone());
        let (rx, _) = nic.receive(Instant::from_millis(21)).unwrap();
        assert_eq!(
            rx.consume(|frame| frame.to_vec()),
            reply,
            "passed on unchanged"
        );
        assert_eq!(nic.poll_at(), None);
        run_until(&mut nic, Instant::from_millis(999));
        assert_eq!(sent_at(&nic), [0, 20]);
    }

    #[test]
    fn other_frames_are_not_repeated() {
        let mut nic = Resolving::new(Wire::default());
        // A reply, and a gratuitous announcement (asks for its own address).
        send(
            &mut nic,
            Instant::ZERO,
            &arp_frame(ArpOperation::Reply, DEVICE, HOST),
        );
        send(
            &mut nic,
            Instant::ZERO,
            &arp_frame(ArpOperation::Request, DEVICE, DEVICE),
        );
        let mut ip = arp_frame(ArpOperation::Request, DEVICE, HOST);
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        send(&mut nic, Instant::ZERO, &ip);
        assert_eq!(nic.poll_at(), None);
        run_until(&mut nic, Instant::from_millis(999));
        assert_eq!(nic.inner.sent.len(), 3);
    }
}
