//! Devices for the in-memory comparisons: a capabilities override, so every contender runs
//! with the same MTU and checksum settings, and `RingLink`, the allocation-free link layout
//! proposed for `tcplink::link` (built here as an experiment, measured beside the real one).

use std::cell::{Cell, RefCell};

use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// What a device advertises to smoltcp; this decides segment size and checksum work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// A real Ethernet NIC: 1514-byte frames, checksums computed and verified in software.
    /// `tcplink::link::Link` advertises exactly this.
    Ethernet,
    /// What `smoltcp::phy::Loopback` advertises: 65535-byte frames, checksums ignored.
    Loopback,
}

impl Profile {
    pub fn caps(self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        match self {
            Profile::Ethernet => caps.max_transmission_unit = 1514,
            Profile::Loopback => {
                caps.max_transmission_unit = 65535;
                caps.checksum = ChecksumCapabilities::ignored();
            }
        }
        caps
    }

    pub fn label(self) -> &'static str {
        match self {
            Profile::Ethernet => "Ethernet caps (MTU 1514, checksums on)",
            Profile::Loopback => "Loopback caps (MTU 65535, checksums off)",
        }
    }
}

/// `inner` with its capabilities replaced; frames pass through untouched.
pub struct Caps<D> {
    pub inner: D,
    caps: DeviceCapabilities,
}

impl<D: Device> Caps<D> {
    pub fn new(inner: D, profile: Profile) -> Self {
        Self {
            inner,
            caps: profile.caps(),
        }
    }
}

impl<D: Device> Device for Caps<D> {
    type RxToken<'a>
        = D::RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.inner.receive(now)
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.caps.clone()
    }
}

/// One end's receive ring: `DEPTH` fixed frame slots that never move.
struct Ring<const DEPTH: usize, const MTU: usize> {
    slots: [[u8; MTU]; DEPTH],
    lens: [usize; DEPTH],
    head: usize,
    len: usize,
}

/// The proposed `tcplink::link::Link` layout: per end a ring of fixed slots.
///
/// A transmitted frame is built by smoltcp directly in the receiver's free slot, and a
/// received frame is handed to smoltcp in place and released afterwards. Per frame that is
/// no zeroed scratch array, no `Vec<u8, MTU>` built by copy, and no move of a whole
/// `MTU`-sized frame into and out of the queue and the token — the costs the current `Link`
/// pays on every frame, small ACKs included. Drops when a ring is full, as `Link` does.
pub struct RingLink<const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    rings: [RefCell<Ring<DEPTH, MTU>>; PORTS],
    /// Where a frame goes when every destination ring is full (smoltcp still builds it).
    spill: RefCell<[u8; MTU]>,
    dropped: Cell<u64>,
    sent: Cell<u64>,
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> RingLink<PORTS, DEPTH, MTU> {
    /// On the heap: the rings are `PORTS * DEPTH * MTU` bytes.
    pub fn boxed() -> Box<Self> {
        Box::new(Self {
            rings: std::array::from_fn(|_| {
                RefCell::new(Ring {
                    slots: [[0; MTU]; DEPTH],
                    lens: [0; DEPTH],
                    head: 0,
                    len: 0,
                })
            }),
            spill: RefCell::new([0; MTU]),
            dropped: Cell::new(0),
            sent: Cell::new(0),
        })
    }

    pub fn port(&self, index: usize) -> RingPort<'_, PORTS, DEPTH, MTU> {
        assert!(index < PORTS);
        RingPort { link: self, index }
    }

    /// Frames sent and dropped, over all ends.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent.get(), self.dropped.get())
    }
}

pub struct RingPort<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    link: &'l RingLink<PORTS, DEPTH, MTU>,
    index: usize,
}

pub struct RingRx<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    link: &'l RingLink<PORTS, DEPTH, MTU>,
    index: usize,
}

pub struct RingTx<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    link: &'l RingLink<PORTS, DEPTH, MTU>,
    index: usize,
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> phy::RxToken
    for RingRx<'_, PORTS, DEPTH, MTU>
{
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let mut ring = self.link.rings[self.index].borrow_mut();
        let head = ring.head;
        let len = ring.lens[head];
        // smoltcp answers from inside `f` (an ACK); that goes to another end's ring, never
        // this one, so this borrow and the transmit's never overlap.
        let result = f(&ring.slots[head][..len]);
        ring.head = (head + 1) % DEPTH;
        ring.len -= 1;
        result
    }
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> phy::TxToken
    for RingTx<'_, PORTS, DEPTH, MTU>
{
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let link = self.link;
        let len = len.min(MTU);
        link.sent.set(link.sent.get() + 1);
        let mut built: Option<(usize, usize)> = None;
        let mut result = None;
        let mut f = Some(f);
        for to in (0..PORTS).filter(|&to| to != self.index) {
            let mut ring = link.rings[to].borrow_mut();
            if ring.len == DEPTH {
                link.dropped.set(link.dropped.get() + 1);
                continue;
            }
            let slot = (ring.head + ring.len) % DEPTH;
            match built {
                None => {
                    let build = f.take().expect("built once");
                    result = Some(build(&mut ring.slots[slot][..len]));
                    built = Some((to, slot));
                }
                // A hub with more ends: copy what was built into the others.
                Some((from, from_slot)) => {
                    let src = link.rings[from].borrow();
                    let src = &src.slots[from_slot][..len];
                    ring.slots[slot][..len].copy_from_slice(src);
                }
            }
            ring.lens[slot] = len;
            ring.len += 1;
        }
        match (result, f) {
            (Some(r), _) => r,
            (None, Some(build)) => build(&mut link.spill.borrow_mut()[..len]),
            (None, None) => unreachable!("either built or not"),
        }
    }
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> Device
    for RingPort<'_, PORTS, DEPTH, MTU>
{
    type RxToken<'a>
        = RingRx<'a, PORTS, DEPTH, MTU>
    where
        Self: 'a;
    type TxToken<'a>
        = RingTx<'a, PORTS, DEPTH, MTU>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if self.link.rings[self.index].borrow().len == 0 {
            return None;
        }
        let (link, index) = (self.link, self.index);
        Some((RingRx { link, index }, RingTx { link, index }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(RingTx {
            link: self.link,
            index: self.index,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        Profile::Ethernet.caps()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{RxToken, TxToken};

    #[test]
    fn ring_delivers_in_order_and_drops_when_full() {
        let link = RingLink::<2, 2, 64>::boxed();
        let (mut a, mut b) = (link.port(0), link.port(1));
        for n in 1..=3u8 {
            a.transmit(Instant::ZERO)
                .unwrap()
                .consume(n as usize, |buf| buf.fill(n));
        }
        assert_eq!(link.counts(), (3, 1));
        for n in 1..=2u8 {
            let (rx, _) = b.receive(Instant::ZERO).unwrap();
            rx.consume(|f| assert_eq!(f, &vec![n; n as usize][..]));
        }
        assert!(b.receive(Instant::ZERO).is_none());
        assert!(a.receive(Instant::ZERO).is_none());
    }
}
