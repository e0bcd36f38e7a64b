//! What the user sees on stdout: the seed's log lines, one per event, flushed as they happen
//! so a pipe or a test reading the output sees them at once.

use std::io::{self, Write};

use anyhow::{anyhow, Result};
use smoltcp::time::Instant;
use tcplink::app::{Event, Handler};

use crate::runner::Session;

/// Writes lines to stdout, remembering the first failure (a closed pipe) for the loop to
/// report instead of panicking as `println!` would.
#[derive(Default)]
pub struct Stdout {
    error: Option<io::Error>,
}

impl Stdout {
    /// Writes `line` and a newline, then flushes.
    pub fn line(&mut self, line: impl std::fmt::Display) {
        if self.error.is_some() {
            return;
        }
        let mut out = io::stdout().lock();
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            self.error = Some(e);
        }
    }

    /// The first write error, as the run's failure.
    pub fn check(&mut self) -> Result<()> {
        match self.error.take() {
            Some(e) => Err(anyhow!("cannot write to stdout: {e}")),
            None => Ok(()),
        }
    }
}

/// The greeting server's log: `Waiting for connection...`, then one line per event.
#[derive(Default)]
pub struct GreetingLog {
    pub out: Stdout,
}

impl GreetingLog {
    /// The seed's first line.
    pub fn start(&mut self) {
        self.out.line("Waiting for connection...");
    }
}

impl Handler for GreetingLog {
    fn event(&mut self, event: Event) {
        log::debug!("{event:?}");
        self.out.line(event);
    }
}

impl Session for GreetingLog {
    /// A server runs until stopped; only a broken stdout ends it early.
    fn outcome(&mut self, _now: Instant) -> Option<Result<()>> {
        self.out.check().err().map(Err)
    }
}
