//! An in-memory Ethernet link: two or more ends, each a [`smoltcp::phy::Device`].
//!
//! The link behaves like a hub: a frame sent on one end is queued on every other end. Each end
//! has a fixed queue of `DEPTH` frames of up to `MTU` bytes; when a queue is full the frame is
//! dropped and counted, as a NIC with a full ring would. Nothing allocates, so the link works
//! in `no_std` tests, in demos, and on a board that wants a loopback network.
//!
//! ```
//! use tcplink::link::Link;
//! let link: Link<2, 8> = Link::new();
//! let (mut a, mut b) = (link.port(0), link.port(1));
//! # let _ = (&mut a, &mut b);
//! ```

use core::cell::{Cell, RefCell};

use heapless::{Deque, Vec};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Largest Ethernet frame without FCS for a 1500-byte IP MTU.
pub const ETHERNET_MTU: usize = 1514;

/// One frame in a queue.
type Frame<const MTU: usize> = Vec<u8, MTU>;

/// Counters of one end of the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames this end transmitted.
    pub sent: u64,
    /// Frames this end received.
    pub received: u64,
    /// Frames meant for this end that were dropped because its queue was full.
    pub dropped: u64,
}

/// The receive queue of one end, plus its counters.
struct Queue<const DEPTH: usize, const MTU: usize> {
    frames: Deque<Frame<MTU>, DEPTH>,
}

/// An in-memory Ethernet hub with `PORTS` ends, each queueing at most `DEPTH` frames of at most
/// `MTU` bytes. Memory: about `PORTS * DEPTH * MTU` bytes, all inline.
pub struct Link<const PORTS: usize, const DEPTH: usize, const MTU: usize = ETHERNET_MTU> {
    queues: [RefCell<Queue<DEPTH, MTU>>; PORTS],
    stats: [Cell<PortStats>; PORTS],
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> Default for Link<PORTS, DEPTH, MTU> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PORTS: usize, const DEPTH: usize, const MTU: usize> Link<PORTS, DEPTH, MTU> {
    /// An idle link with empty queues.
    pub const fn new() -> Self {
        const { assert!(PORTS >= 2, "a link needs at least two ends") };
        Self {
            queues: [const {
                RefCell::new(Queue {
                    frames: Deque::new(),
                })
            }; PORTS],
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
        self.queues.iter().map(|q| q.borrow().frames.len()).sum()
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut PortStats)) {
        let mut stats = self.stats[index].get();
        f(&mut stats);
        self.stats[index].set(stats);
    }

    /// Queues a frame of `len` bytes built by `build` on every end but `from`.
    fn deliver<R>(&self, from: usize, len: usize, build: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut scratch = [0u8; MTU];
        let len = len.min(MTU);
        let result = build(&mut scratch[..len]);
        self.update(from, |s| s.sent += 1);
        for to in (0..PORTS).filter(|&to| to != from) {
            let mut queue = self.queues[to].borrow_mut();
            // A full ring drops the frame, as real hardware does; TCP recovers.
            let frame = Frame::from_slice(&scratch[..len]).expect("len <= MTU");
            if queue.frames.push_back(frame).is_err() {
                self.update(to, |s| s.dropped += 1);
            }
        }
        result
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

/// A frame taken off an end's queue.
pub struct RxToken<const MTU: usize> {
    frame: Frame<MTU>,
}

/// Sends one frame to every other end.
pub struct TxToken<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> {
    link: &'l Link<PORTS, DEPTH, MTU>,
    index: usize,
}

impl<const MTU: usize> phy::RxToken for RxToken<MTU> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.frame)
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

impl<'l, const PORTS: usize, const DEPTH: usize, const MTU: usize> phy::Device
    for Port<'l, PORTS, DEPTH, MTU>
{
    type RxToken<'a>
        = RxToken<MTU>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, PORTS, DEPTH, MTU>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.link.queues[self.index]
            .borrow_mut()
            .frames
            .pop_front()?;
        self.link.update(self.index, |s| s.received += 1);
        let rx = RxToken { frame };
        let tx = TxToken {
            link: self.link,
            index: self.index,
        };
        Some((rx, tx))
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
