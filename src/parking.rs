//! Sockets taken out of smoltcp's walks while they are unused.
//!
//! smoltcp 0.14 looks at every socket of its set on each egress pass, each deadline query
//! and each received frame's lookup, idle ones too: with a greeting server's 64 spare
//! sockets beside 64 served ones, those walks were most of a poll's instructions. A server
//! parks its spare sockets here, in a second set the interface never sees, and brings one
//! back when it needs it. Only free sockets are parked: nothing queued to send, no timer
//! that must fire (a closed one, or one in TIME-WAIT whose last ACK is out, which smoltcp
//! would only close).

use smoltcp::iface::{SocketHandle, SocketSet, SocketStorage};

/// The parked sockets, in storage of the caller's (none by default: then nothing is parked).
pub struct Parking<'s> {
    set: SocketSet<'s>,
    /// Free slots of the parking set.
    room: usize,
    /// Slots of the stack's own set, so a socket is only brought back where it fits.
    capacity: usize,
}

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
