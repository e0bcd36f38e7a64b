//! Sockets taken out of smoltcp's walks while they are unused.
//!
//! smoltcp 0.14 looks at every socket of its set on each egress pass, each deadline query
//! and each received frame's lookup, idle ones too: with many spare sockets beside the
//! served ones, those walks dominate a poll. A server
//! parks its spare sockets here, in a second set the interface never sees, and brings one
//! back when it needs it. Only free sockets are parked: nothing queued to send, no timer
//! that must fire (a closed one, or one in TIME-WAIT whose last ACK is out, which smoltcp
//! would only close).
//!
//! Without the `parking` feature (a board with a handful of sockets, all of them needed)
//! [`Parking`] is an empty type that never parks, so none of this is linked.

#[cfg(feature = "parking")]
use smoltcp::iface::SocketStorage;
use smoltcp::iface::{SocketHandle, SocketSet};

/// The parked sockets, in storage of the caller's (none by default: then nothing is parked).
#[cfg(feature = "parking")]
pub struct Parking<'s> {
    set: SocketSet<'s>,
    /// Free slots of the parking set.
    room: usize,
    /// Slots of the stack's own set, so a socket is only brought back where it fits.
    capacity: usize,
}

#[cfg(feature = "parking")]
impl<'s> Parking<'s> {
    /// No parking room, beside a stack set of `capacity` slots.
    pub(crate) fn none(capacity: usize) -> Self {
        Self {
            set: SocketSet::new(&mut [][..]),
            room: 0,
            capacity,
        }
    }

    /// Parks sockets in `storage` from now on (the parking must be empty).
    pub(crate) fn set_storage(&mut self, storage: &'s mut [SocketStorage<'s>]) {
        debug_assert!(self.set.iter().next().is_none(), "sockets are parked");
        self.room = storage.len();
        self.set = SocketSet::new(storage);
    }

    /// Takes socket `handle` out of `sockets`. Returns its handle in the parking, or `None`
    /// if the parking is full (the socket then stays where it is).
    pub fn park(
        &mut self,
        sockets: &mut SocketSet<'s>,
        handle: SocketHandle,
    ) -> Option<SocketHandle> {
        self.room = self.room.checked_sub(1)?;
        Some(self.set.add(sockets.remove(handle)))
    }

    /// Puts the parked socket `parked` back into `sockets`. Returns its new handle there, or
    /// `None` if `sockets` is full (something else took the slot; the socket stays parked).
    pub fn unpark(
        &mut self,
        sockets: &mut SocketSet<'s>,
        parked: SocketHandle,
    ) -> Option<SocketHandle> {
        if sockets.iter().count() >= self.capacity {
            return None;
        }
        self.room += 1;
        Some(sockets.add(self.set.remove(parked)))
    }
}

/// No parking (the `parking` feature is off): nothing is ever parked, and the compiler drops
/// every path that would.
#[cfg(not(feature = "parking"))]
pub struct Parking<'s>(core::marker::PhantomData<&'s mut SocketSet<'s>>);

#[cfg(not(feature = "parking"))]
impl<'s> Parking<'s> {
    /// No parking, beside a stack set of any size.
    pub(crate) fn none(_capacity: usize) -> Self {
        Self(core::marker::PhantomData)
    }

    /// Never parks: the socket stays in `sockets`.
    #[inline(always)]
    pub fn park(&mut self, _: &mut SocketSet<'s>, _: SocketHandle) -> Option<SocketHandle> {
        None
    }

    /// Nothing is parked, so nothing comes back.
    #[inline(always)]
    pub fn unpark(&mut self, _: &mut SocketSet<'s>, _: SocketHandle) -> Option<SocketHandle> {
        None
    }
}
