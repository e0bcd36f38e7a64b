//! stdout with a bounded delay: lines are gathered and written together, at the latest
//! [`LINE_DELAY`] after the oldest of them was queued (the loop wakes for that), at once
//! when [`BATCH`] bytes are waiting or stdout is a terminal, and at the end of the run. A busy
//! server so writes its two seed lines per session in one write(2) per batch instead of one
//! per loop turn, while a pipe or a test reading the output still sees every line within the
//! bound. When the body itself goes to stdout (`-o -`), these lines go to stderr instead, so
//! stdout carries exactly the body.

use std::io::{self, IsTerminal, Write};

use anyhow::{anyhow, Result};
use smoltcp::time::{Duration, Instant};
use tcplink::text::{Render, TextOut};

/// The longest a queued line waits before it is written.
pub const LINE_DELAY: Duration = Duration::from_millis(10);

/// Queued bytes that are written without waiting for [`LINE_DELAY`].
const BATCH: usize = 4096;

/// Lines for stdout, remembering the first failure (a closed pipe) for the loop to report
/// instead of panicking as `println!` would.
pub struct Stdout {
    pending: Vec<u8>,
    /// When the oldest pending line must be out (`None`: none pending, or not yet stamped).
    due: Option<Instant>,
    error: Option<io::Error>,
    out: Box<dyn Write>,
    /// The stream's name, for the error.
    stream: &'static str,
    /// Every turn's lines go out at once: a person is watching a terminal.
    eager: bool,
}

impl Default for Stdout {
    fn default() -> Self {
        let eager = io::stdout().is_terminal();
        Self::to(Box::new(io::stdout()), "stdout", eager)
    }
}

impl Stdout {
    /// The same lines, written to stderr.
    pub fn on_stderr() -> Self {
        let eager = io::stderr().is_terminal();
        Self::to(Box::new(io::stderr()), "stderr", eager)
    }

    fn to(out: Box<dyn Write>, stream: &'static str, eager: bool) -> Self {
        Self {
            pending: Vec::new(),
            due: None,
            error: None,
            out,
            stream,
            eager,
        }
    }

    /// Queues `line` and a newline.
    pub fn line(&mut self, line: impl std::fmt::Display) {
        if self.error.is_none() {
            // Writing into a Vec cannot fail.
            let _ = writeln!(self.pending, "{line}");
        }
    }

    /// Queues an event's line and a newline, rendered straight into the queue (the seed's
    /// log lines, twice per session on a busy server, skip `core::fmt`).
    pub fn event(&mut self, event: &dyn Render) {
        if self.error.is_none() {
            event.render(&mut Pending(&mut self.pending));
            self.pending.push(b'\n');
        }
    }

    /// Called once per loop turn, after the turn's lines were queued: writes them if they
    /// are due at `now` (see the module doc). The first write error is the run's failure.
    pub fn turn(&mut self, now: Instant) -> Result<()> {
        if self.pending.is_empty() {
            return self.take_error();
        }
        let due = *self.due.get_or_insert(now + LINE_DELAY);
        if self.eager || self.pending.len() >= BATCH || now >= due {
            self.write();
        }
        self.take_error()
    }

    /// When the loop must wake to write the pending lines, if any are pending.
    pub fn wake_at(&self) -> Option<Instant> {
        self.due.filter(|_| !self.pending.is_empty())
    }

    /// Writes the pending lines now.
    fn write(&mut self) {
        if !self.pending.is_empty() && self.error.is_none() {
            let written = self
                .out
                .write_all(&self.pending)
                .and_then(|()| self.out.flush());
            if let Err(e) = written {
                self.error = Some(e);
            }
        }
        self.pending.clear();
        self.due = None;
    }

    fn take_error(&mut self) -> Result<()> {
        match self.error.take() {
            Some(e) => Err(anyhow!("cannot write to {}: {e}", self.stream)),
            None => Ok(()),
        }
    }
}

/// The queue as a [`TextOut`].
struct Pending<'a>(&'a mut Vec<u8>);

impl TextOut for Pending<'_> {
    fn put(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }
}

/// Lines still pending at the end (a stop signal, lingering, an error path) get out.
impl Drop for Stdout {
    fn drop(&mut self) {
        self.write();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// Each write(2) the stream would make, as text.
    #[derive(Clone, Default)]
    struct Writes(Rc<RefCell<Vec<String>>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .borrow_mut()
                .push(String::from_utf8_lossy(buf).into_owned());
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn ms(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn lines_of_busy_turns_go_out_together_within_the_bound() {
        let writes = Writes::default();
        let mut out = Stdout::to(Box::new(writes.clone()), "stdout", false);
        out.line("Accept new connection from 10.0.0.1:5000...");
        out.turn(ms(100)).unwrap();
        out.line("Connection from 10.0.0.1:5000 close.");
        out.turn(ms(105)).unwrap();
        assert!(writes.0.borrow().is_empty(), "written before the bound");
        // An idle loop sleeps until then at most.
        assert_eq!(out.wake_at(), Some(ms(100) + LINE_DELAY));
        out.turn(ms(110)).unwrap();
        assert_eq!(
            *writes.0.borrow(),
            ["Accept new connection from 10.0.0.1:5000...\n\
              Connection from 10.0.0.1:5000 close.\n"]
        );
        assert_eq!(out.wake_at(), None);
    }

    /// An event's line rendered into the queue is its `Display` text, the seed's log line
    /// byte for byte.
    #[test]
    fn events_are_queued_as_their_display_text() {
        use smoltcp::wire::{IpAddress, IpEndpoint};
        use tcplink::greeting::{CloseReason, GreetingEvent};
        let writes = Writes::default();
        let mut out = Stdout::to(Box::new(writes.clone()), "stdout", true);
        let peer = IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), 50_000);
        let events = [
            GreetingEvent::Accepted { peer },
            GreetingEvent::Closed {
                peer,
                reason: CloseReason::Exit,
            },
        ];
        for event in &events {
            out.event(event);
        }
        out.turn(ms(0)).unwrap();
        let expected: String = events.iter().map(|e| format!("{e}\n")).collect();
        assert_eq!(
            expected,
            "Accept new connection from 10.0.0.1:50000...\n\
             Connection from 10.0.0.1:50000 close.\n"
        );
        assert_eq!(*writes.0.borrow(), [expected]);
    }

    #[test]
    fn a_full_batch_goes_out_at_once() {
        let writes = Writes::default();
        let mut out = Stdout::to(Box::new(writes.clone()), "stdout", false);
        for _ in 0..BATCH / 16 {
            out.line("fifteen bytes..");
        }
        out.turn(ms(0)).unwrap();
        assert_eq!(writes.0.borrow().len(), 1);
    }

    #[test]
    fn a_terminal_sees_each_turn() {
        let writes = Writes::default();
        let mut out = Stdout::to(Box::new(writes.clone()), "stdout", true);
        out.line("Waiting for connection...");
        out.turn(ms(0)).unwrap();
        assert_eq!(*writes.0.borrow(), ["Waiting for connection...\n"]);
    }

    #[test]
    fn pending_lines_are_written_at_the_end() {
        let writes = Writes::default();
        let mut out = Stdout::to(Box::new(writes.clone()), "stdout", false);
        out.line("Connection from 10.0.0.1:5000 close.");
        out.turn(ms(0)).unwrap();
        drop(out);
        assert_eq!(
            *writes.0.borrow(),
            ["Connection from 10.0.0.1:5000 close.\n"]
        );
    }
}
