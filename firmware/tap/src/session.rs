//! The platform side of a run: turns the core's events into the seed's output, saves a GET's
//! body, and decides when the run is over and how it ended.
//!
//! stdout carries what the seed prints (server log lines; the response head) plus DHCP leases
//! and the saved size; stderr carries only progress and errors. With `-o -` the body takes
//! stdout and all of those lines go to stderr.

use std::io::Write;

use anyhow::{anyhow, Error, Result};
use smoltcp::time::{Duration, Instant};
use tcplink::dhcp::DhcpEvent;
use tcplink::greeting::GreetingEvent;
use tcplink::http::{BodySink, HttpError, HttpEvent, SinkError};
use tcplink::{Handler, Stack};

use crate::addresses::Ipv6Addresses;
use crate::download::Download;
use crate::output::Stdout;
use crate::runner::Session;

/// A GET this run makes.
pub struct Fetch {
    url: String,
    /// `None` once the GET ended.
    download: Option<Download>,
    /// The body goes to stdout, so every line goes to stderr.
    to_stdout: bool,
    /// The core's idle timeout, `--timeout-s`, to name it when it strikes.
    idle_s: u64,
    /// `--max-time`: when the whole GET must be over, and its length.
    deadline: Option<(Instant, Duration)>,
    /// Status and reason of the latest response head.
    status: Option<(u16, String)>,
    /// How the GET ended, until the run reports it.
    result: Option<Result<()>>,
}

impl Fetch {
    /// A GET of `url` saved by `download`; the core gives up after `idle` without data,
    /// this side after `max_time` from `now` if given.
    pub fn new(
        url: &str,
        download: Download,
        idle: Duration,
        max_time: Option<Duration>,
        now: Instant,
    ) -> Self {
        Self {
            url: url.to_string(),
            to_stdout: download.is_stdout(),
            download: Some(download),
            idle_s: idle.secs(),
            deadline: max_time.map(|limit| (now + limit, limit)),
            status: None,
            result: None,
        }
    }

    fn running(&self) -> bool {
        self.download.is_some()
    }

    /// Ends the GET: the download is finished or dropped (deleting the temporary file).
    fn end(&mut self, result: Result<()>) {
        self.download = None;
        self.result = Some(result);
    }

    fn failed(&mut self, cause: impl std::fmt::Display) {
        let error = anyhow!("GET {}: {cause}", shown_url(&self.url));
        self.end(Err(error));
    }
}

/// Everything the run prints and stores.
pub struct Console {
    out: Stdout,
    fetch: Option<Fetch>,
    /// `run`: keep serving after the GET ended. `get`: the GET's end is the run's end.
    serving: bool,
    /// `run`: the GET failed (already reported on stderr).
    fetch_failed: bool,
    /// The IPv6 addresses shown so far, if IPv6 was asked for.
    ipv6: Option<Ipv6Addresses>,
}

impl Console {
    /// Output for a run that serves (`serving`) and/or fetches.
    pub fn new(serving: bool, fetch: Option<Fetch>) -> Self {
        let to_stdout = fetch.as_ref().is_some_and(|f| f.to_stdout);
        Self {
            out: if to_stdout {
                Stdout::on_stderr()
            } else {
                Stdout::default()
            },
            fetch,
            serving,
            fetch_failed: false,
            ipv6: None,
        }
    }

    /// Also shows the device's IPv6 addresses: at start, then each one SLAAC adds.
    pub fn with_ipv6(mut self, addresses: Ipv6Addresses) -> Self {
        self.ipv6 = Some(addresses);
        self
    }

    /// The seed server's first line.
    pub fn waiting(&mut self) {
        self.out.line("Waiting for connection...");
    }

    /// Whether a GET made while serving failed.
    pub fn fetch_failed(&self) -> bool {
        self.fetch_failed
    }

    fn http(&mut self, event: HttpEvent<'_>) {
        let Some(fetch) = self.fetch.as_mut().filter(|f| f.running()) else {
            return;
        };
        match event {
            HttpEvent::Head(head) => {
                // The header block as text, as the seed prints it, but with the terminal's
                // line endings (the wire's CRLF would put a stray CR in every line of a pipe),
                // then the blank line that ends a head on the wire.
                for line in head.to_string().lines() {
                    self.out.line(line);
                }
                self.out.line("");
                fetch.status = Some((head.status, head.reason.to_string()));
                if !head.is_redirect() {
                    let length = head
                        .header("content-length")
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|v| v.trim().parse().ok());
                    if let Some(download) = &mut fetch.download {
                        download.start(length);
                    }
                }
            }
            HttpEvent::Done { status, body_len } => {
                if !(200..300).contains(&status) {
                    let reason = fetch.status.as_ref().map_or("", |(_, r)| r.as_str());
                    let cause = format!("server answered {status} {reason}");
                    fetch.failed(cause.trim_end());
                    return;
                }
                let Some(download) = fetch.download.take() else {
                    return;
                };
                let destination = download.destination();
                match download.finish() {
                    Ok(saved) => {
                        debug_assert_eq!(saved, body_len);
                        self.out
                            .line(format_args!("{saved} bytes saved to {destination}"));
                        fetch.end(Ok(()));
                    }
                    Err(e) => fetch.end(Err(e)),
                }
            }
            HttpEvent::Failed(error) => {
                let Some(mut download) = fetch.download.take() else {
                    return;
                };
                match download.take_error() {
                    // The core only knows the sink refused; the cause is ours to tell.
                    Some(io) => {
                        let destination = download.destination();
                        fetch.end(Err(anyhow!("cannot write {destination}: {io}")));
                    }
                    None if error == HttpError::IdleTimeout => {
                        let secs = fetch.idle_s;
                        fetch.failed(format_args!(
                            "timed out: nothing received for {secs} s (--timeout-s)"
                        ));
                    }
                    None => fetch.failed(error),
                }
            }
            // Resolved, Connected, Redirect: progress, for the log.
            _ => log::info!("{event}"),
        }
    }
}

/// The seed's server log lines.
impl Handler<GreetingEvent> for Console {
    fn event(&mut self, event: GreetingEvent) {
        log::debug!("{event:?}");
        self.out.event(&event);
    }
}

/// Leases, as a line each.
impl Handler<DhcpEvent> for Console {
    fn event(&mut self, event: DhcpEvent) {
        log::debug!("{event:?}");
        self.out.event(&event);
    }
}

impl Handler<HttpEvent<'_>> for Console {
    fn event(&mut self, event: HttpEvent<'_>) {
        log::debug!("{event:?}");
        self.http(event);
    }
}

impl BodySink for Console {
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        // Refusing the data also cancels a GET this side already gave up on (timeout).
        let download = self.fetch.as_mut().and_then(|f| f.download.as_mut());
        match download.map(|d| d.write(chunk)) {
            Some(true) => Ok(()),
            _ => Err(SinkError),
        }
    }
}

impl Session for Console {
    fn outcome(&mut self, now: Instant) -> Option<Result<()>> {
        // Called once per turn of the loop, right before it may sleep: the lines go out when
        // due (see crate::output).
        if let Err(e) = self.out.turn(now) {
            return Some(Err(e));
        }
        let fetch = self.fetch.as_mut()?;
        if let Some((deadline, limit)) = fetch.deadline.filter(|_| fetch.running()) {
            if now >= deadline {
                let secs = limit.secs();
                fetch.failed(format_args!("gave up after {secs} s (--max-time)"));
            }
        }
        let result = fetch.result.take()?;
        if !self.serving {
            return Some(result);
        }
        if let Err(e) = result {
            // The server goes on; say now why the GET failed, and exit non-zero later.
            report(&e);
            self.fetch_failed = true;
        }
        None
    }

    fn stack(&mut self, stack: &Stack<'_>) {
        if let Some(shown) = &mut self.ipv6 {
            for line in shown.new_lines(stack.ipv6_addresses(), stack.ipv6_router()) {
                self.out.line(line);
            }
        }
    }

    fn wake_at(&self) -> Option<Instant> {
        let fetch = self
            .fetch
            .as_ref()
            .filter(|f| f.running())
            .and_then(|f| f.deadline)
            .map(|(deadline, _)| deadline);
        match (fetch, self.out.wake_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A URL as messages show it: cut after [`SHOWN_URL`] characters, with its length, so an
/// over-long URL does not flood the terminal.
pub fn shown_url(url: &str) -> String {
    match url.char_indices().nth(SHOWN_URL) {
        Some((cut, _)) => format!("{}... ({} bytes)", &url[..cut], url.len()),
        None => url.to_string(),
    }
}

/// Characters of a URL shown in a message.
const SHOWN_URL: usize = 100;

/// An error and its causes on one line.
fn one_line(e: &Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// Says `e` on stderr as `tcplink-tap: CAUSE: CAUSE...`. A closed stderr is ignored (the exit
/// status still tells), where `eprintln!` would panic.
pub fn report(e: &Error) {
    let _ = writeln!(std::io::stderr(), "tcplink-tap: {}", one_line(e));
}
