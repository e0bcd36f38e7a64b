//! The poll loop on a TAP: run the core until there is nothing to do, then sleep (one
//! `io_uring_enter` that also sends the turn's frames, or poll(2)) until a frame arrives, the
//! core's next deadline passes, or a signal asks to stop.
//!
//! An idle device makes no system calls at all between frames, so it uses no CPU.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use smoltcp::phy::{PcapMode, PcapWriter};
use smoltcp::time::{Duration, Instant};
use tcplink::time::earliest;
use tcplink::{App, Service, Stack};

use crate::pcap::{Fault, Recorder};
use crate::shutdown::Shutdown;
use crate::tap::{self, IoMode, TapDevice};

/// The longest the stack keeps running after a session ended, waiting for its connections
/// to finish closing (see [`Node::linger`]); usually one round trip is enough.
const LINGER: Duration = Duration::from_millis(500);

/// How a failed sleep is reported.
const WAIT_FAILED: &str = "waiting on the TAP (poll(2) or io_uring_enter) failed";

/// The device the core runs on: the TAP, every frame offered to the (possibly off) recorder.
pub type Nic = PcapWriter<TapDevice, Recorder>;

/// The stack's clock: monotonic, zero when the program started.
pub struct Clock {
    start: std::time::Instant,
    /// Wall-clock µs since the Unix epoch at `start`, for pcap timestamps.
    epoch_micros: i64,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn start() -> Self {
        let epoch_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Self {
            start: std::time::Instant::now(),
            epoch_micros,
        }
    }

    /// Now, for smoltcp.
    pub fn now(&self) -> Instant {
        let micros = self.start.elapsed().as_micros();
        Instant::from_micros(i64::try_from(micros).unwrap_or(i64::MAX))
    }

    /// Wall-clock time of `Instant::ZERO`, µs since the Unix epoch.
    pub fn epoch_micros(&self) -> i64 {
        self.epoch_micros
    }
}

/// The platform side of a run: it receives the core's events and says when the run is over.
pub trait Session {
    /// `Some(result)` ends the run: finished, or failed (stdout closed, fetch failed...).
    fn outcome(&mut self, now: Instant) -> Option<Result<()>>;

    /// When [`outcome`](Self::outcome) must be asked again even if nothing happens (a
    /// timeout of the session's own).
    fn wake_at(&self) -> Option<Instant> {
        None
    }

    /// Sees the stack after every poll: what it has learned (addresses from SLAAC).
    fn stack(&mut self, _stack: &Stack<'_>) {}
}

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A stop signal: SIGINT, SIGTERM, SIGHUP or SIGQUIT.
    Signal,
    /// The session said it was done.
    Finished,
}

/// Everything the loop needs besides the core: the device, the clock, the stop signal.
pub struct Node {
    pub nic: Nic,
    pub clock: Clock,
    shutdown: Shutdown,
    pcap: Option<(PathBuf, Fault)>,
}

impl Node {
    /// Opens TAP `name` (with segmentation and checksum offload if `offload`, frames through
    /// `io`), wrapped in a
    /// recorder writing to `pcap` if given, and installs the stop-signal handlers.
    pub fn open(name: &str, pcap: Option<PathBuf>, offload: bool, io: IoMode) -> Result<Self> {
        let clock = Clock::start();
        let existed = TapDevice::exists(name);
        let tap = TapDevice::open(name, offload, io)
            .with_context(|| format!("cannot open TAP {name}"))?;
        log::info!("TAP {}: frames through {}", tap.name(), tap.io_path());
        if !existed {
            // Not an error (the user may configure it next), but the first thing to check when
            // nothing answers.
            log::warn!(
                "TAP {} did not exist and was created; it stays down with no host address until \
                 configured (ip addr add ... dev {0}; ip link set {0} up)",
                tap.name()
            );
        } else if !tap.is_up() {
            log::warn!("TAP {} is down: ip link set {0} up", tap.name());
        }
        let (recorder, pcap) = match pcap {
            Some(path) => {
                let recorder = Recorder::create(&path, clock.epoch_micros())
                    .with_context(|| format!("cannot create pcap file {}", path.display()))?;
                let fault = recorder.fault();
                (recorder, Some((path, fault)))
            }
            None => (Recorder::off(), None),
        };
        let shutdown = Shutdown::install().context("cannot install the stop-signal handlers")?;
        Ok(Self {
            nic: PcapWriter::new(tap, recorder, PcapMode::Both),
            clock,
            shutdown,
            pcap,
        })
    }

    /// Runs `app` until `session` ends the run, a signal arrives, or the TAP fails.
    pub fn run<S: Service<C>, C: Session>(
        &mut self,
        app: &mut App<'_, S>,
        session: &mut C,
    ) -> Result<Stop> {
        loop {
            let now = self.clock.now();
            let next = app.poll(now, &mut self.nic, session);
            session.stack(app.stack());
            self.check_devices()?;
            if let Some(result) = session.outcome(now) {
                self.linger(app, session, now + LINGER)?;
                return result.map(|()| Stop::Finished);
            }
            let wake = earliest(next, session.wake_at());
            let timeout = wake.map(|at| until(now, at));
            let ready = tap::wait(self.nic.get_mut(), self.shutdown.as_fd(), timeout)
                .context(WAIT_FAILED)?;
            if ready.other && self.shutdown.requested() {
                log::info!("signal received, stopping");
                return Ok(Stop::Signal);
            }
        }
    }

    /// Keeps the stack running until every connection has finished closing (or until `end`),
    /// so what the end of a session queued (a FIN, the ACK of the server's FIN, an RST)
    /// reaches the wire before the device disappears.
    fn linger<S: Service<C>, C: Session>(
        &mut self,
        app: &mut App<'_, S>,
        session: &mut C,
        end: Instant,
    ) -> Result<()> {
        linger_until(
            &mut Lingering {
                node: self,
                app,
                session,
            },
            end,
        )
    }

    /// Errors the device and recorder could not return through smoltcp's API.
    fn check_devices(&self) -> Result<()> {
        let tap = self.nic.get_ref();
        if let Some(e) = tap.take_error() {
            return Err(anyhow!("TAP {}: {e}", tap.name()));
        }
        if let Some((path, fault)) = &self.pcap {
            if let Some(e) = fault.borrow_mut().take() {
                return Err(anyhow!("cannot write pcap file {}: {e}", path.display()));
            }
        }
        Ok(())
    }
}

/// What [`linger_until`] needs from the loop: a seam so its decisions are tested without a TAP.
trait Linger {
    fn now(&self) -> Instant;
    /// Polls the stack: its next deadline, and whether every connection has finished closing.
    fn poll(&mut self, now: Instant) -> Result<(Option<Instant>, bool)>;
    /// Sleeps until a frame arrives or `wake`; true if a signal asks to stop.
    fn sleep(&mut self, now: Instant, wake: Instant) -> Result<bool>;
}

/// Polls until the connections are closed or `end` passes, sleeping in between. Quiet is
/// judged after each poll, never before it: the frame that woke the loop (the peer's last
/// ACK or FIN) is only read by the poll, and a check before it would sleep on to `end`.
fn linger_until(node: &mut impl Linger, end: Instant) -> Result<()> {
    // Bounded by the deadline; the count only guards against a clock that stands still.
    for _ in 0..10_000 {
        let now = node.now();
        let (next, quiet) = node.poll(now)?;
        if quiet || now >= end {
            break;
        }
        let wake = earliest(next, Some(end)).unwrap_or(end);
        if node.sleep(now, wake)? {
            break;
        }
    }
    Ok(())
}

/// The loop's parts while lingering.
struct Lingering<'n, 'a, 's, S: Service<C>, C: Session> {
    node: &'n mut Node,
    app: &'n mut App<'a, S>,
    session: &'s mut C,
}

impl<S: Service<C>, C: Session> Linger for Lingering<'_, '_, '_, S, C> {
    fn now(&self) -> Instant {
        self.node.clock.now()
    }

    fn poll(&mut self, now: Instant) -> Result<(Option<Instant>, bool)> {
        let next = self.app.poll(now, &mut self.node.nic, self.session);
        self.node.check_devices()?;
        Ok((next, self.app.is_quiet::<C>()))
    }

    fn sleep(&mut self, now: Instant, wake: Instant) -> Result<bool> {
        let node = &mut *self.node;
        let ready = tap::wait(
            node.nic.get_mut(),
            node.shutdown.as_fd(),
            Some(until(now, wake)),
        )
        .context(WAIT_FAILED)?;
        Ok(ready.other && node.shutdown.requested())
    }
}

/// How long from `now` to `at`; zero if `at` has passed (smoltcp's `Instant - Instant` is
/// an absolute difference, which would turn a missed deadline into a long sleep).
fn until(now: Instant, at: Instant) -> StdDuration {
    let micros = at.total_micros().saturating_sub(now.total_micros());
    StdDuration::from_micros(u64::try_from(micros).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_deadlines_mean_no_sleep() {
        let now = Instant::from_millis(5_000);
        assert_eq!(until(now, Instant::from_millis(4_000)), StdDuration::ZERO);
        assert_eq!(
            until(now, Instant::from_millis(5_250)),
            StdDuration::from_millis(250)
        );
    }

    /// A session whose last frame (the server's ACK of our FIN) arrives `ack_at`, with the
    /// simulated clock jumping to whatever ends each sleep.
    struct Closing {
        now: Instant,
        ack_at: Instant,
        acked: bool,
        polls: usize,
    }

    impl Linger for Closing {
        fn now(&self) -> Instant {
            self.now
        }

        fn poll(&mut self, now: Instant) -> Result<(Option<Instant>, bool)> {
            self.polls += 1;
            // The poll reads the frame that arrived; then the socket is closed.
            self.acked |= now >= self.ack_at;
            Ok((None, self.acked))
        }

        fn sleep(&mut self, now: Instant, wake: Instant) -> Result<bool> {
            // Woken by the frame if it comes before `wake`.
            let frame = (!self.acked && self.ack_at > now).then_some(self.ack_at);
            self.now = earliest(frame, Some(wake)).unwrap_or(wake);
            Ok(false)
        }
    }

    #[test]
    fn lingering_ends_with_the_poll_that_closed_the_connection() {
        let mut session = Closing {
            now: Instant::from_millis(1_000),
            ack_at: Instant::from_millis(1_001),
            acked: false,
            polls: 0,
        };
        linger_until(&mut session, Instant::from_millis(1_500)).unwrap();
        assert_eq!(
            session.now,
            Instant::from_millis(1_001),
            "no sleep after the ACK"
        );
        assert_eq!(session.polls, 2);
    }

    #[test]
    fn lingering_ends_at_the_deadline_without_an_answer() {
        let mut session = Closing {
            now: Instant::from_millis(1_000),
            ack_at: Instant::from_millis(9_000),
            acked: false,
            polls: 0,
        };
        linger_until(&mut session, Instant::from_millis(1_500)).unwrap();
        assert_eq!(session.now, Instant::from_millis(1_500));
        assert!(!session.acked);
    }
}
