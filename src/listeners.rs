//! A server's sockets on one port: the building block of the greeting server and of a
//! user's own server.
//!
//! [`Listeners`] owns `N` TCP sockets and keeps the bookkeeping every small server needs and
//! is easy to get wrong on smoltcp:
//!
//! * **Backlog**: at most `backlog` free sockets listen at once (smoltcp looks at each one
//!   on every frame, as much as at a connection); [`Listeners::after_frame`], run after
//!   every received frame, puts another in the place of one that took a SYN, so a burst of
//!   SYNs still finds a listener for each client that may be served.
//! * **Refusal when full**: once `max_open` connections are open (or accepting) no socket
//!   listens, so smoltcp answers the next SYN with RST at once — a client is refused, never
//!   left hanging.
//! * **Closing reserve**: a connection that is over for the service (its FIN sent, or reset)
//!   keeps its socket until TCP is done with it, at most `close_timeout`; with `N` above
//!   `max_open` closings do not cost a new client its place. Cutting a closing short instead
//!   would cost its client the end of its data or its FIN.
//! * **Relisten after TIME-WAIT**: a socket in TIME-WAIT listens again once the ACK of the
//!   peer's FIN has left (relistening at once would discard it, and the peer would resend
//!   its FIN into a new connection). TIME-WAIT itself is not waited out.
//! * **Parking**: spare sockets wait out of smoltcp's set when the stack has room for them
//!   (`Stack::with_parking`), so its walks over every socket see only the busy ones.
//!
//! The pool does not read or write data: the service does, in [`Listeners::serve`], which
//! hands it each connection with what changed.

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};

use crate::parking::Parking;
use crate::stack::{tcp_is_free, Sockets, Stack, TcpBuffers};

/// What a slot's socket is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Free, not listening. `parked`: its socket waits in the stack's parking, out of
    /// smoltcp's set.
    Spare { parked: bool },
    /// Waiting for a client (at most `backlog` at a time).
    Listening,
    /// Has taken a client's SYN (handshake under way): counts as a connection, no longer as
    /// a listener; the service is told once the handshake is done.
    Accepting,
    /// A client is connected: the service serves it.
    Open,
    /// Over for the service; TCP is still closing it, until `deadline` at most.
    Closing { deadline: Instant },
    /// In TIME-WAIT, seen between received frames: the ACK of the peer's FIN is queued but
    /// not yet sent. Free once the stack has sent it (see [`Listeners::after_frame`]).
    Finishing,
}

impl Slot {
    /// Which of the six states this is, as an index into the counts.
    fn kind(self) -> usize {
        match self {
            Slot::Spare { .. } => SPARE,
            Slot::Listening => LISTENING,
            Slot::Accepting => ACCEPTING,
            Slot::Open => OPEN,
            Slot::Closing { .. } => CLOSING,
            Slot::Finishing => FINISHING,
        }
    }
}

const SPARE: usize = 0;
const LISTENING: usize = 1;
const ACCEPTING: usize = 2;
const OPEN: usize = 3;
const CLOSING: usize = 4;
const FINISHING: usize = 5;

/// What [`Listeners::serve`] tells the service about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conn {
    /// A client just connected on this slot, handshake done (the first time the service
    /// sees it).
    Accepted,
    /// The connection goes on: read, write, or close it.
    Open,
    /// The connection on this slot is over: the service closed or aborted it, the peer
    /// reset it, or TCP gave up on it. The last time the service hears of it; TCP may still
    /// be sending what was queued and the FIN.
    Ended,
}

/// How many [`Listeners`] serve at once, how many wait for clients, and how long a closing
/// may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenConfig {
    /// The TCP port.
    pub port: u16,
    /// Most sockets listening at once (at least 1).
    pub backlog: usize,
    /// Most connections open at once (at least 1); the sockets beyond it are the closing
    /// reserve.
    pub max_open: usize,
    /// A closing connection that TCP has not finished by then is aborted, so a peer that
    /// never completes the close cannot hold the socket.
    pub close_timeout: Duration,
}

impl ListenConfig {
    /// Port `port`, every socket may serve, up to [`BACKLOG`] listen at once, closings
    /// aborted after 60 s.
    pub const fn new(port: u16) -> Self {
        Self {
            port,
            backlog: BACKLOG,
            max_open: usize::MAX,
            close_timeout: Duration::from_secs(60),
        }
    }

    /// The same with at most `backlog` listeners.
    pub const fn with_backlog(mut self, backlog: usize) -> Self {
        self.backlog = backlog;
        self
    }

    /// The same with at most `max_open` connections open at once.
    pub const fn with_max_open(mut self, max_open: usize) -> Self {
        self.max_open = max_open;
        self
    }

    /// The same with closings cut off after `close_timeout`.
    pub const fn with_close_timeout(mut self, close_timeout: Duration) -> Self {
        self.close_timeout = close_timeout;
        self
    }
}

/// The default backlog: four listeners take a burst of SYNs between two polls; more would
/// only lengthen smoltcp's walks over every socket.
pub const BACKLOG: usize = 4;

/// How many slots are in each state, by [`Slot::kind`], kept with every change of a slot:
/// the checks after every received frame then cost nothing when there is nothing to do,
/// instead of a scan of all `N` slots. `u16`: a board's RAM counts every byte, and no server
/// has more than 65,535 sockets.
type Counts = [u16; 6];

/// `N` TCP sockets serving one port (see the [module docs](self)).
pub struct Listeners<const N: usize> {
    config: ListenConfig,
    handles: [SocketHandle; N],
    slots: [Slot; N],
    counts: Counts,
}

/// Whether a socket's connection is still the service's to serve.
fn connected(socket: &tcp::Socket<'_>) -> bool {
    matches!(socket.state(), State::Established | State::CloseWait)
}

impl<const N: usize> Listeners<N> {
    /// Adds `N` sockets to `stack`, one per element of `buffers`; up to `backlog` of them
    /// listen, and the others are parked if the stack has room (see `Stack::with_parking`).
    pub fn new<'s, const RX: usize, const TX: usize>(
        config: ListenConfig,
        stack: &mut Stack<'s>,
        buffers: &'s mut [TcpBuffers<RX, TX>; N],
    ) -> Self {
        const {
            assert!(N > 0, "a server needs at least one socket");
            assert!(N <= u16::MAX as usize, "at most 65,535 sockets");
        }
        let mut buffers = buffers.iter_mut();
        let mut parked = [false; N];
        let handles = core::array::from_fn(|i| {
            let handle = stack.add_tcp(buffers.next().expect("one buffer per socket"));
            // Parked at once, so the next socket takes the same slot of the set: a growing
            // set (see `SocketSlots`) starts no larger than the listeners need.
            let Sockets { set, parking } = &mut stack.sockets;
            match parking.park(set, handle) {
                Some(handle) => {
                    parked[i] = true;
                    handle
                }
                None => handle,
            }
        });
        let mut counts = [0; 6];
        counts[SPARE] = N as u16;
        let mut pool = Self {
            config,
            handles,
            slots: core::array::from_fn(|i| Slot::Spare { parked: parked[i] }),
            counts,
        };
        let Sockets { set, parking } = &mut stack.sockets;
        pool.balance(set, parking);
        pool
    }

    /// The configuration in force.
    pub fn config(&self) -> &ListenConfig {
        &self.config
    }

    /// Connections being served now.
    pub fn open(&self) -> usize {
        self.count(OPEN)
    }

    /// Connections over for the service whose sockets TCP is still closing.
    pub fn closing(&self) -> usize {
        self.count(CLOSING) + self.count(FINISHING)
    }

    /// The socket of slot `index` (as [`serve`](Self::serve) names it) while its connection
    /// is served; a spare socket's handle changes when it is parked.
    pub fn handle(&self, index: usize) -> SocketHandle {
        self.handles[index]
    }

    /// For the service's [`Service::poll_at`](crate::Service::poll_at): the earliest of
    /// what `each` says of each served connection (by slot index) and the closings'
    /// deadlines (`now` if a socket waits to be freed).
    pub fn poll_at(
        &self,
        now: Instant,
        each: impl Fn(usize) -> Option<Instant>,
    ) -> Option<Instant> {
        let mut left = self.open() + self.closing();
        let mut next = None;
        for (i, slot) in self.slots.iter().enumerate() {
            if left == 0 {
                break;
            }
            let at = match *slot {
                Slot::Open => each(i),
                Slot::Closing { deadline } => Some(deadline),
                Slot::Finishing => Some(now),
                _ => continue,
            };
            left -= 1;
            next = crate::time::earliest(next, at);
        }
        next
    }

    /// For [`Service::after_frame`](crate::Service::after_frame): replaces listeners that
    /// took a SYN with this frame, so the next SYN, even in the same batch of frames, finds
    /// one; only when no spare socket is left for that, frees the sockets whose connections
    /// have finished closing. With spare sockets left it looks at the listeners alone.
    ///
    /// Returns true if a socket in TIME-WAIT still has to send the ACK of its peer's FIN:
    /// the stack then sends what is queued and calls again, which frees it. A client that
    /// reconnects in the same burst of frames as its close is thus served even when every
    /// other socket is taken, and its close still completes.
    pub fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        let Sockets { set, parking } = sockets;
        // Up to the last listener, not over all `N` slots.
        let mut left = self.count(LISTENING);
        let mut i = 0;
        while left > 0 && i < N {
            if let Slot::Listening = self.slots[i] {
                left -= 1;
                if set.get_mut::<tcp::Socket>(self.handles[i]).state() != State::Listen {
                    self.set(i, Slot::Accepting);
                }
            }
            i += 1;
        }
        if !self.wants_listener() {
            return false;
        }
        // Spare sockets first; the closed ones only when there are none.
        let send_first = self.count(SPARE) == 0 && self.free_closed(set, parking);
        self.balance(set, parking);
        send_first
    }

    /// Hands each connection to `each` with its slot index and what changed — `Accepted`
    /// (then at once `Open`), `Open`, and once `Ended` — and keeps the sockets: frees the
    /// closed ones, parks the spare ones, lets enough listen. Call it from
    /// [`Service::poll`](crate::Service::poll). Returns true if a slot changed; what `each`
    /// sends or reads the service reports itself.
    pub fn serve(
        &mut self,
        now: Instant,
        stack: &mut Stack<'_>,
        mut each: impl FnMut(usize, &mut tcp::Socket<'_>, Conn),
    ) -> bool {
        let Sockets { set, parking } = &mut stack.sockets;
        let mut changed = false;
        // Slots are taken from the front (see `balance`), so the busy ones are usually the
        // first few: stop after the last of them instead of walking all `N`. Only slot `i`
        // changes while it is served, so the slots behind it stay as counted.
        let mut busy = N - self.count(SPARE);
        for i in 0..N {
            if busy == 0 {
                break;
            }
            if let Slot::Spare { .. } = self.slots[i] {
                continue;
            }
            busy -= 1;
            let socket = set.get_mut::<tcp::Socket>(self.handles[i]);
            // Most busy slots are still waiting for a client: skip them first.
            if let (Slot::Listening, State::Listen) | (Slot::Accepting, State::SynReceived) =
                (self.slots[i], socket.state())
            {
                continue;
            }
            changed |= self.visit(i, now, socket, &mut each);
            self.park(i, set, parking);
        }
        changed | self.balance(set, parking)
    }

    /// Moves slot `i` on with what its socket did, telling `each`. Returns true if that
    /// queued something to send.
    fn visit(
        &mut self,
        i: usize,
        now: Instant,
        socket: &mut tcp::Socket<'_>,
        each: &mut impl FnMut(usize, &mut tcp::Socket<'_>, Conn),
    ) -> bool {
        // Each turn moves the slot on; a slot whose socket has more to show (an accepted
        // connection to serve, an ended one to close) takes another turn.
        let mut moved = false;
        loop {
            match self.slots[i] {
                Slot::Spare { .. } => return moved,
                Slot::Listening | Slot::Accepting => match socket.state() {
                    // Still listening, or back to listening after the client's RST: a
                    // socket that was accepting is set aside (aborting a listener sends
                    // nothing), and `balance` lets enough listen.
                    State::Listen => {
                        if let Slot::Accepting = self.slots[i] {
                            socket.abort();
                            self.set(i, Slot::Spare { parked: false });
                        }
                        return moved;
                    }
                    State::SynReceived => {
                        self.set(i, Slot::Accepting);
                        return moved;
                    }
                    // The client came and went before it was served: TCP finishes the
                    // close.
                    State::Closed | State::TimeWait => {
                        let deadline = now + self.config.close_timeout;
                        self.set(i, Slot::Closing { deadline });
                    }
                    _ => {
                        self.set(i, Slot::Open);
                        each(i, socket, Conn::Accepted);
                    }
                },
                Slot::Open => {
                    if connected(socket) {
                        each(i, socket, Conn::Open);
                        if connected(socket) {
                            return moved;
                        }
                    }
                    each(i, socket, Conn::Ended);
                    let deadline = now + self.config.close_timeout;
                    self.set(i, Slot::Closing { deadline });
                }
                // The frames just taken in may have brought this socket to TIME-WAIT with
                // the ACK of the peer's FIN still queued: it becomes `Finishing`, freed on
                // the next call, which comes after an egress pass (this call reports a
                // change). An aborted socket keeps its remote endpoint until its RST is
                // out. Freeing a socket queues nothing to send.
                Slot::Closing { deadline } => {
                    if self.reclaim(i, socket, false) {
                        return moved | matches!(self.slots[i], Slot::Finishing);
                    }
                    if now >= deadline && socket.state() != State::Closed {
                        socket.abort();
                        return true;
                    }
                    return moved;
                }
                Slot::Finishing => {
                    self.reclaim(i, socket, true);
                    return moved;
                }
            }
            moved = true;
        }
    }

    /// Frees slot `i`'s closed connection once TCP is done with it; true if the slot
    /// changed. `sent`: the stack has sent what was queued since the last frame came in. If
    /// it has not, a socket in TIME-WAIT still owes its peer the ACK of the FIN and becomes
    /// `Finishing`, freed on the next call (made after sending).
    fn reclaim(&mut self, i: usize, socket: &tcp::Socket<'_>, sent: bool) -> bool {
        let next = match self.slots[i] {
            Slot::Closing { .. } if !sent && socket.state() == State::TimeWait => Slot::Finishing,
            Slot::Closing { .. } if !tcp_is_free(socket) => return false,
            Slot::Closing { .. } | Slot::Finishing => Slot::Spare { parked: false },
            _ => return false,
        };
        self.set(i, next);
        true
    }

    /// Frees (and parks) the sockets whose connections have finished closing. Returns true
    /// if one in TIME-WAIT still has to send the ACK of its peer's FIN (see `after_frame`).
    fn free_closed<'s>(&mut self, set: &mut SocketSet<'s>, parking: &mut Parking<'s>) -> bool {
        let mut send_first = false;
        let mut left = self.closing();
        let mut i = 0;
        while left > 0 && i < N {
            if let Slot::Closing { .. } | Slot::Finishing = self.slots[i] {
                left -= 1;
                self.reclaim(i, set.get_mut(self.handles[i]), false);
                send_first |= matches!(self.slots[i], Slot::Finishing);
                self.park(i, set, parking);
            }
            i += 1;
        }
        send_first
    }

    /// Makes spare sockets listen while [`wants_listener`](Self::wants_listener), parked
    /// ones brought back first. Returns true if anything changed.
    fn balance<'s>(&mut self, set: &mut SocketSet<'s>, parking: &mut Parking<'s>) -> bool {
        debug_assert!(self.counts_hold());
        let mut changed = false;
        let mut from = 0;
        while self.wants_listener() && self.count(SPARE) > 0 {
            let Some(i) = (from..N).find(|&i| matches!(self.slots[i], Slot::Spare { .. })) else {
                break;
            };
            from = i + 1;
            if let Slot::Spare { parked: true } = self.slots[i] {
                // Only a full socket set (slots taken by someone else) keeps it parked.
                let Some(handle) = parking.unpark(set, self.handles[i]) else {
                    continue;
                };
                self.handles[i] = handle;
                self.slots[i] = Slot::Spare { parked: false };
            }
            self.listen(set.get_mut(self.handles[i]));
            self.set(i, Slot::Listening);
            changed = true;
        }
        changed
    }

    /// Parks slot `i`'s socket if the slot is spare and its socket still in the set.
    fn park<'s>(&mut self, i: usize, set: &mut SocketSet<'s>, parking: &mut Parking<'s>) {
        if let Slot::Spare { parked: false } = self.slots[i] {
            if let Some(handle) = parking.park(set, self.handles[i]) {
                self.handles[i] = handle;
                self.slots[i] = Slot::Spare { parked: true };
            }
        }
    }

    fn listen(&self, socket: &mut tcp::Socket<'_>) {
        // Only fails for port 0 or an open socket; neither can happen here.
        let _ = socket.listen(self.config.port);
    }

    /// Fewer than `backlog` listen, and more clients may be served.
    fn wants_listener(&self) -> bool {
        let listening = self.count(LISTENING);
        listening < self.backlog()
            && self.count(OPEN) + self.count(ACCEPTING) + listening < self.config.max_open.max(1)
    }

    fn backlog(&self) -> usize {
        self.config.backlog.max(1)
    }

    fn count(&self, kind: usize) -> usize {
        usize::from(self.counts[kind])
    }

    /// Puts slot `i` in state `slot`, keeping the counts. Not inlined: called from every
    /// state change, it is a board's flash many times over when copied into each.
    #[inline(never)]
    fn set(&mut self, i: usize, slot: Slot) {
        self.counts[self.slots[i].kind()] -= 1;
        self.counts[slot.kind()] += 1;
        self.slots[i] = slot;
    }

    /// The counts agree with the slots (checked in debug builds, i.e. by every test).
    fn counts_hold(&self) -> bool {
        let mut counts = [0; 6];
        for slot in &self.slots {
            counts[slot.kind()] += 1;
        }
        counts == self.counts
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::boxed::Box;
    use std::vec::Vec;

    use super::*;
    use crate::link::Link;
    use crate::{App, Ignore, Service, StackConfig};
    use smoltcp::iface::SocketStorage;
    use smoltcp::time::{Duration, Instant};
    use smoltcp::wire::{IpAddress, IpEndpoint};

    const PORT: u16 = 7;

    fn leak<T>(value: T) -> &'static mut T {
        Box::leak(Box::new(value))
    }

    /// A server on the pool: records what it is told, closes a connection that sends `bye`.
    struct Bye<const N: usize> {
        pool: Listeners<N>,
        seen: Vec<(usize, Conn)>,
    }

    impl<const N: usize> Service<Ignore> for Bye<N> {
        fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, _: &mut Ignore) -> bool {
            let seen = &mut self.seen;
            self.pool.serve(now, stack, |i, socket, conn| {
                seen.push((i, conn));
                let mut buf = [0; 16];
                if let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
                    if &buf[..n] == b"bye" {
                        socket.close();
                    }
                }
            })
        }

        fn poll_at(&self, now: Instant) -> Option<Instant> {
            self.pool.poll_at(now, |_| None)
        }

        fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
            self.pool.after_frame(sockets)
        }
    }

    /// The server app on one end of the in-memory link, plain client sockets on the other.
    struct Pair<const N: usize = 3> {
        link: &'static Link<2, 32>,
        server: App<'static, Bye<N>>,
        client: Stack<'static>,
        clients: [SocketHandle; 4],
        now: Instant,
    }

    impl<const N: usize> Pair<N> {
        fn new(config: ListenConfig) -> Self {
            let link: &'static Link<2, 32> = leak(Link::new());
            let now = Instant::ZERO;
            let scfg = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
            let ccfg = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24);
            let slots = leak([SocketStorage::EMPTY; N]);
            let mut stack = Stack::new(&scfg, &mut link.port(0), slots, now);
            let buffers = leak([const { TcpBuffers::<256, 256>::new() }; N]);
            let pool = Listeners::new(config, &mut stack, buffers);
            let server = App::new(
                stack,
                Bye {
                    pool,
                    seen: Vec::new(),
                },
            );
            let slots = leak([SocketStorage::EMPTY; 4]);
            let mut client = Stack::new(&ccfg, &mut link.port(1), slots, now);
            let clients =
                core::array::from_fn(|_| client.add_tcp(leak(TcpBuffers::<256, 256>::new())));
            Self {
                link,
                server,
                client,
                clients,
                now,
            }
        }

        fn pool(&self) -> &Listeners<N> {
            &self.server.services().pool
        }

        fn connect(&mut self, c: usize) {
            let remote = IpEndpoint::new(IpAddress::v4(10, 0, 0, 2), PORT);
            self.client.connect(self.clients[c], remote, 0).unwrap();
        }

        /// Runs both ends for `ms` simulated milliseconds; returns what the server was told.
        fn run(&mut self, ms: u64) -> Vec<(usize, Conn)> {
            let end = self.now + Duration::from_millis(ms);
            while self.now < end {
                self.server
                    .poll(self.now, &mut self.link.port(0), &mut Ignore);
                self.client.poll(self.now, &mut self.link.port(1));
                if self.link.in_flight() == 0 {
                    self.now += Duration::from_millis(1);
                }
            }
            core::mem::take(&mut self.server.services_mut().seen)
        }

        /// Runs the server alone (the client host is gone) for `ms` simulated milliseconds.
        fn run_server(&mut self, ms: u64) {
            let end = self.now + Duration::from_millis(ms);
            while self.now < end {
                self.server
                    .poll(self.now, &mut self.link.port(0), &mut Ignore);
                self.now += Duration::from_millis(1);
            }
        }

        fn client(&mut self, c: usize) -> &mut tcp::Socket<'static> {
            self.client.tcp(self.clients[c])
        }
    }

    #[test]
    fn at_most_the_backlog_listens_and_a_taken_listener_is_replaced() {
        let mut pair: Pair = Pair::new(ListenConfig::new(PORT).with_backlog(1));
        assert_eq!(pair.pool().count(LISTENING), 1);
        pair.connect(0);
        let seen = pair.run(20);
        assert_eq!(seen.first(), Some(&(0, Conn::Accepted)));
        assert_eq!(pair.client(0).state(), State::Established);
        assert_eq!((pair.pool().open(), pair.pool().count(LISTENING)), (1, 1));
    }

    #[test]
    fn a_client_beyond_max_open_is_refused_at_once() {
        let mut pair: Pair = Pair::new(ListenConfig::new(PORT).with_max_open(2));
        for c in 0..3 {
            pair.connect(c);
        }
        pair.run(50);
        assert_eq!(pair.pool().open(), 2);
        assert_eq!(pair.pool().count(LISTENING), 0, "full: nobody listens");
        let refused = (0..3)
            .filter(|&c| pair.client(c).state() == State::Closed)
            .count();
        assert_eq!(refused, 1, "the third client got RST, not silence");
    }

    #[test]
    fn a_slot_the_server_closed_serves_the_next_client_after_time_wait() {
        let mut pair: Pair = Pair::new(ListenConfig::new(PORT).with_max_open(1));
        pair.connect(0);
        pair.run(20);
        pair.client(0).send_slice(b"bye").unwrap();
        let seen = pair.run(20);
        // The service closed: that is the end of the connection for it.
        assert_eq!(seen.last(), Some(&(0, Conn::Ended)), "{seen:?}");
        assert_eq!(pair.client(0).state(), State::CloseWait);
        pair.client(0).close();
        let seen = pair.run(20);
        assert_eq!(seen, [], "an ended connection is not reported again");
        // The server closed first, so its socket went through TIME-WAIT; the client's end
        // got the last ACK (it would resend its FIN otherwise).
        assert_eq!(pair.client(0).state(), State::Closed);
        // Free again within milliseconds, not after TIME-WAIT's 10 s; the reserve (slot 1)
        // listened meanwhile.
        assert_eq!(pair.pool().closing(), 0, "{:?}", pair.pool().slots);
        assert_eq!(
            pair.pool().slots,
            [
                Slot::Spare { parked: false },
                Slot::Listening,
                Slot::Spare { parked: false }
            ]
        );
        // Every socket takes a server-closed connection in turn, slot 0 again last.
        for c in 1..4 {
            pair.connect(c);
            let seen = pair.run(20);
            assert!(
                seen.iter().any(|&(_, conn)| conn == Conn::Accepted),
                "{seen:?}"
            );
            pair.client(c).send_slice(b"bye").unwrap();
            pair.run(20);
            pair.client(c).close();
            pair.run(20);
            assert_eq!(pair.client(c).state(), State::Closed);
        }
        assert_eq!(pair.pool().closing(), 0, "{:?}", pair.pool().slots);
    }

    #[test]
    fn a_free_slot_waits_while_the_others_are_open_or_listening() {
        let mut pair: Pair = Pair::new(ListenConfig::new(PORT).with_backlog(1).with_max_open(2));
        assert_eq!(
            pair.pool().slots,
            [
                Slot::Listening,
                Slot::Spare { parked: false },
                Slot::Spare { parked: false }
            ]
        );
        pair.connect(0);
        pair.run(20);
        assert_eq!(
            pair.pool().slots,
            [Slot::Open, Slot::Listening, Slot::Spare { parked: false }]
        );
        pair.connect(1);
        pair.run(20);
        assert_eq!(
            pair.pool().slots,
            [Slot::Open, Slot::Open, Slot::Spare { parked: false }]
        );
    }

    #[test]
    fn a_closing_the_peer_never_finishes_is_aborted_at_the_close_timeout() {
        let timeout = Duration::from_secs(2);
        let config = ListenConfig::new(PORT)
            .with_max_open(1)
            .with_close_timeout(timeout);
        let mut pair: Pair<2> = Pair::new(config);
        pair.connect(0);
        pair.run(20);
        pair.client(0).send_slice(b"bye").unwrap();
        pair.run(5);
        // The server closed, and the client's host went away before its FIN-ACK.
        let closed_at = pair.now;
        let deadline = pair.server.services().poll_at(closed_at);
        assert!(
            deadline.is_some_and(|at| at > closed_at && at <= closed_at + timeout),
            "{deadline:?}"
        );
        pair.run_server(1000);
        assert_eq!(pair.pool().closing(), 1, "still closing within the timeout");
        pair.run_server(1100);
        assert_eq!(pair.pool().closing(), 0, "{:?}", pair.pool().slots);
        assert_eq!(pair.pool().count(LISTENING), 1, "the slot serves again");
    }

    #[cfg(feature = "parking")]
    #[test]
    fn spare_sockets_wait_parked_and_come_back_when_needed() {
        let link: &'static Link<2, 32> = leak(Link::new());
        let now = Instant::ZERO;
        let scfg = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
        let slots = leak([SocketStorage::EMPTY; 8]);
        let stack = Stack::new(&scfg, &mut link.port(0), slots, now);
        let mut stack = stack.with_parking(leak([SocketStorage::EMPTY; 8]));
        let buffers = leak([const { TcpBuffers::<256, 256>::new() }; 8]);
        let config = ListenConfig::new(PORT).with_backlog(2);
        let mut pool = Listeners::new(config, &mut stack, buffers);
        let in_set = |stack: &Stack<'_>| stack.sockets().iter().count();
        assert_eq!(in_set(&stack), 2, "only the listeners are in smoltcp's set");
        assert_eq!(pool.count(SPARE), 6);
        // Two clients take the listeners (as `after_frame` sees it): two more come back.
        for i in [0, 1] {
            pool.set(i, Slot::Accepting);
        }
        pool.after_frame(stack.sockets_mut());
        assert_eq!(in_set(&stack), 4);
        assert_eq!(pool.count(LISTENING), 2);
    }

    #[test]
    fn one_socket_takes_the_next_client_in_the_same_burst_as_its_time_wait() {
        let mut pair: Pair<1> = Pair::new(ListenConfig::new(PORT));
        pair.connect(0);
        let seen = pair.run(20);
        assert_eq!(seen.first(), Some(&(0, Conn::Accepted)), "{seen:?}");
        for c in 0..3 {
            pair.client(c).send_slice(b"bye").unwrap();
            pair.run(20);
            // The client's FIN and the next client's SYN arrive together: the one socket
            // must ACK the FIN (TIME-WAIT) and listen again between the two frames.
            pair.client(c).close();
            pair.connect(c + 1);
            let seen = pair.run(20);
            assert_eq!(
                pair.client(c).state(),
                State::Closed,
                "client {c} got its last ACK"
            );
            assert_eq!(
                seen.first(),
                Some(&(0, Conn::Accepted)),
                "client {}: {seen:?}",
                c + 1
            );
            assert_eq!(pair.client(c + 1).state(), State::Established);
        }
    }
}
