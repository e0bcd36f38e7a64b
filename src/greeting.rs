//! The greeting server: the seed's `tcp_server.py` without threads.
//!
//! The server has `N` TCP sockets on one port and serves at most `N -`
//! [`GreetingConfig::reserve`] clients at once. A connected client gets `Welcome`, each
//! message `X` gets `Hello, X!`, and `exit` closes (framing as the seed's `recv(1024)`: one
//! read is one message, newline-separated lines in it are separate messages). While that many
//! clients are served no socket listens, so smoltcp answers a new SYN with RST: the client is
//! refused at once instead of waiting.
//!
//! A closed connection keeps its socket until TCP is done with it (FIN handshake, retransmits
//! under loss; TIME-WAIT is not waited out, see [`tcp_is_free`]). So that closings do not
//! cost service, the reserve holds sockets for them. Only closings beyond the reserve can make
//! a client be refused while fewer than the maximum are served. Cutting a closing short
//! instead would cost its client the end of its replies or its FIN, so it is not done.
//!
//! smoltcp looks at every socket of its set several times per poll, idle ones as much as
//! busy ones, so only a few free sockets listen ([`BACKLOG`], replaced after every received
//! frame that one of them took a SYN with) and the other free ones are parked out of its set
//! when the stack has room for them (`Stack::with_parking`).
//!
//! Nothing blocks: the seed's `time.sleep(1)` per message is a per-socket deadline, and an idle
//! client is cut off after [`GreetingConfig::idle_timeout`], so slow or dead peers cannot hold
//! the sockets forever.

use core::fmt;

use crate::text::{self, Render, TextOut};

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

use crate::framing::{self, EXIT_WINDOW, REPLY_PREFIX, REPLY_SUFFIX, WELCOME};
use crate::parking::Parking;
use crate::service::{Handler, Service};
use crate::stack::{tcp_is_free, Sockets, Stack, TcpBuffers};

/// The seed's port.
pub const DEFAULT_PORT: u16 = 9999;

/// How the greeting server behaves: start from `GreetingConfig::default()` and change what
/// differs with the `with_*` methods (or assign the fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GreetingConfig {
    /// TCP port to listen on.
    pub port: u16,
    /// Wait this long after each read before answering it (the seed sleeps 1 s).
    pub reply_delay: Duration,
    /// Close a connection that has sent nothing for this long. It also bounds how long a
    /// closing connection may hold its socket.
    pub idle_timeout: Duration,
    /// Sockets kept for connections that are closing: `N - reserve` clients are served at
    /// once (at least one), and up to `reserve` closings in progress cost no client its
    /// service.
    pub reserve: usize,
}

impl GreetingConfig {
    /// The same with `port` set (the TCP port).
    pub const fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The same with `reply_delay` set (the wait before each answer).
    pub const fn with_reply_delay(mut self, reply_delay: Duration) -> Self {
        self.reply_delay = reply_delay;
        self
    }

    /// The same with `idle_timeout` set (silence before a client is cut off).
    pub const fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// The same with `reserve` set (sockets kept for closing connections).
    pub const fn with_reserve(mut self, reserve: usize) -> Self {
        self.reserve = reserve;
        self
    }
}

impl Default for GreetingConfig {
    /// Port 9999, no reply delay, 60 s idle timeout, no reserve.
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            reply_delay: Duration::ZERO,
            idle_timeout: Duration::from_secs(60),
            reserve: 0,
        }
    }
}

/// Why a greeting connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent `exit`.
    Exit,
    /// The client closed its side (FIN).
    PeerClosed,
    /// The client reset the connection (RST).
    PeerReset,
    /// The client sent nothing for the idle timeout; the connection was aborted.
    IdleTimeout,
}

/// What the greeting server reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum GreetingEvent {
    /// A client connected.
    Accepted {
        /// The client's address and port.
        peer: IpEndpoint,
    },
    /// A client's connection ended.
    Closed {
        /// The client's address and port.
        peer: IpEndpoint,
        /// Why it ended.
        reason: CloseReason,
    },
}

/// The seed's log lines.
impl Render for GreetingEvent {
    fn render(&self, out: &mut dyn TextOut) {
        match self {
            Self::Accepted { peer } => {
                out.put("Accept new connection from ");
                out.endpoint(*peer);
                out.put("...");
            }
            Self::Closed { peer, .. } => {
                out.put("Connection from ");
                out.endpoint(*peer);
                out.put(" close.");
            }
        }
    }
}

impl fmt::Display for GreetingEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// Bytes of a message copied from the receive buffer to the transmit buffer at a time (on the
/// stack): replies stream through windows this big.
const WINDOW: usize = 64;

/// How far the answer to the current read has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// At the start of a message (or past the last one).
    Between,
    /// `Hello, ` is out; the message's bytes stream after it.
    Body,
    /// The whole message is out; the closing `!` is owed.
    Suffix,
}

/// One connected client.
struct Session {
    peer: IpEndpoint,
    /// When the client last sent something.
    heard_at: Instant,
    welcomed: bool,
    /// Bytes of the current read not yet answered. They stay in the socket's receive buffer,
    /// at its front; the read's extent is fixed when it is first seen, so bytes arriving
    /// while its reply streams belong to the next read.
    read_left: usize,
    reply: Reply,
    /// The current read is not answered before this (the reply delay).
    reply_at: Instant,
}

/// What one socket is doing.
enum Slot {
    /// Free, not listening. `parked`: its socket waits in the stack's
    /// [`Parking`](crate::parking::Parking), out of smoltcp's walks over every socket.
    Spare { parked: bool },
    /// Waiting for a client (at most [`BACKLOG`] at a time).
    Listening,
    /// Has taken a client's SYN (handshake under way or done), not yet served: counts as a
    /// served client, no longer as a listener. Only with more than [`BACKLOG`] sockets
    /// (`GreetingServer::CAPPED`).
    Accepting,
    /// Serving a client.
    Open(Session),
    /// Closed by us or the client; the socket is reused once TCP is done with it, or aborted
    /// at `deadline` if the client never finishes the close.
    Closing { deadline: Instant },
    /// In TIME-WAIT, seen between received frames: the ACK of the client's FIN is queued but
    /// not yet sent. The socket is free again once the caller has sent it (see
    /// [`GreetingServer::relisten`]); listening earlier would discard that ACK and leave the
    /// client retransmitting its FIN into a reset.
    Finishing,
}

impl Slot {
    /// Which of the five states this is, as an index into [`Counts`].
    fn kind(&self) -> usize {
        match self {
            Slot::Spare { .. } => SPARE,
            Slot::Listening => LISTENING,
            Slot::Accepting => ACCEPTING,
            Slot::Open(_) => OPEN,
            Slot::Closing { .. } => CLOSING,
            Slot::Finishing => FINISHING,
        }
    }

    /// Frees a closed connection's socket once TCP is done with it; true if the slot
    /// changed. `sent`: the interface has sent what was queued since the last frame came
    /// in. If it has not, a socket in TIME-WAIT still owes its client the ACK of the FIN and
    /// becomes `Finishing`, which is freed on the next call (made after sending).
    fn reclaim(&mut self, socket: &mut tcp::Socket, sent: bool) -> bool {
        match self {
            Slot::Closing { .. } if !sent && socket.state() == State::TimeWait => {
                *self = Slot::Finishing;
            }
            Slot::Closing { .. } if !tcp_is_free(socket) => return false,
            Slot::Closing { .. } | Slot::Finishing => *self = Slot::Spare { parked: false },
            Slot::Spare { .. } | Slot::Listening | Slot::Accepting | Slot::Open(_) => return false,
        }
        true
    }
}

const SPARE: usize = 0;
const LISTENING: usize = 1;
const ACCEPTING: usize = 2;
const OPEN: usize = 3;
const CLOSING: usize = 4;
const FINISHING: usize = 5;

/// Most sockets listening at once. Each takes one SYN, and the server's
/// [`Service::after_frame`], run after every received frame, puts another one in its place, so a burst of SYNs in one
/// batch of frames still finds a listener for each client that may be served; more
/// listeners would only lengthen smoltcp's walks over every socket (a listener costs as much
/// there as a connection). A caller that never runs `after_frame` accepts up to this many
/// clients per poll.
pub const BACKLOG: usize = 4;

/// How many slots are in each of the six states, by [`Slot::kind`]. Kept up to date with every change of
/// a slot, so the checks that run after every received frame ([`GreetingServer::relisten`])
/// cost nothing when there is nothing to do, instead of a scan of all `N` slots. `u16`: a
/// board's RAM counts every byte, and no server has more than 65,535 sockets.
type Counts = [u16; 6];

/// The greeting server over `N` sockets; `MSG` bytes is the most one read takes (the seed's
/// `recv(1024)`).
pub struct GreetingServer<const N: usize, const MSG: usize = 1024> {
    config: GreetingConfig,
    handles: [SocketHandle; N],
    slots: [Slot; N],
    counts: Counts,
    /// The listening slots, the first `counts[LISTENING]` entries (never more than
    /// [`BACKLOG`]): what [`GreetingServer::relisten`] checks after every received frame,
    /// without a scan of all `N` slots. Kept only under the cap (`CAPPED`).
    listeners: [u16; BACKLOG],
}

impl<const N: usize, const MSG: usize> GreetingServer<N, MSG> {
    /// Whether [`BACKLOG`] caps the listeners (more sockets than that). Without the cap every
    /// free socket listens anyway and `balance` counts listeners and accepting sockets
    /// together, so a listener that took a SYN stays `Listening`: a small server (a board's)
    /// links none of the `Accepting` and listener-list bookkeeping, and frees closed sockets
    /// after every frame in `relisten` as before the cap.
    const CAPPED: bool = N > BACKLOG;

    /// Adds `N` sockets to `stack`, one per element of `buffers`; up to [`BACKLOG`] of them
    /// listen, and the others are parked if the stack has room (see
    /// `Stack::with_parking`).
    ///
    /// Replies stream, so a transmit buffer of a few hundred bytes serves messages of any
    /// length; it must hold `Welcome` (checked at compile time). A read stays in the receive
    /// buffer until answered, so `RX` at least `MSG` lets one read take `MSG` bytes.
    pub fn new<'s, const RX: usize, const TX: usize>(
        config: GreetingConfig,
        stack: &mut Stack<'s>,
        buffers: &'s mut [TcpBuffers<RX, TX>; N],
    ) -> Self {
        const {
            assert!(N > 0, "the greeting server needs at least one socket");
            assert!(N <= u16::MAX as usize, "at most 65,535 greeting sockets");
            assert!(MSG > 0, "a read must take at least one byte");
            assert!(
                TX >= WELCOME.len(),
                "the transmit buffer must hold `Welcome`"
            );
        }
        let mut buffers = buffers.iter_mut();
        let mut parked = [false; N];
        let handles = core::array::from_fn(|i| {
            let handle = stack.add_tcp(buffers.next().expect("one buffer per socket"));
            let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
            // Replies are small and each answers a request: send them at once.
            socket.set_nagle_enabled(false);
            // Parked at once, so the next socket takes the same slot of the set: a growing
            // set (see `SocketSlots`) starts no larger than the listeners need. Inline rather
            // than `Self::park` on a built server, so a board links no second park loop.
            let sockets = &mut stack.sockets;
            match sockets.parking.park(&mut sockets.set, handle) {
                Some(handle) => {
                    parked[i] = true;
                    handle
                }
                None => handle,
            }
        });
        let mut server = Self {
            config,
            handles,
            slots: core::array::from_fn(|i| Slot::Spare { parked: parked[i] }),
            counts: [N as u16, 0, 0, 0, 0, 0],
            listeners: [0; BACKLOG],
        };
        server.balance(&mut stack.sockets.set, &mut stack.sockets.parking);
        server
    }

    /// The configuration in force.
    pub fn config(&self) -> &GreetingConfig {
        &self.config
    }

    /// Most clients served at once: `N` less the reserve, at least one.
    pub fn max_open(&self) -> usize {
        N.saturating_sub(self.config.reserve).max(1)
    }

    /// Connections being served right now.
    pub fn active(&self) -> usize {
        self.count(OPEN)
    }

    /// Connections closed but not yet finished (their FIN handshake or RST still going).
    pub fn closing(&self) -> usize {
        self.count(CLOSING) + self.count(FINISHING)
    }

    /// How many slots are of `kind`.
    fn count(&self, kind: usize) -> usize {
        usize::from(self.counts[kind])
    }

    /// Puts slot `i` in state `slot`, keeping the counts and the listeners. At most
    /// [`BACKLOG`] slots listen (see [`Self::listen_again`]).
    fn set(&mut self, i: usize, slot: Slot) {
        let (before, after) = (self.slots[i].kind(), slot.kind());
        if Self::CAPPED && before == LISTENING {
            let last = self.count(LISTENING) - 1;
            if let Some(k) = self.listeners[..last]
                .iter()
                .position(|&l| usize::from(l) == i)
            {
                self.listeners[k] = self.listeners[last];
            }
        }
        self.counts[before] -= 1;
        if Self::CAPPED && after == LISTENING {
            // `N` fits in u16 (checked in `new`).
            self.listeners[self.count(LISTENING)] = i as u16;
        }
        self.counts[after] += 1;
        self.slots[i] = slot;
    }

    /// [`Slot::reclaim`] on slot `i`, keeping the counts.
    fn reclaim(&mut self, i: usize, socket: &mut tcp::Socket, sent: bool) -> bool {
        let before = self.slots[i].kind();
        let changed = self.slots[i].reclaim(socket, sent);
        self.counts[before] -= 1;
        self.counts[self.slots[i].kind()] += 1;
        changed
    }

    /// The counts and the listeners agree with the slots (checked in debug builds, i.e. by
    /// every test).
    fn counts_hold(&self) -> bool {
        let mut counts = [0; 6];
        for slot in &self.slots {
            counts[slot.kind()] += 1;
        }
        let listeners = &self.listeners[..self.count(LISTENING).min(BACKLOG)];
        let listed = !Self::CAPPED
            || listeners
                .iter()
                .all(|&i| matches!(self.slots[usize::from(i)], Slot::Listening));
        counts == self.counts && self.count(LISTENING) <= BACKLOG && listed
    }

    fn listen(&self, socket: &mut tcp::Socket) {
        // Only fails for port 0 or an open socket; neither can happen here.
        let _ = socket.listen(self.config.port);
    }

    /// Makes spare sockets listen, up to [`BACKLOG`] and as many as clients may still be
    /// served, parked ones brought back first. Returns true if anything changed.
    fn balance<'s>(&mut self, sockets: &mut SocketSet<'s>, parking: &mut Parking<'s>) -> bool {
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
                let Some(handle) = parking.unpark(sockets, self.handles[i]) else {
                    continue;
                };
                self.handles[i] = handle;
                self.slots[i] = Slot::Spare { parked: false };
            }
            self.listen(sockets.get_mut(self.handles[i]));
            self.set(i, Slot::Listening);
            changed = true;
        }
        changed
    }

    /// Parks slot `i`'s socket if the slot is spare and its socket still in the set.
    fn park<'s>(&mut self, i: usize, sockets: &mut SocketSet<'s>, parking: &mut Parking<'s>) {
        if let Slot::Spare { parked: false } = self.slots[i] {
            if let Some(handle) = parking.park(sockets, self.handles[i]) {
                self.handles[i] = handle;
                self.slots[i] = Slot::Spare { parked: true };
            }
        }
    }

    /// Serves every socket: accepts, reads, answers, closes. Returns true if anything changed,
    /// so the caller polls the interface again to send what was queued.
    fn serve(
        &mut self,
        now: Instant,
        stack: &mut Stack<'_>,
        emit: &mut dyn FnMut(GreetingEvent),
    ) -> bool {
        let (sockets, parking) = (&mut stack.sockets.set, &mut stack.sockets.parking);
        let mut changed = false;
        // Slots are taken from the front (see `balance`), so the busy ones are usually the
        // first few: stop after the last of them instead of walking all `N` (under the cap;
        // a small server just walks its few slots). Only slot `i`
        // changes while it is served, so the slots behind it stay as counted.
        let mut busy = N - self.count(SPARE);
        for i in 0..N {
            if Self::CAPPED && busy == 0 {
                break;
            }
            // Most sockets are spare or still waiting for a client: skip those with the
            // least work, a spare one without even looking it up.
            let socket = match self.slots[i] {
                Slot::Spare { .. } => continue,
                Slot::Listening | Slot::Accepting => {
                    busy -= 1;
                    let socket = sockets.get_mut::<tcp::Socket>(self.handles[i]);
                    match (&self.slots[i], socket.state()) {
                        (Slot::Listening, State::Listen) => continue,
                        (Slot::Accepting, State::SynReceived) => continue,
                        _ => socket,
                    }
                }
                _ => {
                    busy -= 1;
                    sockets.get_mut::<tcp::Socket>(self.handles[i])
                }
            };
            changed |= self.service_one(i, now, socket, emit);
            self.park(i, sockets, parking);
        }
        changed | self.balance(sockets, parking)
    }

    fn service_one(
        &mut self,
        i: usize,
        now: Instant,
        socket: &mut tcp::Socket,
        emit: &mut dyn FnMut(GreetingEvent),
    ) -> bool {
        let config = self.config;
        match &mut self.slots[i] {
            Slot::Spare { .. } => false,
            Slot::Listening | Slot::Accepting => match socket.state() {
                // Back to listening after the client's RST, or still listening.
                State::Listen => {
                    if Self::CAPPED && matches!(self.slots[i], Slot::Accepting) {
                        self.listen_again(i, now, socket);
                    }
                    false
                }
                State::SynReceived => {
                    if Self::CAPPED && matches!(self.slots[i], Slot::Listening) {
                        self.set(i, Slot::Accepting);
                    }
                    false
                }
                // The client came and went before we saw it: just listen again.
                State::Closed | State::TimeWait => {
                    if Self::CAPPED {
                        self.listen_again(i, now, socket);
                    } else {
                        // Every free socket listens: no cap to respect.
                        self.listen(socket);
                        self.set(i, Slot::Listening);
                    }
                    true
                }
                _ => {
                    let Some(peer) = socket.remote_endpoint() else {
                        return false;
                    };
                    emit(GreetingEvent::Accepted { peer });
                    self.set(
                        i,
                        Slot::Open(Session {
                            peer,
                            heard_at: now,
                            welcomed: false,
                            read_left: 0,
                            reply: Reply::Between,
                            reply_at: now,
                        }),
                    );
                    self.service_one(i, now, socket, emit);
                    true
                }
            },
            Slot::Open(session) => {
                let (changed, end) = session.serve::<MSG>(now, &config, socket);
                if let Some(reason) = end {
                    match reason {
                        CloseReason::Exit | CloseReason::PeerClosed => socket.close(),
                        CloseReason::IdleTimeout => socket.abort(),
                        CloseReason::PeerReset => {}
                    }
                    emit(GreetingEvent::Closed {
                        peer: session.peer,
                        reason,
                    });
                    self.set(
                        i,
                        Slot::Closing {
                            deadline: now + config.idle_timeout,
                        },
                    );
                    self.service_one(i, now, socket, emit);
                    return true;
                }
                changed
            }
            Slot::Closing { deadline } => {
                let deadline = *deadline;
                // The frames just taken in may have brought this socket to TIME-WAIT with the
                // ACK of the client's FIN still queued: it becomes `Finishing` and is freed
                // on the next call, which comes after an egress pass (this call reports a
                // change). An aborted socket keeps its remote endpoint until its RST is out.
                // Freeing a socket queues nothing to send, so it is no change to report.
                // (An uncapped server's `relisten` frees closed sockets after every frame, so
                // here their last segment is out: the same reclaim as before the cap.)
                if self.reclaim(i, socket, !Self::CAPPED) {
                    !Self::CAPPED || matches!(self.slots[i], Slot::Finishing)
                } else if now >= deadline && socket.state() != State::Closed {
                    socket.abort();
                    true
                } else {
                    false
                }
            }
            Slot::Finishing => self.reclaim(i, socket, true) && !Self::CAPPED,
        }
    }

    /// Slot `i`'s socket, whose client went away before it was served, listens again, or
    /// (with [`BACKLOG`] listening already) is set aside: a listener goes spare, a
    /// connection that still has to finish closes like any other.
    fn listen_again(&mut self, i: usize, now: Instant, socket: &mut tcp::Socket) {
        let listening = matches!(self.slots[i], Slot::Listening);
        if socket.state() == State::Listen {
            if listening {
                return;
            }
            if self.count(LISTENING) < BACKLOG {
                self.set(i, Slot::Listening);
            } else {
                // Aborting a listener sends nothing; the socket is free at once.
                socket.abort();
                self.set(i, Slot::Spare { parked: false });
            }
        } else if listening || self.count(LISTENING) < BACKLOG {
            self.listen(socket);
            self.set(i, Slot::Listening);
        } else {
            self.set(
                i,
                Slot::Closing {
                    deadline: now + self.config.idle_timeout,
                },
            );
        }
    }

    /// Replaces listeners that have taken a SYN and tops the listeners up to [`BACKLOG`]
    /// while clients may still be served; only when no spare socket is left for that, frees
    /// (and parks) the sockets whose connections have just finished closing. Runs between
    /// received frames (see [`Service::after_frame`]): with spare sockets left it looks at the
    /// listeners alone, and `serve` frees closed sockets after the
    /// frames.
    ///
    /// Returns true if a socket in TIME-WAIT still has to send the ACK of its client's FIN:
    /// the caller then sends what is queued and calls again, which frees it. A client
    /// that reconnects in the same burst of frames as its close is thus served even when
    /// every other socket is taken, and its close still completes.
    fn relisten<'s>(&mut self, sockets: &mut SocketSet<'s>, parking: &mut Parking<'s>) -> bool {
        if !Self::CAPPED {
            // Every free socket listens: free what has finished closing, and listen on it.
            let send_first = self.free_closed(sockets, parking);
            self.balance(sockets, parking);
            return send_first;
        }
        // A listener that took a SYN with this frame makes room for another, so the next
        // SYN, even in the same batch of frames, finds one.
        let mut k = 0;
        while k < self.count(LISTENING) {
            let i = usize::from(self.listeners[k]);
            if sockets.get::<tcp::Socket>(self.handles[i]).state() == State::Listen {
                k += 1;
            } else {
                // Moves the last listener to `k`.
                self.set(i, Slot::Accepting);
            }
        }
        if !self.wants_listener() {
            return false;
        }
        self.balance(sockets, parking);
        if !self.wants_listener() || self.closing() == 0 {
            return false;
        }
        // No spare socket left: free the ones whose connections have finished closing.
        let send_first = self.free_closed(sockets, parking);
        self.balance(sockets, parking);
        send_first
    }

    /// Frees (and parks) the sockets whose connections have finished closing. Returns true
    /// if one in TIME-WAIT still has to send the ACK of its client's FIN (see `relisten`).
    fn free_closed<'s>(&mut self, sockets: &mut SocketSet<'s>, parking: &mut Parking<'s>) -> bool {
        let mut send_first = false;
        let mut left = self.closing();
        let mut i = 0;
        while left > 0 && i < N {
            if matches!(self.slots[i], Slot::Closing { .. } | Slot::Finishing) {
                left -= 1;
                self.reclaim(i, sockets.get_mut(self.handles[i]), false);
                send_first |= matches!(self.slots[i], Slot::Finishing);
                self.park(i, sockets, parking);
            }
            i += 1;
        }
        send_first
    }

    /// Fewer than [`BACKLOG`] listen, and more clients may be served.
    fn wants_listener(&self) -> bool {
        self.count(LISTENING) < BACKLOG
            && self.count(OPEN) + self.count(ACCEPTING) + self.count(LISTENING) < self.max_open()
    }

    /// The earliest time the server has something to do without new input: a delayed reply,
    /// an idle timeout, a close that takes too long.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        // Only connections have deadlines: stop once all of them are seen.
        let mut left = self.active() + self.closing();
        let mut next: Option<Instant> = None;
        for slot in &self.slots {
            if left == 0 {
                break;
            }
            let at = match slot {
                Slot::Spare { .. } | Slot::Listening | Slot::Accepting => continue,
                Slot::Open(session) => session.poll_at(now, &self.config),
                Slot::Closing { deadline } => *deadline,
                Slot::Finishing => now,
            };
            left -= 1;
            next = Some(next.map_or(at, |next| next.min(at)));
        }
        next
    }
}

impl Session {
    /// Moves the conversation forward. Returns whether anything was sent or read, and why
    /// the connection must end, if it must. A read takes at most `MSG` bytes.
    fn serve<const MSG: usize>(
        &mut self,
        now: Instant,
        config: &GreetingConfig,
        socket: &mut tcp::Socket,
    ) -> (bool, Option<CloseReason>) {
        if socket.state() == State::Closed {
            return (true, Some(CloseReason::PeerReset));
        }
        let mut changed = false;
        if !self.welcomed && socket.may_send() {
            // The transmit buffer is empty on a new connection and holds `Welcome`.
            let _ = socket.send_slice(WELCOME);
            self.welcomed = true;
            changed = true;
        }
        loop {
            let room = if socket.may_send() {
                socket.send_capacity() - socket.send_queue()
            } else {
                0
            };
            match self.reply {
                Reply::Suffix if room >= REPLY_SUFFIX.len() => {
                    let _ = socket.send_slice(REPLY_SUFFIX);
                    self.reply = Reply::Between;
                }
                Reply::Body if room > 0 => self.stream_body(socket, room),
                Reply::Between if self.read_left > 0 => {
                    if now < self.reply_at {
                        break;
                    }
                    match self.next_message(socket) {
                        NextMessage::None => {}
                        NextMessage::Exit => return (true, Some(CloseReason::Exit)),
                        NextMessage::Some if room >= REPLY_PREFIX.len() => {
                            let _ = socket.send_slice(REPLY_PREFIX);
                            self.reply = Reply::Body;
                        }
                        // Wait for the client to read; nothing is dropped.
                        NextMessage::Some => break,
                    }
                }
                Reply::Between if socket.can_recv() => {
                    // The read is what has arrived by now, at most MSG bytes: the seed's
                    // `recv(1024)`.
                    self.read_left = socket.recv_queue().min(MSG);
                    self.heard_at = now;
                    self.reply_at = now + config.reply_delay;
                }
                Reply::Between if !socket.may_recv() => {
                    // The client sent FIN and everything it sent has been answered.
                    return (true, Some(CloseReason::PeerClosed));
                }
                // Waiting for input, for the client to read, or for the reply delay.
                _ => break,
            }
            changed = true;
        }
        if now >= self.heard_at + config.idle_timeout {
            return (true, Some(CloseReason::IdleTimeout));
        }
        (changed, None)
    }

    /// Skips the line endings before the next message of the read and tells what it is.
    fn next_message(&mut self, socket: &mut tcp::Socket) -> NextMessage {
        let mut seen = [0; EXIT_WINDOW];
        loop {
            let n = self.read_left.min(EXIT_WINDOW);
            let seen = &mut seen[..n];
            let _ = socket.peek_slice(seen);
            if n == 0 {
                return NextMessage::None;
            }
            if let Some(ending) = framing::line_ending(seen) {
                self.consume(socket, ending);
            } else if framing::starts_exit(seen, n == self.read_left) {
                return NextMessage::Exit;
            } else {
                return NextMessage::Some;
            }
        }
    }

    /// Copies the next bytes of the message being answered (at most `room`) from the receive
    /// buffer to the transmit buffer.
    fn stream_body(&mut self, socket: &mut tcp::Socket, room: usize) {
        let mut window = [0; WINDOW];
        let n = self.read_left.min(WINDOW);
        let seen = &mut window[..n];
        let _ = socket.peek_slice(seen);
        let mut part = framing::message_part(seen, n == self.read_left);
        if part.data > room {
            part = framing::Part {
                data: room,
                used: room,
                ends: false,
            };
        }
        // `room` bytes fit in the transmit buffer.
        let _ = socket.send_slice(&seen[..part.data]);
        self.consume(socket, part.used);
        if part.ends {
            self.reply = Reply::Suffix;
        }
    }

    /// Drops `n` answered bytes of the read from the front of the receive buffer.
    fn consume(&mut self, socket: &mut tcp::Socket, n: usize) {
        let mut left = n;
        // The bytes are there, so at most two calls (the ring may wrap).
        while left > 0 {
            match socket.recv(|ring| {
                let k = ring.len().min(left);
                (k, k)
            }) {
                Ok(k) if k > 0 => left -= k,
                _ => break,
            }
        }
        self.read_left -= n - left;
    }

    fn poll_at(&self, now: Instant, config: &GreetingConfig) -> Instant {
        let idle = self.heard_at + config.idle_timeout;
        // A reply that is due and waits for transmit space waits for an ACK, not a timer.
        if self.read_left > 0 && self.reply_at > now {
            idle.min(self.reply_at)
        } else {
            idle
        }
    }
}

/// What starts where the answer to a read stands.
enum NextMessage {
    /// Nothing: the read is answered.
    None,
    /// `exit`.
    Exit,
    /// A message to answer.
    Some,
}

impl<H, const N: usize, const MSG: usize> Service<H> for GreetingServer<N, MSG>
where
    H: Handler<GreetingEvent> + ?Sized,
{
    fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
        self.serve(now, stack, &mut |event| handler.event(event))
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        GreetingServer::poll_at(self, now)
    }

    fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        self.relisten(&mut sockets.set, &mut sockets.parking)
    }

    fn is_quiet(&self, _stack: &Stack<'_>) -> bool {
        self.closing() == 0
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::boxed::Box;
    use std::vec::Vec;

    use smoltcp::iface::SocketStorage;
    use smoltcp::wire::IpAddress;

    use super::*;
    use crate::link::Link;
    use crate::{App, StackConfig};

    fn leak<T>(value: T) -> &'static mut T {
        Box::leak(Box::new(value))
    }

    /// A server with `N` sockets and a client socket on a second stack; returns what the
    /// client received after sending `messages` one per round, and the server's events.
    fn session<const N: usize>(
        config: GreetingConfig,
        messages: &[&[u8]],
    ) -> (Vec<u8>, Vec<GreetingEvent>, State) {
        let link: &'static Link<2, 32> = leak(Link::new());
        let scfg = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
        let ccfg = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24);
        let now = Instant::ZERO;
        let mut stack = Stack::new(
            &scfg,
            &mut link.port(0),
            leak([SocketStorage::EMPTY; N]),
            now,
        );
        let buffers = leak([const { TcpBuffers::<1024, 256>::new() }; N]);
        let server = GreetingServer::<N>::new(config, &mut stack, buffers);
        let mut app = App::new(stack, server);
        let mut client = Stack::new(
            &ccfg,
            &mut link.port(1),
            leak([SocketStorage::EMPTY; 1]),
            now,
        );
        let handle = client.add_tcp(leak(TcpBuffers::<1024, 1024>::new()));
        let remote = (IpAddress::v4(10, 0, 0, 2), config.port);
        client.connect(handle, remote, 0).unwrap();
        let (mut received, mut events) = (Vec::new(), Vec::new());
        let mut next = messages.iter();
        let mut now = now;
        for _ in 0..200 {
            app.poll(now, &mut link.port(0), &mut |e: GreetingEvent| {
                events.push(e)
            });
            client.poll(now, &mut link.port(1));
            let socket = client.tcp(handle);
            let mut buf = [0; 256];
            while let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
                received.extend_from_slice(&buf[..n]);
            }
            // One message per round once the welcome is in, as the seed's client sends.
            if received.starts_with(WELCOME) && socket.may_send() && link.in_flight() == 0 {
                if let Some(message) = next.next() {
                    socket.send_slice(message).unwrap();
                }
            }
            if link.in_flight() == 0 {
                now += Duration::from_millis(10);
            }
        }
        let state = client.tcp(handle).state();
        (received, events, state)
    }

    #[test]
    fn the_seed_session_byte_for_byte_and_exit_closes() {
        let (received, events, state) = session::<2>(
            GreetingConfig::default(),
            &[b"Alice", b"Bob", b"Jack", b"exit"],
        );
        assert_eq!(received, b"WelcomeHello, Alice!Hello, Bob!Hello, Jack!");
        assert!(
            matches!(events[0], GreetingEvent::Accepted { .. }),
            "{events:?}"
        );
        assert!(
            matches!(
                events[1],
                GreetingEvent::Closed {
                    reason: CloseReason::Exit,
                    ..
                }
            ),
            "{events:?}"
        );
        assert_ne!(state, State::Established, "the server closed its side");
    }

    #[test]
    fn lines_in_one_read_are_separate_messages_and_crlf_is_framing() {
        let (received, ..) = session::<1>(GreetingConfig::default(), &[b"Bob\r\nJack\n"]);
        assert_eq!(received, b"WelcomeHello, Bob!Hello, Jack!");
    }

    #[test]
    fn an_idle_client_is_cut_off_after_the_timeout() {
        let config = GreetingConfig::default().with_idle_timeout(Duration::from_millis(500));
        let (received, events, _) = session::<1>(config, &[]);
        assert_eq!(received, WELCOME);
        assert!(
            events.iter().any(|e| matches!(
                e,
                GreetingEvent::Closed {
                    reason: CloseReason::IdleTimeout,
                    ..
                }
            )),
            "{events:?}"
        );
    }
}
