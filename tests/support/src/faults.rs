//! A faulty network for the simulated link: smoltcp's `FaultInjector` (loss, corruption) over
//! a reordering and duplicating stage of ours. Everything is seeded, so a failing run replays
//! exactly from its seed.

use std::cell::Cell;
use std::collections::VecDeque;

use smoltcp::phy::{self, Device, DeviceCapabilities, FaultInjector};
use smoltcp::time::Instant;

/// How bad the network is. Percentages apply to each frame the device sends or receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Frames dropped, per cent.
    pub drop_pct: u8,
    /// Frames with a corrupted byte, per cent.
    pub corrupt_pct: u8,
    /// Received frames held back and delivered after the next one, per cent.
    pub reorder_pct: u8,
    /// Received frames delivered twice, per cent.
    pub duplicate_pct: u8,
    /// Seed of every random choice.
    pub seed: u32,
}

/// What the faulty stage did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Frames handed on to the stack after reordering/duplication (before loss/corruption).
    pub passed: u64,
    /// Frames held back and delivered late.
    pub reordered: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
}

/// Reorders and duplicates received frames; transmit passes straight through.
pub struct Shuffle<D: Device> {
    inner: D,
    faults: Faults,
    rng: u64,
    held: Option<Vec<u8>>,
    ready: VecDeque<Vec<u8>>,
    stats: &'static Cell<FaultStats>,
}

impl<D: Device> Shuffle<D> {
    /// Wraps `inner`; no faults until [`set`](Self::set).
    pub fn new(inner: D) -> Self {
        Self {
            inner,
            faults: Faults::default(),
            rng: 1,
            held: None,
            ready: VecDeque::new(),
            stats: crate::leak(Cell::new(FaultStats::default())),
        }
    }

    /// Applies `faults` from now on.
    pub fn set(&mut self, faults: Faults) {
        self.faults = faults;
        self.rng = u64::from(faults.seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    }

    fn count(&self, f: impl FnOnce(&mut FaultStats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    fn roll(&mut self, pct: u8) -> bool {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 100) < u64::from(pct)
    }

    fn next_frame(&mut self, now: Instant) -> Option<Vec<u8>> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Some(frame);
            }
            let frame = match self.inner.receive(now) {
                Some((rx, _tx)) => phy::RxToken::consume(rx, |bytes| bytes.to_vec()),
                // Nothing new: a held frame waits no longer.
                None => return self.held.take(),
            };
            if self.held.is_none() && self.roll(self.faults.reorder_pct) {
                self.held = Some(frame);
                self.count(|s| s.reordered += 1);
                continue;
            }
            if self.roll(self.faults.duplicate_pct) {
                self.ready.push_back(frame.clone());
                self.count(|s| s.duplicated += 1);
            }
            if let Some(held) = self.held.take() {
                self.ready.push_back(held);
            }
            return Some(frame);
        }
    }
}

/// A received frame owned by the shuffle stage.
pub struct OwnedRx(Vec<u8>);

impl phy::RxToken for OwnedRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl<D: Device> Device for Shuffle<D> {
    type RxToken<'a>
        = OwnedRx
    where
        Self: 'a;
    type TxToken<'a>
        = D::TxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.next_frame(now)?;
        self.count(|s| s.passed += 1);
        let tx = self.inner.transmit(now)?;
        Some((OwnedRx(frame), tx))
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        self.inner.transmit(now)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.inner.capabilities()
    }
}

/// The device's network interface in a [`Sim`](crate::Sim): loss and corruption over
/// reordering and duplication over the link.
pub type FaultyPort = FaultInjector<Shuffle<crate::SimPort>>;

/// `port` with `faults`; the returned cell follows what the shuffle stage does.
pub fn faulty(port: crate::SimPort, faults: Faults) -> (FaultyPort, &'static Cell<FaultStats>) {
    let mut shuffle = Shuffle::new(port);
    shuffle.set(faults);
    let stats = shuffle.stats;
    let mut injector = FaultInjector::new(shuffle, faults.seed);
    injector.set_drop_chance(faults.drop_pct);
    injector.set_corrupt_chance(faults.corrupt_pct);
    (injector, stats)
}
