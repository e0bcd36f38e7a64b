//! Scripted TCP clients for the peer host.

use std::fmt;

use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};

/// The receive buffer (so the window) of a slow reader.
pub const SLOW_WINDOW: usize = 64;

/// One thing a client does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Wait for data and take everything that has arrived: one `recv`, one transcript entry.
    Recv,
    /// Wait until exactly this many more bytes have arrived; one transcript entry.
    RecvExact(usize),
    /// Send these bytes (waits for transmit space; never drops).
    Send(Vec<u8>),
    /// Do nothing for this long.
    Pause(Duration),
    /// Wait until the server has closed its side (its FIN arrived), as a client does that
    /// reads until end of stream.
    AwaitClose,
    /// Close our side (FIN).
    Close,
    /// Reset the connection (RST).
    Abort,
}

/// How a client's connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The script ran to its end and the connection closed.
    Completed,
    /// The connection was refused (RST to our SYN).
    Refused,
    /// The server reset an established connection.
    Reset,
    /// The server closed before the script ended.
    ClosedEarly,
}

/// A client that runs a script of [`Step`]s, the way the seed's `tcp_client.py` does.
#[derive(Clone)]
pub struct Client {
    script: Vec<Step>,
    next: usize,
    pending: usize,
    /// Bytes read off the socket while no Recv step was waiting (so the peer never stalls).
    stash: Vec<u8>,
    wake_at: Option<Instant>,
    connected: bool,
    /// One entry per `Recv`/`RecvExact` step.
    pub transcript: Vec<Vec<u8>>,
    /// Every byte received, in order.
    pub received: Vec<u8>,
    /// When the client started connecting.
    pub started_at: Instant,
    /// When the connection was established.
    pub connected_at: Option<Instant>,
    /// When the client finished, and how.
    pub finished: Option<(Instant, Outcome)>,
    /// The client's local port.
    pub local_port: u16,
    /// Whether the server's FIN has been seen.
    pub server_closed: bool,
    /// A slow reader takes at most this many bytes per interval, through a tiny window.
    slow: Option<(usize, Duration)>,
    /// When a slow reader reads next.
    read_at: Instant,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("port", &self.local_port)
            .field(
                "step",
                &self.script.get(self.next).map(|step| match step {
                    Step::Send(bytes) => format!("Send({} bytes)", bytes.len()),
                    other => format!("{other:?}"),
                }),
            )
            .field("transcript", &self.transcript_strings())
            .field("finished", &self.finished)
            .finish()
    }
}

impl Client {
    /// A client that runs `script`.
    pub fn new(script: Vec<Step>) -> Self {
        Self {
            script,
            next: 0,
            pending: 0,
            stash: Vec::new(),
            wake_at: None,
            connected: false,
            transcript: Vec::new(),
            received: Vec::new(),
            started_at: Instant::ZERO,
            connected_at: None,
            finished: None,
            local_port: 0,
            server_closed: false,
            slow: None,
            read_at: Instant::ZERO,
        }
    }

    /// Reads at most `bytes` every `every`, and connects with a receive window of
    /// [`SLOW_WINDOW`] bytes: a client that keeps the server waiting to send.
    pub fn reading_slowly(mut self, bytes: usize, every: Duration) -> Self {
        self.slow = Some((bytes, every));
        self
    }

    /// Whether this client reads slowly (see [`Client::reading_slowly`]).
    pub fn is_slow(&self) -> bool {
        self.slow.is_some()
    }

    /// The seed's tcp_client.py: read `Welcome`, send each name and read its reply, send
    /// `exit`, close.
    pub fn seed(names: &[&str]) -> Self {
        let mut script = vec![Step::Recv];
        for name in names {
            script.push(Step::Send(name.as_bytes().to_vec()));
            script.push(Step::Recv);
        }
        script.push(Step::Send(b"exit".to_vec()));
        script.push(Step::Close);
        Self::new(script)
    }

    /// Whether the client is done.
    pub fn finished(&self) -> bool {
        self.finished.is_some()
    }

    /// How it ended, if it has.
    pub fn outcome(&self) -> Option<Outcome> {
        self.finished.map(|(_, o)| o)
    }

    /// The transcript as (lossy) strings, for assertions and messages.
    pub fn transcript_strings(&self) -> Vec<String> {
        self.transcript
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect()
    }

    /// When the client next needs to run without network input.
    pub fn wake_at(&self) -> Option<Instant> {
        if self.finished.is_some() {
            None
        } else if self.slow.is_some() {
            Some(self.wake_at.map_or(self.read_at, |at| at.min(self.read_at)))
        } else {
            self.wake_at
        }
    }

    fn finish(&mut self, now: Instant, outcome: Outcome) {
        if self.finished.is_none() {
            self.finished = Some((now, outcome));
        }
    }

    /// Runs the script as far as the socket allows at `now`.
    pub fn drive(&mut self, socket: &mut tcp::Socket, now: Instant) {
        if self.finished.is_some() {
            return;
        }
        if !self.connected && socket.may_send() {
            self.connected = true;
            self.connected_at = Some(now);
        }
        // During the script, Recv steps take what arrives; after it, everything is drained.
        while let Some(step) = self.script.get(self.next).cloned() {
            let done = match step {
                Step::Recv => {
                    self.read_available(socket, now);
                    if self.stash.is_empty() {
                        false
                    } else {
                        self.transcript.push(std::mem::take(&mut self.stash));
                        true
                    }
                }
                Step::RecvExact(len) => {
                    self.read_available(socket, now);
                    let take = self.stash.len().min(len - self.pending);
                    if take > 0 {
                        if self.pending == 0 {
                            self.transcript.push(Vec::new());
                        }
                        let entry = self.transcript.last_mut().expect("entry pushed");
                        entry.extend(self.stash.drain(..take));
                        self.pending += take;
                    }
                    if self.pending == len {
                        self.pending = 0;
                        true
                    } else {
                        false
                    }
                }
                Step::Send(bytes) => {
                    if !socket.may_send() {
                        false
                    } else {
                        let sent = socket.send_slice(&bytes).unwrap_or(0);
                        if sent == bytes.len() {
                            true
                        } else {
                            self.script[self.next] = Step::Send(bytes[sent..].to_vec());
                            false
                        }
                    }
                }
                Step::Pause(duration) => match self.wake_at {
                    None => {
                        self.wake_at = Some(now + duration);
                        false
                    }
                    Some(at) if now >= at => {
                        self.wake_at = None;
                        true
                    }
                    Some(_) => false,
                },
                Step::AwaitClose => {
                    self.read_available(socket, now);
                    self.connected && !socket.may_recv()
                }
                Step::Close => {
                    socket.close();
                    true
                }
                Step::Abort => {
                    socket.abort();
                    true
                }
            };
            if !done {
                break;
            }
            self.next += 1;
        }
        let script_done = self.next == self.script.len();
        // Keep reading whatever arrives (like a client with a reader thread), so a server
        // that answers while we send never stalls on a full window.
        self.read_available(socket, now);
        if !socket.may_recv() && self.connected {
            self.server_closed = true;
        }
        match socket.state() {
            State::Closed if !self.connected => self.finish(now, Outcome::Refused),
            State::Closed | State::TimeWait if script_done => self.finish(now, Outcome::Completed),
            State::Closed => self.finish(now, Outcome::Reset),
            State::CloseWait if !script_done && self.stash.is_empty() && self.waits_for_data() => {
                self.finish(now, Outcome::ClosedEarly)
            }
            _ => {}
        }
    }

    /// Moves everything the socket has into the stash (and the record of all bytes); a slow
    /// reader moves at most its share, when its time comes.
    fn read_available(&mut self, socket: &mut tcp::Socket, now: Instant) {
        let mut chunk = [0u8; 4096];
        let limit = match self.slow {
            Some(_) if now < self.read_at => return,
            Some((bytes, every)) => {
                self.read_at = now + every;
                bytes.min(chunk.len())
            }
            None => chunk.len(),
        };
        while let Ok(n @ 1..) = socket.recv_slice(&mut chunk[..limit]) {
            self.received.extend_from_slice(&chunk[..n]);
            self.stash.extend_from_slice(&chunk[..n]);
            if self.slow.is_some() {
                break;
            }
        }
    }

    fn waits_for_data(&self) -> bool {
        matches!(
            self.script.get(self.next),
            Some(Step::Recv | Step::RecvExact(_))
        )
    }
}
