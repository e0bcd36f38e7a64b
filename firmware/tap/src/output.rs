//! stdout, gathered during one turn of the poll loop and written before the loop sleeps:
//! one write(2) per turn instead of one per line, while a pipe or a test reading the output
//! still sees each line as soon as the device goes idle. When the body itself goes to stdout
//! (`-o -`), these lines go to stderr instead, so stdout carries exactly the body.

use std::io::{self, Write};

use anyhow::{anyhow, Result};

/// Lines for stdout, remembering the first failure (a closed pipe) for the loop to report
/// instead of panicking as `println!` would.
#[derive(Default)]
pub struct Stdout {
    pending: Vec<u8>,
    error: Option<io::Error>,
    /// The lines go to stderr: stdout is taken by the body.
    on_stderr: bool,
}

impl Stdout {
    /// The same lines, written to stderr.
    pub fn on_stderr() -> Self {
        Self {
            pending: Vec::new(),
            error: None,
            on_stderr: true,
        }
    }

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
            let written = if self.on_stderr {
                io::stderr().lock().write_all(&self.pending)
            } else {
                let mut out = io::stdout().lock();
                out.write_all(&self.pending).and_then(|()| out.flush())
            };
            if let Err(e) = written {
                self.error = Some(e);
            }
        }
        self.pending.clear();
        let stream = if self.on_stderr { "stderr" } else { "stdout" };
        match self.error.take() {
            Some(e) => Err(anyhow!("cannot write to {stream}: {e}")),
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
