//! A concurrent load generator: many clients running full seed sessions back to back.
//!
//! Each client is a state machine on a non-blocking socket, and the clients share a few event
//! loops rather than having a thread each. The servers under test share the
//! machine's cores with the load, so the load should take as little of them as it can: a few
//! loops collect many readable sockets per wake-up where a thread per client costs a wake-up
//! and a context switch for every reply.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde::Serialize;

use crate::error::{NetError, Op, SessionError};
use crate::protocol::{self, DEFAULT_NAMES, EXIT, RECV_SIZE, WELCOME};

/// The most concurrent clients one run may have (each is a socket).
pub const MAX_CLIENTS: usize = 1024;
/// The longest run allowed, so a mistyped duration cannot load the machine for hours.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// A hard cap on sessions per run even without `max_sessions`, so every run is bounded in count.
pub const MAX_TOTAL_SESSIONS: u64 = 100_000_000;
/// Pause after a failed session, so a dead server is not hammered with connects in a tight loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);
/// How many distinct error messages a report keeps, to show what went wrong without growing.
pub const MAX_ERROR_SAMPLES: usize = 5;

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub addr: SocketAddr,
    /// Concurrent clients (sessions in flight), 1..=[`MAX_CLIENTS`].
    pub clients: usize,
    /// No session starts after this much time, at most [`MAX_DURATION`].
    pub duration: Duration,
    /// No more than this many sessions in total start (at most [`MAX_TOTAL_SESSIONS`]).
    pub max_sessions: Option<u64>,
    /// Bounds the connect and every step of a session (one send, or one expected reply).
    pub op_timeout: Duration,
    /// The names each session sends (the seed's Alice, Bob, Jack by default).
    pub names: Vec<String>,
}

impl LoadConfig {
    /// One client for ten seconds with 5 s per-operation timeouts and the seed's names.
    pub fn new(addr: SocketAddr) -> Self {
        LoadConfig {
            addr,
            clients: 1,
            duration: Duration::from_secs(10),
            max_sessions: None,
            op_timeout: Duration::from_secs(5),
            names: DEFAULT_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn validate(&self) -> io::Result<()> {
        let invalid = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            return invalid(format!("clients must be 1..={MAX_CLIENTS}"));
        }
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return invalid(format!(
                "duration must be more than 0 and at most {} s",
                MAX_DURATION.as_secs()
            ));
        }
        if self.op_timeout.is_zero() {
            return invalid("the per-operation timeout must be more than 0".into());
        }
        if matches!(self.max_sessions, Some(m) if m == 0 || m > MAX_TOTAL_SESSIONS) {
            return invalid(format!("max sessions must be 1..={MAX_TOTAL_SESSIONS}"));
        }
        Ok(())
    }
}

/// The outcome of a run. Latencies are of successful sessions, connect to close, in µs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadReport {
    pub addr: String,
    pub clients: usize,
    /// Sessions that completed with every reply exactly right.
    pub sessions: u64,
    /// Sessions that failed: wrong reply, refused, reset, timed out.
    pub errors: u64,
    /// Wall time from the first connect to the last session ending.
    pub elapsed_s: f64,
    /// Successful sessions per second of `elapsed_s`.
    pub sessions_per_s: f64,
    pub latency_p50_us: u64,
    pub latency_p99_us: u64,
    pub latency_max_us: u64,
    /// Up to [`MAX_ERROR_SAMPLES`] distinct error messages.
    pub error_samples: Vec<String>,
}

impl LoadReport {
    /// A human-readable table (the CLI's default output).
    pub fn table(&self) -> String {
        let ms = |us: u64| format!("{:.3} ms", us as f64 / 1000.0);
        let mut s = String::new();
        let mut row = |k: &str, v: String| s.push_str(&format!("{k:<14}{v}\n"));
        row("target", self.addr.clone());
        row("clients", self.clients.to_string());
        row("elapsed", format!("{:.3} s", self.elapsed_s));
        row("sessions", self.sessions.to_string());
        row("sessions/s", format!("{:.1}", self.sessions_per_s));
        row("errors", self.errors.to_string());
        row("latency p50", ms(self.latency_p50_us));
        row("latency p99", ms(self.latency_p99_us));
        row("latency max", ms(self.latency_max_us));
        for e in &self.error_samples {
            row("error", e.clone());
        }
        s
    }
}

/// One step of the seed's session, as the client sees it.
enum Step {
    /// Read until this many bytes arrived (or the stream ended) and check they are exactly these.
    /// Checking the whole reply, not one read, means a correct reply split by TCP is no error.
    Expect(Vec<u8>),
    Send(Vec<u8>),
    /// The server must close without sending anything more.
    ExpectClose,
}

/// Welcome, then each name and its reply, then `exit` and the server's close.
fn script(names: &[String]) -> Vec<Step> {
    let mut steps = vec![Step::Expect(WELCOME.to_vec())];
    for name in names {
        steps.push(Step::Send(name.as_bytes().to_vec()));
        steps.push(Step::Expect(protocol::reply(name.as_bytes())));
    }
    steps.push(Step::Send(EXIT.to_vec()));
    steps.push(Step::ExpectClose);
    steps
}

/// Where one client is.
enum Phase {
    /// Between sessions: the next one starts at the client's deadline (a pause after an error).
    Idle,
    /// A non-blocking connect is under way.
    Connecting(TcpStream),
    /// Connected, at `Client::step` of the script.
    Talking(TcpStream),
    /// The run's deadline or session limit came; this client starts nothing more.
    Done,
}

/// One client: a session at a time, back to back.
struct Client {
    phase: Phase,
    /// When the current session began (its connect), for its latency.
    began: Instant,
    /// When the current operation times out, or when an idle client starts again.
    deadline: Instant,
    step: usize,
    /// Bytes of the current `Expect` received so far, or of the current `Send` written.
    got: Vec<u8>,
    sent: usize,
}

/// What one step of a client's work came to.
enum Progress {
    /// Waiting for the socket (readable, writable or connected).
    Blocked,
    Continue,
    Finished,
    Failed(SessionError),
}

/// What every event loop reads (the run's settings and script) and adds to (sessions started,
/// error samples).
struct Shared<'a> {
    config: &'a LoadConfig,
    script: Vec<Step>,
    deadline: Instant,
    started: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Shared<'_> {
    fn net_error(&self, op: Op, e: io::Error) -> NetError {
        NetError::new(op, self.config.addr, self.config.op_timeout, e)
    }
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// One event loop and its share of the clients.
struct EventLoop<'a> {
    shared: &'a Shared<'a>,
    poll: Poll,
    clients: Vec<Client>,
    tally: Tally,
}

impl<'a> EventLoop<'a> {
    fn new(shared: &'a Shared<'a>, clients: usize) -> io::Result<Self> {
        let now = Instant::now();
        let client = || Client {
            phase: Phase::Idle,
            began: now,
            deadline: now,
            step: 0,
            got: Vec::with_capacity(RECV_SIZE),
            sent: 0,
        };
        Ok(EventLoop {
            shared,
            poll: Poll::new()?,
            clients: (0..clients).map(|_| client()).collect(),
            tally: Tally::default(),
        })
    }

    /// Runs sessions until every client is done; each running session is bounded by timeouts.
    fn run(mut self) -> io::Result<Tally> {
        let mut events = Events::with_capacity(self.clients.len().max(16));
        for i in 0..self.clients.len() {
            self.start(i);
        }
        loop {
            let now = Instant::now();
            let next = self
                .clients
                .iter()
                .filter(|c| !matches!(c.phase, Phase::Done))
                .map(|c| c.deadline)
                .min();
            let Some(next) = next else {
                return Ok(self.tally);
            };
            match self
                .poll
                .poll(&mut events, Some(next.saturating_duration_since(now)))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                self.advance(event.token().0);
            }
            let now = Instant::now();
            for i in 0..self.clients.len() {
                let c = &self.clients[i];
                if c.deadline > now {
                    continue;
                }
                let op = match (&c.phase, &self.shared.script[c.step]) {
                    (Phase::Done, _) => continue,
                    (Phase::Idle, _) => {
                        self.start(i);
                        continue;
                    }
                    (Phase::Connecting(_), _) => Op::Connect,
                    (Phase::Talking(_), Step::Send(_)) => Op::Write,
                    (Phase::Talking(_), _) => Op::Read,
                };
                let timeout = io::Error::from(io::ErrorKind::TimedOut);
                self.fail(i, self.shared.net_error(op, timeout).into());
            }
        }
    }

    /// Starts client `i`'s next session, or marks it done when the run is over.
    fn start(&mut self, i: usize) {
        let shared = self.shared;
        let max = shared.config.max_sessions.unwrap_or(MAX_TOTAL_SESSIONS);
        let now = Instant::now();
        if now >= shared.deadline || shared.started.fetch_add(1, Ordering::Relaxed) >= max {
            self.clients[i].phase = Phase::Done;
            return;
        }
        let connected = TcpStream::connect(shared.config.addr).and_then(|mut stream| {
            let interest = Interest::READABLE | Interest::WRITABLE;
            self.poll
                .registry()
                .register(&mut stream, Token(i), interest)?;
            Ok(stream)
        });
        let c = &mut self.clients[i];
        c.began = now;
        c.deadline = now + shared.config.op_timeout;
        c.step = 0;
        c.got.clear();
        c.sent = 0;
        match connected {
            Ok(stream) => c.phase = Phase::Connecting(stream),
            Err(e) => self.fail(i, self.shared.net_error(Op::Connect, e).into()),
        }
    }

    /// Runs client `i` as far as its socket allows, starting its next session when one ends.
    fn advance(&mut self, i: usize) {
        loop {
            match self.step(i) {
                Progress::Blocked => return,
                Progress::Continue => {}
                Progress::Finished => {
                    let c = &mut self.clients[i];
                    let us = c.began.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    self.tally.latencies_us.push(us);
                    // Dropping the stream closes it (the server has closed already).
                    c.phase = Phase::Idle;
                    self.start(i);
                    return;
                }
                Progress::Failed(e) => return self.fail(i, e),
            }
        }
    }

    /// One move of client `i`'s state machine.
    fn step(&mut self, i: usize) -> Progress {
        let shared = self.shared;
        let c = &mut self.clients[i];
        let io_error = |op, e: io::Error| match e.kind() {
            io::ErrorKind::WouldBlock => Progress::Blocked,
            io::ErrorKind::Interrupted => Progress::Continue,
            _ => Progress::Failed(shared.net_error(op, e).into()),
        };
        let next_step = |c: &mut Client| {
            c.step += 1;
            c.got.clear();
            c.sent = 0;
            c.deadline = Instant::now() + shared.config.op_timeout;
            Progress::Continue
        };
        match &mut c.phase {
            Phase::Idle | Phase::Done => Progress::Blocked,
            Phase::Connecting(stream) => {
                // mio's recipe: the connect is over once the socket has no error and a peer.
                if let Ok(Some(e)) | Err(e) = stream.take_error() {
                    return io_error(Op::Connect, e);
                }
                match stream.peer_addr() {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => return Progress::Blocked,
                    Err(e) => return io_error(Op::Connect, e),
                }
                if let Err(e) = stream.set_nodelay(true) {
                    return io_error(Op::Connect, e);
                }
                if let Phase::Connecting(stream) = std::mem::replace(&mut c.phase, Phase::Idle) {
                    c.phase = Phase::Talking(stream);
                }
                c.deadline = Instant::now() + shared.config.op_timeout;
                Progress::Continue
            }
            Phase::Talking(stream) => match &shared.script[c.step] {
                Step::Send(data) => match stream.write(&data[c.sent..]) {
                    Ok(n) => {
                        c.sent += n;
                        if c.sent < data.len() {
                            return Progress::Continue;
                        }
                        next_step(c)
                    }
                    Err(e) => io_error(Op::Write, e),
                },
                Step::Expect(expected) => {
                    let mut buf = [0u8; RECV_SIZE];
                    let n = match stream.read(&mut buf) {
                        Ok(n) => n,
                        Err(e) => return io_error(Op::Read, e),
                    };
                    c.got.extend_from_slice(&buf[..n]);
                    if n > 0 && c.got.len() < expected.len() {
                        return Progress::Continue;
                    }
                    if c.got != *expected {
                        return Progress::Failed(SessionError::Unexpected {
                            peer: shared.config.addr,
                            expected: expected.clone(),
                            got: std::mem::take(&mut c.got),
                        });
                    }
                    next_step(c)
                }
                Step::ExpectClose => {
                    let mut buf = [0u8; RECV_SIZE];
                    match stream.read(&mut buf) {
                        Ok(0) => Progress::Finished,
                        Ok(n) => Progress::Failed(SessionError::Unexpected {
                            peer: shared.config.addr,
                            expected: Vec::new(),
                            got: buf[..n].to_vec(),
                        }),
                        Err(e) => io_error(Op::Read, e),
                    }
                }
            },
        }
    }

    /// Counts client `i`'s session as failed, closes it and pauses the client, so a dead
    /// server is not hammered with connects in a tight loop.
    fn fail(&mut self, i: usize, e: SessionError) {
        self.tally.errors += 1;
        let msg = e.to_string();
        let mut samples = self
            .shared
            .samples
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if samples.len() < MAX_ERROR_SAMPLES && !samples.contains(&msg) {
            samples.push(msg);
        }
        drop(samples);
        let c = &mut self.clients[i];
        c.phase = Phase::Idle;
        c.deadline = Instant::now() + ERROR_BACKOFF;
    }
}

/// Runs `config.clients` clients of back-to-back sessions until the duration or the session
/// limit is reached, then reports. Sessions already running at the deadline finish (each is
/// bounded by the per-operation timeout). The clients are spread over one event loop per two
/// cores: the servers measured here run on the same machine, and half of it is left to them
/// (on two cores one loop gave 24k sessions/s against tcplink-tap where two gave 20k, and a
/// p99 half as long).
pub fn run_load(config: &LoadConfig) -> io::Result<LoadReport> {
    config.validate()?;
    let loops =
        (thread::available_parallelism().map_or(1, |n| n.get()) / 2).clamp(1, config.clients);
    let start = Instant::now();
    let shared = Shared {
        config,
        script: script(&config.names),
        deadline: start + config.duration,
        started: AtomicU64::new(0),
        samples: Mutex::new(Vec::new()),
    };
    let tallies: Vec<io::Result<Tally>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..loops)
            .map(|k| {
                // Clients dealt out as evenly as they go: the first `clients % loops` get one more.
                let n = config.clients / loops + usize::from(k < config.clients % loops);
                let shared = &shared;
                thread::Builder::new()
                    .name(format!("load-{k}"))
                    .spawn_scoped(scope, move || EventLoop::new(shared, n)?.run())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(io::Error::other("a load event loop panicked"))),
                Err(e) => Err(e),
            })
            .collect()
    });
    let mut all = Tally::default();
    for tally in tallies {
        let tally = tally?;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let sessions = all.latencies_us.len() as u64;
    let error_samples = shared
        .samples
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    Ok(LoadReport {
        addr: config.addr.to_string(),
        clients: config.clients,
        sessions,
        errors: all.errors,
        elapsed_s: elapsed,
        sessions_per_s: if elapsed > 0.0 {
            sessions as f64 / elapsed
        } else {
            0.0
        },
        latency_p50_us: percentile(&all.latencies_us, 50.0),
        latency_p99_us: percentile(&all.latencies_us, 99.0),
        latency_max_us: all.latencies_us.last().copied().unwrap_or(0) as u64,
        error_samples,
    })
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[u32], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }

    #[test]
    fn config_is_bounded() {
        let mut c = LoadConfig::new("127.0.0.1:1".parse().unwrap());
        assert!(c.validate().is_ok());
        c.clients = MAX_CLIENTS + 1;
        assert!(c.validate().is_err());
        c.clients = 1;
        c.duration = MAX_DURATION + Duration::from_secs(1);
        assert!(c.validate().is_err());
        c.duration = Duration::from_secs(1);
        c.max_sessions = Some(0);
        assert!(c.validate().is_err());
    }
}
