//! stdout, gathered during one turn of the poll loop and written before the loop sleeps:
//! one write(2) per turn instead of one per line, while a pipe or a test reading the output
//! still sees each line as soon as the device goes idle.

use std::io::{self, Write};

use anyhow::{anyhow, Result};

/// Lines for stdout, remembering the first failure (a closed pipe) for the loop to report
/// instead of panicking as `println!` would.
#[derive(Default)]
pub struct Stdout {
    pending: Vec<u8>,
    error: Option<io::Error>,
}

impl Stdout {
    /// Queues `line` and a newline for the next [`flush`](Self::flush).
    pub fn line(&mut self, line: impl std::fmt::Display) {
        if self.error.is_none() {
            // Writing into a Vec cannot fail.
            let _ = writeln!(self.pending, "{line}");
        }
    }

    /// Writes the queued lines; the first write error is the run's failure.
    pub fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() && self.error.is_none() {
            let mut out = io::stdout().lock();
            if let Err(e) = out.write_all(&self.pending).and_then(|()| out.flush()) {
                self.error = Some(e);
            }
        }
        self.pending.clear();
        match self.error.take() {
            Some(e) => Err(anyhow!("cannot write to stdout: {e}")),
            None => Ok(()),
        }
    }
}

/// Lines queued at the very end (while lingering, or on an error path) still get out.
impl Drop for Stdout {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
