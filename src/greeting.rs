//! The greeting server: the seed's `tcp_server.py` without threads.
//!
//! `N` TCP sockets listen on one port. A connected client gets `Welcome`, each message `X`
//! gets `Hello, X!`, and `exit` closes (see [`crate::framing`]). While all `N` sockets
//! are busy no socket listens, so smoltcp answers a new SYN with RST: the client is refused at
//! once instead of waiting. A socket listens again as soon as its connection is over.
//!
//! Nothing blocks: the seed's `time.sleep(1)` per message is a per-socket deadline, and an idle
//! client is cut off after [`GreetingConfig::idle_timeout`], so slow or dead peers cannot hold
//! the sockets forever.

use core::fmt;

use crate::text::{self, Render, TextOut};

use heapless::Vec;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

use crate::framing::{self, REPLY_OVERHEAD, REPLY_PREFIX, REPLY_SUFFIX, WELCOME};
use crate::stack::{tcp_is_free, Stack, TcpBuffers};

/// The seed's port.
pub const DEFAULT_PORT: u16 = 9999;

/// How the greeting server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreetingConfig {
    /// TCP port to listen on.
    pub port: u16,
    /// Wait this long after each read before answering it (the seed sleeps 1 s).
    pub reply_delay: Duration,
    /// Close a connection that has sent nothing for this long. It also bounds how long a
    /// closing connection may hold its socket.
    pub idle_timeout: Duration,
}

impl Default for GreetingConfig {
    /// Port 9999, no reply delay, 60 s idle timeout.
    fn default() -> Self {
        Self {
            port: DEFAULT_PORT,
            reply_delay: Duration::ZERO,
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a greeting connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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

/// One connected client.
struct Session<const MSG: usize> {
    peer: IpEndpoint,
    /// When the client last sent something.
    heard_at: Instant,
    welcomed: bool,
    /// The latest read, answered message by message as transmit space allows.
    read: Vec<u8, MSG>,
    /// How much of `read` has been answered.
    answered: usize,
    /// `read` is not answered before this (the reply delay).
    reply_at: Instant,
}

/// What one socket is doing.
enum Slot<const MSG: usize> {
    /// Waiting for a client.
    Listening,
    /// Serving a client.
    Open(Session<MSG>),
    /// Closed by us or the client; the socket is reused once TCP is done with it, or aborted
    /// at `deadline` if the client never finishes the close.
    Closing { deadline: Instant },
    /// In TIME-WAIT, seen between received frames: the ACK of the client's FIN is queued but
    /// not yet sent. The socket listens again once the caller has sent it (see
    /// [`GreetingServer::relisten`]); listening earlier would discard that ACK and leave the
    /// client retransmitting its FIN into a reset.
    Finishing,
}

impl<const MSG: usize> Slot<MSG> {
    /// Listens again on `port` once TCP is done with a closed connection's socket; true if
    /// the slot changed. `sent`: the interface has sent what was queued since the last frame
    /// came in. If it has not, a socket in TIME-WAIT still owes its client the ACK of the FIN
    /// and becomes `Finishing`, which listens on the next call (made after sending).
    fn reclaim(&mut self, socket: &mut tcp::Socket, port: u16, sent: bool) -> bool {
        match self {
            Slot::Closing { .. } if !sent && socket.state() == State::TimeWait => {
                *self = Slot::Finishing;
            }
            Slot::Closing { .. } if !tcp_is_free(socket) => return false,
            Slot::Closing { .. } | Slot::Finishing => {
                // Only fails for port 0 or an open socket; neither can happen here.
                let _ = socket.listen(port);
                *self = Slot::Listening;
            }
            Slot::Listening | Slot::Open(_) => return false,
        }
        true
    }
}

/// The greeting server over `N` sockets; `MSG` bytes is the most one read takes (the seed's
/// `recv(1024)`).
pub struct GreetingServer<const N: usize, const MSG: usize = 1024> {
    config: GreetingConfig,
    handles: [SocketHandle; N],
    slots: [Slot<MSG>; N],
}

impl<const N: usize, const MSG: usize> GreetingServer<N, MSG> {
    /// Adds `N` listening sockets to `stack`, one per element of `buffers`.
    ///
    /// Each socket's transmit buffer must hold the longest reply, `MSG + 8` bytes (checked at
    /// compile time).
    pub fn new<'s, const RX: usize, const TX: usize>(
        config: GreetingConfig,
        stack: &mut Stack<'s>,
        buffers: &'s mut [TcpBuffers<RX, TX>; N],
    ) -> Self {
        const {
            assert!(N > 0, "the greeting server needs at least one socket");
            assert!(MSG > 0, "a read must take at least one byte");
            assert!(
                TX >= MSG + REPLY_OVERHEAD,
                "the transmit buffer must hold the longest reply (MSG + 8 bytes)"
            );
        }
        let mut buffers = buffers.iter_mut();
        let handles = core::array::from_fn(|_| {
            let handle = stack.add_tcp(buffers.next().expect("one buffer per socket"));
            let socket = stack.sockets.get_mut::<tcp::Socket>(handle);
            // Replies are small and each answers a request: send them at once.
            socket.set_nagle_enabled(false);
            handle
        });
        let server = Self {
            config,
            handles,
            slots: core::array::from_fn(|_| Slot::Listening),
        };
        for &handle in &server.handles {
            server.listen(stack.sockets.get_mut(handle));
        }
        server
    }

    /// The configuration in force.
    pub fn config(&self) -> &GreetingConfig {
        &self.config
    }

    /// Connections being served right now.
    pub fn active(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Open(_)))
            .count()
    }

    /// Connections closed but not yet finished (their FIN handshake or RST still going).
    pub fn closing(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Closing { .. } | Slot::Finishing))
            .count()
    }

    fn listen(&self, socket: &mut tcp::Socket) {
        // Only fails for port 0 or an open socket; neither can happen here.
        let _ = socket.listen(self.config.port);
    }

    /// Serves every socket: accepts, reads, answers, closes. Returns true if anything changed,
    /// so the caller polls the interface again to send what was queued.
    pub fn service(
        &mut self,
        now: Instant,
        sockets: &mut SocketSet<'_>,
        emit: &mut dyn FnMut(GreetingEvent),
    ) -> bool {
        let mut changed = false;
        for i in 0..N {
            let socket = sockets.get_mut::<tcp::Socket>(self.handles[i]);
            changed |= self.service_one(i, now, socket, emit);
        }
        changed
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
            Slot::Listening => match socket.state() {
                State::Listen | State::SynReceived => false,
                // The client came and went before we saw it: just listen again.
                State::Closed | State::TimeWait => {
                    self.listen(socket);
                    true
                }
                _ => {
                    let Some(peer) = socket.remote_endpoint() else {
                        return false;
                    };
                    emit(GreetingEvent::Accepted { peer });
                    self.slots[i] = Slot::Open(Session {
                        peer,
                        heard_at: now,
                        welcomed: false,
                        read: Vec::new(),
                        answered: 0,
                        reply_at: now,
                    });
                    self.service_one(i, now, socket, emit);
                    true
                }
            },
            Slot::Open(session) => {
                let (changed, end) = session.serve(now, &config, socket);
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
                    self.slots[i] = Slot::Closing {
                        deadline: now + config.idle_timeout,
                    };
                    self.service_one(i, now, socket, emit);
                    return true;
                }
                changed
            }
            Slot::Closing { deadline } => {
                let deadline = *deadline;
                // The interface has sent what was queued since the last frame (the caller
                // polls between calls), so a free socket's last segment is out.
                if self.slots[i].reclaim(socket, config.port, true) {
                    true
                } else if now >= deadline && socket.state() != State::Closed {
                    socket.abort();
                    true
                } else {
                    false
                }
            }
            Slot::Finishing => self.slots[i].reclaim(socket, config.port, true),
        }
    }

    /// Listens again on every socket whose connection has just finished closing. Cheap
    /// enough to run between received frames (see [`Stack::poll_with`]).
    ///
    /// Returns true if a socket in TIME-WAIT still has to send the ACK of its client's FIN:
    /// the caller then sends what is queued and calls again, which listens on it. A client
    /// that reconnects in the same burst of frames as its close is thus served, and its close
    /// still completes.
    pub fn relisten(&mut self, sockets: &mut SocketSet<'_>) -> bool {
        let mut send_first = false;
        for (slot, &handle) in self.slots.iter_mut().zip(&self.handles) {
            if matches!(slot, Slot::Closing { .. } | Slot::Finishing) {
                slot.reclaim(sockets.get_mut(handle), self.config.port, false);
                send_first |= matches!(slot, Slot::Finishing);
            }
        }
        send_first
    }

    /// The earliest time the server has something to do without new input: a delayed reply,
    /// an idle timeout, a close that takes too long.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|slot| match slot {
                Slot::Listening => None,
                Slot::Open(session) => Some(session.poll_at(now, &self.config)),
                Slot::Closing { deadline } => Some(*deadline),
                Slot::Finishing => Some(now),
            })
            .min()
    }
}

impl<const MSG: usize> Session<MSG> {
    /// Moves the conversation forward. Returns whether anything was sent or read, and why
    /// the connection must end, if it must.
    fn serve(
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
            // The transmit buffer is empty on a new connection and holds at least a reply.
            let _ = socket.send_slice(WELCOME);
            self.welcomed = true;
            changed = true;
        }
        loop {
            if self.answered < self.read.len() {
                if now < self.reply_at {
                    break;
                }
                let Some((message, used)) = framing::next_message(&self.read[self.answered..])
                else {
                    self.answered = self.read.len();
                    continue;
                };
                if framing::is_exit(message) {
                    return (true, Some(CloseReason::Exit));
                }
                if !socket.may_send()
                    || socket.send_capacity() - socket.send_queue() < framing::reply_len(message)
                {
                    // Wait for the client to read; nothing is dropped.
                    break;
                }
                // Room for the whole reply was checked above, so every slice goes in whole.
                let _ = socket.send_slice(REPLY_PREFIX);
                let _ = socket.send_slice(message);
                let _ = socket.send_slice(REPLY_SUFFIX);
                self.answered += used;
                changed = true;
            } else if socket.can_recv() {
                self.read.clear();
                // MSG bytes fit: `read` has capacity MSG.
                let _ = self.read.resize(MSG, 0);
                let got = socket.recv_slice(&mut self.read).unwrap_or(0);
                self.read.truncate(got);
                self.answered = 0;
                self.heard_at = now;
                self.reply_at = now + config.reply_delay;
                changed = true;
            } else if !socket.may_recv() {
                // The client sent FIN and everything it sent has been answered.
                return (true, Some(CloseReason::PeerClosed));
            } else {
                break;
            }
        }
        if now >= self.heard_at + config.idle_timeout {
            return (true, Some(CloseReason::IdleTimeout));
        }
        (changed, None)
    }

    fn poll_at(&self, now: Instant, config: &GreetingConfig) -> Instant {
        let idle = self.heard_at + config.idle_timeout;
        // A reply that is due and waits for transmit space waits for an ACK, not a timer.
        if self.answered < self.read.len() && self.reply_at > now {
            idle.min(self.reply_at)
        } else {
            idle
        }
    }
}
