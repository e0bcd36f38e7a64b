//! Watches ARP for one next hop while a connection is being made, so a connect that times
//! out can say "no ARP reply from X" instead of a bare timeout.
//!
//! smoltcp keeps its neighbour cache private; the frames are the only witness. A [`Watched`]
//! device wraps the platform's device inside [`Stack`](crate::stack::Stack)'s polls. With no
//! watch armed (every frame of a transfer) the cost is one branch per frame.

use core::cell::Cell;

use smoltcp::phy::{Device, DeviceCapabilities, PacketMeta, RxToken, TxToken};
use smoltcp::time::Instant;
use smoltcp::wire::{ArpOperation, ArpPacket, EthernetFrame, EthernetProtocol, Ipv4Address};

/// What was seen of ARP for the watched address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArpWatch {
    target: Option<Ipv4Address>,
    asked: bool,
    answered: bool,
}

impl ArpWatch {
    /// Nothing watched.
    pub const fn new() -> Self {
        Self {
            target: None,
            asked: false,
            answered: false,
        }
    }

    /// Starts watching `target` afresh.
    pub fn watch(target: Ipv4Address) -> Self {
        Self {
            target: Some(target),
            ..Self::new()
        }
    }

    /// The watched address if this device asked for it by ARP and it never answered (an ARP
    /// packet from it, request or reply, counts as an answer).
    pub fn unanswered(&self) -> Option<Ipv4Address> {
        self.target.filter(|_| self.asked && !self.answered)
    }

    fn outgoing(&mut self, frame: &[u8]) {
        if let Some((op, _, target)) = arp_of(frame) {
            if op == ArpOperation::Request && Some(target) == self.target {
                self.asked = true;
            }
        }
    }

    fn incoming(&mut self, frame: &[u8]) {
        if let Some((_, sender, _)) = arp_of(frame) {
            if Some(sender) == self.target {
                self.answered = true;
            }
        }
    }
}

/// Operation, sender and target address of an IPv4-over-Ethernet ARP frame.
fn arp_of(frame: &[u8]) -> Option<(ArpOperation, Ipv4Address, Ipv4Address)> {
    let frame = EthernetFrame::new_checked(frame).ok()?;
    if frame.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    let arp = ArpPacket::new_checked(frame.payload()).ok()?;
    let sender = Ipv4Address::from(<[u8; 4]>::try_from(arp.source_protocol_addr()).ok()?);
    let target = Ipv4Address::from(<[u8; 4]>::try_from(arp.target_protocol_addr()).ok()?);
    Some((arp.operation(), sender, target))
}

/// `device`, with every frame shown to `watch` while it watches something.
pub struct Watched<'a, D: ?Sized> {
    /// The platform's device.
    pub device: &'a mut D,
    /// Where ARP sightings are recorded.
    pub watch: &'a Cell<ArpWatch>,
}

fn note(watch: &Cell<ArpWatch>, frame: &[u8], outgoing: bool) {
    let mut state = watch.get();
    if state.target.is_some() {
        if outgoing {
            state.outgoing(frame);
        } else {
            state.incoming(frame);
        }
        watch.set(state);
    }
}

impl<D: Device + ?Sized> Device for Watched<'_, D> {
    type RxToken<'b>
        = WatchedRx<'b, D::RxToken<'b>>
    where
        Self: 'b;
    type TxToken<'b>
        = WatchedTx<'b, D::TxToken<'b>>
    where
        Self: 'b;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let watch = self.watch;
        self.device.receive(now).map(|(rx, tx)| {
            (
                WatchedRx { token: rx, watch },
                WatchedTx { token: tx, watch },
            )
        })
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        let watch = self.watch;
        self.device
            .transmit(now)
            .map(|token| WatchedTx { token, watch })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        self.device.capabilities()
    }
}

/// A received frame, shown to the watch before smoltcp reads it.
pub struct WatchedRx<'a, T> {
    token: T,
    watch: &'a Cell<ArpWatch>,
}

impl<T: RxToken> RxToken for WatchedRx<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let watch = self.watch;
        self.token.consume(|frame| {
            note(watch, frame, false);
            f(frame)
        })
    }

    fn meta(&self) -> PacketMeta {
        self.token.meta()
    }
}

/// A frame to send, shown to the watch after smoltcp wrote it.
pub struct WatchedTx<'a, T> {
    token: T,
    watch: &'a Cell<ArpWatch>,
}

impl<T: TxToken> TxToken for WatchedTx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let watch = self.watch;
        self.token.consume(len, |frame| {
            let result = f(frame);
            note(watch, frame, true);
            result
        })
    }

    fn set_meta(&mut self, meta: PacketMeta) {
        self.token.set_meta(meta);
    }
}
