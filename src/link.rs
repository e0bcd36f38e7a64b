//! An in-memory Ethernet link: two or more ends, each a [`smoltcp::phy::Device`].
//!
//! The link behaves like a hub: a frame sent on one end is queued on every other end. Each end
//! has a receive ring of `DEPTH` fixed slots of `MTU` bytes, like a NIC's descriptor ring; when
//! it is full the frame is dropped and counted, as a NIC would. Frames never move: smoltcp
//! builds an outgoing frame directly in the receiver's free slot and parses an incoming one in
//! place, so a frame costs one write and one read, whatever the MTU. Nothing allocates, so the
//! link works in `no_std` tests, in demos, and on a board that wants a loopback network.
//!
//! ```
//! use tcplink::link::Link;
//! let link: Link<2, 8> = Link::new();
//! let (mut a, mut b) = (link.port(0), link.port(1));
//! # let _ = (&mut a, &mut b);
//! ```

use core::cell::{Cell, RefCell};

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Largest Ethernet frame without FCS for a 1500-byte IP MTU.
pub const ETHERNET_MTU: usize = 1514;

/// Counters of one end of the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames this end transmitted.
    pub sent: u64,
    /// Frames this end received.
    pub received: u64,
    /// Frames meant for this end that were dropped because its ring was full.
    pub dropped: u64,
}

/// One end's receive ring: `DEPTH` slots that stay where they are.
struct Ring<const DEPTH: usize, const MTU: usize> {
    slots: [[u8; MTU]; DEPTH],
    lens: [usize; DEPTH],
    /// The oldest frame.
    head: usize,
    /// Frames waiting.
    count: usize,
}

impl<const DEPTH: usize, const MTU: usize> Ring<DEPTH, MTU> {
    const EMPTY: Self = Self {
        slots: [[0; MTU]; DEPTH],
        lens: [0; DEPTH],
        head: 0,
        count: 0,
    };

    /// The slot the next frame goes into, if there is room.
    fn free_slot(&self) -> Option<usize> {
        (self.count < DEPTH).then(|| (self.head + self.count) % DEPTH)
    }

    fn push(&mut self, slot: usize, len: usize) {
        self.lens[slot] = len;
        self.count += 1;
    }

    fn pop(&mut self) {
        self.head = (self.head + 1) % DEPTH;
        self.count -= 1;
    }
}

/// An in-memory Ethernet hub with `PORTS` ends, each receiving into a ring of `DEPTH` frames of
/// at most `MTU` bytes. Memory: about `PORTS * DEPTH * MTU` bytes, all inline.
pub struct Link<const PORTS: usize, const DEPTH: usize, const MTU: usize = ETHERNET_MTU> {
    rings: [RefCell<Ring<DEPTH, MTU>>; PORTS],
    /// Where smoltcp builds a frame that no ring has room for (it is then dropped).
    spill: RefCell<[u8; MTU]>,
    stats: [Cell<PortStats>; PORTS],
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> Default for Link<PORTS, DEPTH, MTU> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> Link<PORTS, DEPTH, MTU> {
    /// An idle link with empty rings; `const`, so it can be a `static`.
    pub const fn new() -> Self {
        const {
            assert!(PORTS >= 2, "a link needs at least two ends");
            assert!(DEPTH >= 1, "a ring needs at least one slot");
        };
        Self {
            rings: [const { RefCell::new(Ring::EMPTY) }; PORTS],
            spill: RefCell::new([0; MTU]),
            stats: [const {
                Cell::new(PortStats {
                    sent: 0,
                    received: 0,
                    dropped: 0,
                })
            }; PORTS],
        }
    }

    /// End number `index` of the link, as a network device.
    ///
    /// # Panics
    /// If `index >= PORTS`.
    pub fn port(&self, index: usize) -> Port<'_, PORTS, DEPTH, MTU> {
        assert!(index < PORTS, "link has {PORTS} ends, no end {index}");
        Port { link: self, index }
    }

    /// Counters of end `index`.
    pub fn stats(&self, index: usize) -> PortStats {
        self.stats[index].get()
    }

    /// Frames waiting to be received, over all ends. Zero means the link is quiet.
    pub fn in_flight(&self) -> usize {
        self.rings.iter().map(|ring| ring.borrow().count).sum()
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut PortStats)) {
        let mut stats = self.stats[index].get();
        f(&mut stats);
        self.stats[index].set(stats);
    }

    /// Has `build` write a `len`-byte frame into the first other end with room, then copies it
    /// to the remaining ends (a hub with more than two ends).
    fn deliver<R>(&self, from: usize, len: usize, build: impl FnOnce(&mut [u8]) -> R) -> R {
        let len = len.min(MTU);
        self.update(from, |s| s.sent += 1);
        let mut build = Some(build);
        let mut result = None;
        let mut built_in: Option<(usize, usize)> = None;
        for to in (0..PORTS).filter(|&to| to != from) {
            let mut ring = self.rings[to].borrow_mut();
            let Some(slot) = ring.free_slot() else {
                self.update(to, |s| s.dropped += 1);
                continue;
            };
            match built_in {
                None => {
                    let build = build.take().expect("a frame is built once");
                    result = Some(build(&mut ring.slots[slot][..len]));
                    built_in = Some((to, slot));
                }
                Some((first, first_slot)) => {
                    let first = self.rings[first].borrow();
                    ring.slots[slot][..len].copy_from_slice(&first.slots[first_slot][..len]);
                }
            }
            ring.push(slot, len);
        }
        match (result, build) {
            (Some(result), _) => result,
            // Every ring was full: smoltcp still builds the frame, which is then lost.
            (None, Some(build)) => build(&mut self.spill.borrow_mut()[..len]),
            (None, None) => unreachable!("a frame is either built in a ring or spilled"),
        }
    }
}

/// One end of a [`Link`], usable wherever smoltcp wants a device.
pub struct Port<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize = ETHERNET_MTU> {
    link: &'l Link<PORTS, DEPTH, MTU>,
    index: usize,
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> Port<'_, PORTS, DEPTH, MTU> {
    /// This end's counters.
    pub fn stats(&self) -> PortStats {
        self.link.stats(self.index)
    }
}

/// Receives the oldest frame of an end's ring, in place.
pub struct RxToken<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    link: &'l Link<PORTS, DEPTH, MTU>,
    index: usize,
}

/// Sends one frame to every other end.
pub struct TxToken<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    link: &'l Link<PORTS, DEPTH, MTU>,
    index: usize,
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> phy::RxToken
    for RxToken<'_, PORTS, DEPTH, MTU>
{
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let mut ring = self.link.rings[self.index].borrow_mut();
        let head = ring.head;
        // smoltcp may answer from inside `f` (an ACK); that goes to the other ends' rings,
        // never this one, so the borrows do not overlap.
        let result = f(&ring.slots[head][..ring.lens[head]]);
        ring.pop();
        self.link.update(self.index, |s| s.received += 1);
        result
    }
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> phy::TxToken
    for TxToken<'_, PORTS, DEPTH, MTU>
{
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        self.link.deliver(self.index, len, f)
    }
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> phy::Device
    for Port<'_, PORTS, DEPTH, MTU>
{
    type RxToken<'a>
        = RxToken<'a, PORTS, DEPTH, MTU>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, PORTS, DEPTH, MTU>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        if self.link.rings[self.index].borrow().count == 0 {
            return None;
        }
        let (link, index) = (self.link, self.index);
        Some((RxToken { link, index }, TxToken { link, index }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken {
            link: self.link,
            index: self.index,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::{Device, RxToken as _, TxToken as _};

    fn send<D: Device>(port: &mut D, bytes: &[u8]) {
        let tx = port
            .transmit(Instant::ZERO)
            .expect("a link always takes a frame");
        tx.consume(bytes.len(), |buf| buf.copy_from_slice(bytes));
    }

    fn recv<D: Device>(port: &mut D) -> Option<heapless::Vec<u8, 64>> {
        let (rx, _tx) = port.receive(Instant::ZERO)?;
        Some(rx.consume(|frame| heapless::Vec::from_slice(frame).unwrap()))
    }

    #[test]
    fn frames_arrive_in_order_and_a_full_ring_drops_and_counts() {
        let link: Link<2, 2, 64> = Link::new();
        let (mut a, mut b) = (link.port(0), link.port(1));
        for frame in [&b"one"[..], b"two", b"three"] {
            send(&mut a, frame);
        }
        assert_eq!(link.in_flight(), 2);
        assert_eq!(recv(&mut b).as_deref(), Some(&b"one"[..]));
        send(&mut a, b"four");
        assert_eq!(recv(&mut b).as_deref(), Some(&b"two"[..]));
        assert_eq!(recv(&mut b).as_deref(), Some(&b"four"[..]));
        assert_eq!(recv(&mut b), None);
        assert_eq!(recv(&mut a), None, "a hub never echoes to the sender");
        assert_eq!(
            a.stats(),
            PortStats {
                sent: 4,
                received: 0,
                dropped: 0
            }
        );
        assert_eq!(
            b.stats(),
            PortStats {
                sent: 0,
                received: 3,
                dropped: 1
            }
        );
    }

    #[test]
    fn a_hub_copies_to_every_other_end() {
        let link: Link<3, 4, 64> = Link::new();
        let (mut a, mut b, mut c) = (link.port(0), link.port(1), link.port(2));
        send(&mut b, b"hello");
        assert_eq!(recv(&mut a).as_deref(), Some(&b"hello"[..]));
        assert_eq!(recv(&mut c).as_deref(), Some(&b"hello"[..]));
        assert_eq!(recv(&mut b), None);
    }
}
