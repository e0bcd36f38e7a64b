//! A server's sockets on one port: the building block for a user's own server.
//!
//! [`Listeners`] owns `N` TCP sockets and keeps the bookkeeping every small server needs and
//! is easy to get wrong on smoltcp:
//!
//! * **Backlog**: at most `backlog` free sockets listen at once (each listener is walked on
//!   every frame); another listens as soon as one takes a SYN.
//! * **Refusal when full**: once `max_open` connections are open no socket listens, so
//!   smoltcp answers the next SYN with RST at once — a client is refused, never left hanging.
//! * **Closing reserve**: connections that are closing (our FIN sent, or TIME-WAIT) hold
//!   their sockets until TCP is done; with `N` above `max_open` they do so without costing
//!   a new client its place.
//! * **Relisten after TIME-WAIT**: a socket in TIME-WAIT listens again once the ACK of the
//!   peer's FIN has left (relistening at once would discard it, and the peer would resend
//!   its FIN into a new connection). Call [`Listeners::after_frame`] from
//!   [`Service::after_frame`](crate::Service::after_frame) so a client reconnecting in the
//!   same burst of frames finds a listener.
//!
//! The pool does not read or write data: the service does, through [`Listeners::serve`],
//! which hands it each connection with what changed.

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use crate::stack::{Sockets, Stack, TcpBuffers};

/// What a slot's socket is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Free and not listening (the backlog or `max_open` holds it back).
    Idle,
    /// Listening for a client.
    Listening,
    /// A client connected (seen between frames); the service has not been told yet.
    Accepting,
    /// A client is connected (or connecting): the service serves it.
    Open,
    /// The connection is over for the service; TCP is still closing it.
    Closing,
    /// In TIME-WAIT: listens again once the ACK of the peer's FIN is out.
    Finishing,
}

/// What [`Listeners::serve`] tells the service about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conn {
    /// A client just connected on this slot, handshake done (the first time the service
    /// sees it).
    Accepted,
    /// The connection goes on: read, write, or close it.
    Open,
    /// The connection on this slot ended (closed by either side, reset, or aborted): the
    /// last time the service hears of it.
    Ended,
}

/// How many [`Listeners`] serve at once, and how many wait for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenConfig {
    /// The TCP port.
    pub port: u16,
    /// Most sockets listening at once (at least 1).
    pub backlog: usize,
    /// Most connections open at once; the sockets beyond it are the closing reserve.
    pub max_open: usize,
}

impl ListenConfig {
    /// Port `port`, every socket may serve, up to 4 listen at once.
    pub const fn new(port: u16) -> Self {
        Self {
            port,
            backlog: 4,
            max_open: usize::MAX,
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
}

/// What [`Listeners::serve`] calls for each connection: slot index, socket, what changed.
type Visit<'v> = dyn FnMut(usize, &mut tcp::Socket<'_>, Conn) + 'v;

/// `N` TCP sockets serving one port (see the [module docs](self)).
pub struct Listeners<const N: usize> {
    config: ListenConfig,
    handles: [SocketHandle; N],
    slots: [Slot; N],
}

impl<const N: usize> Listeners<N> {
    /// Adds `N` sockets to `stack`, one per element of `buffers`, and starts listening.
    pub fn new<'s, const RX: usize, const TX: usize>(
        config: ListenConfig,
        stack: &mut Stack<'s>,
        buffers: &'s mut [TcpBuffers<RX, TX>; N],
    ) -> Self {
        let mut buffers = buffers.iter_mut();
        let handles =
            core::array::from_fn(|_| stack.add_tcp(buffers.next().expect("one per socket")));
        let mut pool = Self {
            config,
            handles,
            slots: [Slot::Idle; N],
        };
        pool.balance(stack.sockets_mut());
        pool
    }

    /// The configuration in force.
    pub fn config(&self) -> &ListenConfig {
        &self.config
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.count(Slot::Open) + self.count(Slot::Accepting)
    }

    /// Connections still closing (holding a socket).
    pub fn closing(&self) -> usize {
        self.count(Slot::Closing) + self.count(Slot::Finishing)
    }

    /// The socket of slot `index` (as [`serve`](Self::serve) names it).
    pub fn handle(&self, index: usize) -> SocketHandle {
        self.handles[index]
    }

    fn count(&self, slot: Slot) -> usize {
        self.slots.iter().filter(|s| **s == slot).count()
    }

    /// For [`Service::after_frame`](crate::Service::after_frame): notes what the frame did
    /// and lets free sockets listen. Returns true when a socket in TIME-WAIT must send its
    /// last ACK before it listens again (the stack sends, then calls again).
    pub fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        let finishing = self.observe(sockets, None);
        self.balance(sockets);
        finishing
    }

    /// Hands each connection to `each` with its slot index and what changed, then lets free
    /// sockets listen. Call it from [`Service::poll`](crate::Service::poll). Returns true if
    /// any slot changed.
    pub fn serve(
        &mut self,
        stack: &mut Stack<'_>,
        mut each: impl FnMut(usize, &mut tcp::Socket<'_>, Conn),
    ) -> bool {
        let sockets = stack.sockets_mut();
        let before = self.slots;
        self.observe(sockets, Some(&mut each));
        for (i, slot) in self.slots.iter().enumerate() {
            if *slot == Slot::Open {
                each(
                    i,
                    sockets.get_mut::<tcp::Socket>(self.handles[i]),
                    Conn::Open,
                );
            }
        }
        self.balance(sockets);
        before != self.slots
    }

    /// Moves each slot to what its socket now does, telling `each` of connections that
    /// began or ended. Between frames (`each` is `None`) open connections are left for the
    /// service to see: only new clients and closings move. Returns true if a socket entered
    /// TIME-WAIT.
    fn observe(&mut self, sockets: &mut Sockets<'_>, mut each: Option<&mut Visit<'_>>) -> bool {
        let mut finishing = false;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if *slot == Slot::Idle
                || (each.is_none() && matches!(slot, Slot::Open | Slot::Accepting))
            {
                continue;
            }
            let socket = sockets.get_mut::<tcp::Socket>(self.handles[i]);
            let next = match socket.state() {
                State::Listen => Slot::Listening,
                State::SynReceived | State::Established | State::CloseWait => match *slot {
                    Slot::Listening => Slot::Accepting,
                    other => other,
                },
                // A TIME-WAIT seen a second time: its ACK went out in between.
                State::TimeWait if *slot == Slot::Finishing => Slot::Idle,
                State::TimeWait => Slot::Finishing,
                State::Closed if socket.remote_endpoint().is_some() => Slot::Closing,
                State::Closed => Slot::Idle,
                // Our FIN is out: TCP finishes the close.
                _ => Slot::Closing,
            };
            // Told once the handshake is done, so the service sees only usable sockets.
            let handshaken = socket.state() != State::SynReceived;
            let next = match (each.as_mut(), next) {
                (Some(each), Slot::Accepting) if handshaken => {
                    each(i, socket, Conn::Accepted);
                    Slot::Open
                }
                _ => next,
            };
            if let (Some(each), Slot::Open, false) = (each.as_mut(), *slot, next == Slot::Open) {
                each(i, socket, Conn::Ended);
            }
            finishing |= next == Slot::Finishing && *slot != Slot::Finishing;
            *slot = next;
        }
        finishing
    }

    /// Lets free sockets listen while fewer than `backlog` listen and fewer than `max_open`
    /// are open or listening.
    fn balance(&mut self, sockets: &mut Sockets<'_>) {
        let mut listening = self.count(Slot::Listening);
        let mut busy = self.open() + listening;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if listening >= self.config.backlog.max(1) || busy >= self.config.max_open {
                break;
            }
            if *slot != Slot::Idle {
                continue;
            }
            // Closed, or TIME-WAIT with its last ACK out: listening resets it, sending
            // nothing.
            let socket = sockets.get_mut::<tcp::Socket>(self.handles[i]);
            if socket.listen(self.config.port).is_ok() {
                *slot = Slot::Listening;
                listening += 1;
                busy += 1;
            }
        }
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
        fn poll(&mut self, _: Instant, stack: &mut Stack<'_>, _: &mut Ignore) -> bool {
            let seen = &mut self.seen;
            self.pool.serve(stack, |i, socket, conn| {
                seen.push((i, conn));
                let mut buf = [0; 16];
                if let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
                    if &buf[..n] == b"bye" {
                        socket.close();
                    }
                }
            })
        }

        fn poll_at(&self, _: Instant) -> Option<Instant> {
            None
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

        fn client(&mut self, c: usize) -> &mut tcp::Socket<'static> {
            self.client.tcp(self.clients[c])
        }
    }

    #[test]
    fn at_most_the_backlog_listens_and_a_taken_listener_is_replaced() {
        let mut pair: Pair = Pair::new(ListenConfig::new(PORT).with_backlog(1));
        assert_eq!(pair.pool().count(Slot::Listening), 1);
        pair.connect(0);
        let seen = pair.run(20);
        assert_eq!(seen.first(), Some(&(0, Conn::Accepted)));
        assert_eq!(pair.client(0).state(), State::Established);
        assert_eq!(
            (pair.pool().open(), pair.pool().count(Slot::Listening)),
            (1, 1)
        );
    }

    #[test]
    fn a_client_beyond_max_open_is_refused_at_once() {
        let mut pair: Pair = Pair::new(ListenConfig::new(PORT).with_max_open(2));
        for c in 0..3 {
            pair.connect(c);
        }
        pair.run(50);
        assert_eq!(pair.pool().open(), 2);
        assert_eq!(
            pair.pool().count(Slot::Listening),
            0,
            "full: nobody listens"
        );
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
        assert_eq!(pair.pool().slots, [Slot::Idle, Slot::Listening, Slot::Idle]);
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
        assert_eq!(pair.pool().slots, [Slot::Listening, Slot::Idle, Slot::Idle]);
        pair.connect(0);
        pair.run(20);
        assert_eq!(pair.pool().slots, [Slot::Open, Slot::Listening, Slot::Idle]);
        pair.connect(1);
        pair.run(20);
        assert_eq!(pair.pool().slots, [Slot::Open, Slot::Open, Slot::Idle]);
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
