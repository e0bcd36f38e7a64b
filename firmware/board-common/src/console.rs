//! The board's log: lines to the debugger's stdout over semihosting, written without
//! `core::fmt` (the core's events render themselves through `tcplink::text`).

use cortex_m_semihosting::hio::{self, HostStream};
use tcplink::text::{Render, TextOut};

/// Semihosting stdout with a line buffer of 128 bytes (each write traps into the debugger).
pub type Console = LineOut<128>;

/// Semihosting stdout with a line buffer of `BUFFER` bytes.
///
/// Generic only so that its code is compiled in the crate that uses it: the board's loop
/// (generic over the driver, so compiled in the board crate) then optimizes it together
/// with the loop, as when the console was the board's own module. As a plain struct of this
/// crate the mps2-an385 `get,dhcp` build was 0.3 KB larger and over its budget.
pub struct LineOut<const BUFFER: usize> {
    /// `None` if the host has no stdout for us: the log goes nowhere.
    out: Option<HostStream>,
    buf: [u8; BUFFER],
    len: usize,
}

impl<const BUFFER: usize> LineOut<BUFFER> {
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

    /// Writes the line `what` + the MAC address as `02-00-00-69-00-02`, e.g. the driver's
    /// `lan9118: up, MAC ` once it is up.
    pub fn mac_line(&mut self, what: &str, mac: [u8; 6]) {
        self.put(what);
        for (i, byte) in mac.iter().enumerate() {
            if i > 0 {
                self.put("-");
            }
            self.hex(u64::from(*byte), 2);
        }
        self.end_line();
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            // Nowhere to report a failed log write.
            let _ = out.write_all(&self.buf[..self.len]);
        }
        self.len = 0;
    }
}

impl<const BUFFER: usize> TextOut for LineOut<BUFFER> {
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
