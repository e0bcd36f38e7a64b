//! The greeting server: the seed's `tcp_server.py` without threads.
//!
//! The server has `N` TCP sockets on one port and serves at most `N -`
//! [`GreetingConfig::reserve`] clients at once. A connected client gets `Welcome`, each
//! message `X` gets `Hello, X!`, and `exit` closes (framing as the seed's `recv(1024)`: one
//! read is one message, newline-separated lines in it are separate messages). While that many
//! clients are served no socket listens, so smoltcp answers a new SYN with RST: the client is
//! refused at once instead of waiting.
//!
//! The sockets are a [`Listeners`] pool: a closed connection keeps its socket until TCP is
//! done with it, and the reserve holds sockets for those closings, so they cost no client
//! its service; only a few free sockets listen, and the others are parked out of smoltcp's
//! set when the stack has room for them (`Stack::with_parking`). This module is the seed's
//! protocol on top.
//!
//! Nothing blocks: the seed's `time.sleep(1)` per message is a per-socket deadline, and an idle
//! client is cut off after [`GreetingConfig::idle_timeout`], so slow or dead peers cannot hold
//! the sockets forever.

use core::fmt;

use crate::text::{self, Render, TextOut};

use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

use crate::framing::{self, EXIT_WINDOW, REPLY_PREFIX, REPLY_SUFFIX, WELCOME};
use crate::listeners::{Conn, ListenConfig, Listeners};
use crate::service::{Handler, Service};
use crate::stack::{Sockets, Stack, TcpBuffers};

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
    /// Why we closed the connection, once we have.
    end: Option<CloseReason>,
}

/// The greeting server over `N` sockets; `MSG` bytes is the most one read takes (the seed's
/// `recv(1024)`).
pub struct GreetingServer<const N: usize, const MSG: usize = 1024> {
    config: GreetingConfig,
    /// The sockets: listening, refusing when full, closing, relistening.
    pool: Listeners<N>,
    /// The conversation on each slot's connection.
    sessions: [Option<Session>; N],
}

impl<const N: usize, const MSG: usize> GreetingServer<N, MSG> {
    /// Adds `N` sockets to `stack`, one per element of `buffers`; up to
    /// [`BACKLOG`](crate::listeners::BACKLOG) of them listen, and the others are parked if
    /// the stack has room (see `Stack::with_parking`).
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
            assert!(MSG > 0, "a read must take at least one byte");
            assert!(
                TX >= WELCOME.len(),
                "the transmit buffer must hold `Welcome`"
            );
        }
        let listen = ListenConfig::new(config.port)
            .with_max_open(N.saturating_sub(config.reserve))
            .with_close_timeout(config.idle_timeout);
        Self {
            config,
            pool: Listeners::new(listen, stack, buffers),
            sessions: [const { None }; N],
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &GreetingConfig {
        &self.config
    }

    /// Most clients served at once: `N` less the reserve, at least one.
    pub fn max_open(&self) -> usize {
        self.pool.config().max_open.max(1)
    }

    /// Connections being served right now.
    pub fn active(&self) -> usize {
        self.pool.open()
    }

    /// Connections closed but not yet finished (their FIN handshake or RST still going).
    pub fn closing(&self) -> usize {
        self.pool.closing()
    }

    /// Serves every connection: welcomes, answers, closes. Returns true if anything
    /// changed, so the caller polls the interface again to send what was queued.
    fn serve<H: Handler<GreetingEvent> + ?Sized>(
        &mut self,
        now: Instant,
        stack: &mut Stack<'_>,
        handler: &mut H,
    ) -> bool {
        let config = &self.config;
        let sessions = &mut self.sessions;
        let mut changed = false;
        changed |= self.pool.serve(now, stack, |i, socket, conn| match conn {
            Conn::Accepted => {
                // Replies are small and each answers a request: send them at once.
                socket.set_nagle_enabled(false);
                if let Some(peer) = socket.remote_endpoint() {
                    handler.event(GreetingEvent::Accepted { peer });
                    sessions[i] = Some(Session::new(peer, now));
                }
            }
            Conn::Open => {
                let Some(session) = &mut sessions[i] else {
                    return;
                };
                let (served, end) = session.serve::<MSG>(now, config, socket);
                changed |= served;
                if let Some(reason) = end {
                    match reason {
                        CloseReason::IdleTimeout => socket.abort(),
                        _ => socket.close(),
                    }
                    // The pool tells `Ended` at once: the close is reported there.
                    session.end = Some(reason);
                }
            }
            // Closed by us above, or else by the client's RST (or TCP gave up on it).
            Conn::Ended => {
                if let Some(session) = sessions[i].take() {
                    handler.event(GreetingEvent::Closed {
                        peer: session.peer,
                        reason: session.end.unwrap_or(CloseReason::PeerReset),
                    });
                }
            }
        });
        changed
    }

    /// The earliest time the server has something to do without new input: a delayed reply,
    /// an idle timeout, a close that takes too long.
    pub fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.pool.poll_at(now, |i| {
            let session = self.sessions[i].as_ref()?;
            Some(session.poll_at(now, &self.config))
        })
    }
}

impl Session {
    fn new(peer: IpEndpoint, now: Instant) -> Self {
        Self {
            peer,
            heard_at: now,
            welcomed: false,
            read_left: 0,
            reply: Reply::Between,
            reply_at: now,
            end: None,
        }
    }

    /// Moves the conversation forward. Returns whether anything was sent or read, and why
    /// the connection must end, if it must. A read takes at most `MSG` bytes.
    fn serve<const MSG: usize>(
        &mut self,
        now: Instant,
        config: &GreetingConfig,
        socket: &mut tcp::Socket,
    ) -> (bool, Option<CloseReason>) {
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
        self.serve(now, stack, handler)
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        GreetingServer::poll_at(self, now)
    }

    fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        self.pool.after_frame(sockets)
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
    use smoltcp::socket::tcp::State;
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
