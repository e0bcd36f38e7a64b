//! stdout, one flushed line at a time, so a pipe or a test reading the output sees each line
//! as it happens.

use std::io::{self, Write};

use anyhow::{anyhow, Result};

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
