//! The board's log: lines to the debugger's stdout over semihosting, written without
//! `core::fmt` (the core's events render themselves through `tcplink::text`).

use cortex_m_semihosting::hio::{self, HostStream};
use tcplink::text::{Render, TextOut};

/// Bytes gathered before one semihosting write (each write traps into the debugger).
const BUFFER: usize = 128;

/// Semihosting stdout with a small line buffer.
pub struct Console {
    /// `None` if the host has no stdout for us: the log goes nowhere.
    out: Option<HostStream>,
    buf: [u8; BUFFER],
    len: usize,
}

impl Console {
    /// Opens the debugger's stdout.
    pub fn open() -> Self {
        Self {
            out: hio::hstdout().ok(),
            buf: [0; BUFFER],
            len: 0,
        }
    }

    /// Writes `item`'s line.
    pub fn line(&mut self, item: &dyn Render) {
        item.render(self);
        self.end_line();
    }

    /// Ends the current line and writes it out.
    pub fn end_line(&mut self) {
        self.put("\n");
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            // Nowhere to report a failed log write.
            let _ = out.write_all(&self.buf[..self.len]);
        }
        self.len = 0;
    }
}

impl TextOut for Console {
    fn put(&mut self, text: &str) {
        for chunk in text.as_bytes().chunks(BUFFER) {
            if self.len + chunk.len() > BUFFER {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
    }
}
