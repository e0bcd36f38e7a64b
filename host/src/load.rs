//! A concurrent load generator: many clients running full seed sessions back to back.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::Conn;
use crate::error::SessionError;
use crate::protocol::{self, DEFAULT_NAMES, EXIT, WELCOME};

/// The most client threads one run may start (each is an OS thread and a socket).
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
    /// Concurrent client threads, 1..=[`MAX_CLIENTS`].
    pub clients: usize,
    /// No session starts after this much time, at most [`MAX_DURATION`].
    pub duration: Duration,
    /// No more than this many sessions in total start (at most [`MAX_TOTAL_SESSIONS`]).
    pub max_sessions: Option<u64>,
    /// Bounds the connect and every read and write of a session.
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
    /// Wall time from the first connect to the last thread finishing.
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

/// One full seed session, checking every reply exactly; returns when the server has closed.
pub fn session(
    addr: SocketAddr,
    names: &[String],
    op_timeout: Duration,
) -> Result<(), SessionError> {
    let mut conn = Conn::connect(addr, op_timeout)?;
    conn.set_nodelay()?;
    conn.expect(WELCOME)?;
    for name in names {
        conn.send(name.as_bytes())?;
        conn.expect(&protocol::reply(name.as_bytes()))?;
    }
    conn.send(EXIT)?;
    // Waiting for the server's close makes the session's end observable and leaves TIME_WAIT
    // on the server side, so a long run does not exhaust the client's ephemeral ports.
    conn.expect_close()?;
    conn.close();
    Ok(())
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
}

/// Runs `config.clients` threads of back-to-back sessions until the duration or the session
/// limit is reached, then reports. Sessions already running at the deadline finish (each is
/// bounded by the per-operation timeout).
pub fn run_load(config: &LoadConfig) -> io::Result<LoadReport> {
    config.validate()?;
    let started = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::<String>::new()));
    let start = Instant::now();
    let deadline = start + config.duration;
    let mut threads = Vec::with_capacity(config.clients);
    for i in 0..config.clients {
        let started = Arc::clone(&started);
        let samples = Arc::clone(&samples);
        let config = config.clone();
        let spawned = thread::Builder::new()
            .name(format!("load-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut tally = Tally::default();
                while Instant::now() < deadline {
                    let max = config.max_sessions.unwrap_or(MAX_TOTAL_SESSIONS);
                    if started.fetch_add(1, Ordering::Relaxed) >= max {
                        break;
                    }
                    let t0 = Instant::now();
                    match session(config.addr, &config.names, config.op_timeout) {
                        Ok(()) => {
                            let us = t0.elapsed().as_micros();
                            tally.latencies_us.push(us.min(u32::MAX as u128) as u32);
                        }
                        Err(e) => {
                            tally.errors += 1;
                            let msg = e.to_string();
                            let mut s = samples.lock().unwrap_or_else(|p| p.into_inner());
                            if s.len() < MAX_ERROR_SAMPLES && !s.contains(&msg) {
                                s.push(msg);
                            }
                            drop(s);
                            thread::sleep(ERROR_BACKOFF);
                        }
                    }
                }
                tally
            });
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                // Let the threads already running finish their bounded work before reporting.
                for t in threads {
                    let _ = t.join();
                }
                return Err(e);
            }
        }
    }
    let mut all = Tally::default();
    for t in threads {
        let tally = t
            .join()
            .map_err(|_| io::Error::other("a load client thread panicked"))?;
        all.latencies_us.extend(tally.latencies_us);
        all.errors += tally.errors;
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    let sessions = all.latencies_us.len() as u64;
    let error_samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
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
