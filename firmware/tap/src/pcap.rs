//! `--pcap FILE`: every frame in and out, in the libpcap format tcpdump and Wireshark read.
//!
//! smoltcp's [`PcapWriter`](smoltcp::phy::PcapWriter) does the framing; this is its sink. The
//! device is always wrapped in a `PcapWriter` (a [`Recorder::off`] sink discards), so the
//! program has one device type rather than two copies of every poll loop.
//!
//! smoltcp's own `std` sink panics on a write error; this one keeps the first error for the
//! poll loop to report (`disk full` ends the program with a message, not a panic).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::rc::Rc;

use smoltcp::phy::PcapSink;
use smoltcp::time::Instant;

/// The first error writing the capture, shared with the poll loop.
pub type Fault = Rc<RefCell<Option<io::Error>>>;

/// Where captured frames go.
pub struct Recorder {
    out: Option<BufWriter<File>>,
    /// Wall-clock time (µs since the Unix epoch) of the stack's `Instant::ZERO`, so captures
    /// show real times although the stack runs on a monotonic clock.
    epoch_micros: i64,
    fault: Fault,
}

impl Recorder {
    /// A recorder that discards every frame.
    pub fn off() -> Self {
        Self {
            out: None,
            epoch_micros: 0,
            fault: Fault::default(),
        }
    }

    /// Creates (or truncates) `path`; `epoch_micros` is the wall-clock time of `Instant::ZERO`.
    pub fn create(path: &Path, epoch_micros: i64) -> io::Result<Self> {
        let file = File::create(path)?;
        Ok(Self {
            out: Some(BufWriter::new(file)),
            epoch_micros,
            fault: Fault::default(),
        })
    }

    /// Where write errors are reported.
    pub fn fault(&self) -> Fault {
        self.fault.clone()
    }
}

impl PcapSink for Recorder {
    fn write(&mut self, data: &[u8]) {
        let Some(out) = &mut self.out else { return };
        // Qualified: with smoltcp's `std` feature on (another workspace crate may enable
        // it), `BufWriter` is a `PcapSink` too and `out.flush()` would be ambiguous.
        if let Err(e) = Write::write_all(out, data) {
            self.fault.borrow_mut().get_or_insert(e);
            // Stop at the first error: what follows would be a torn record anyway.
            self.out = None;
        }
    }

    /// Called after every frame, so the file is complete even if the process is killed.
    fn flush(&mut self) {
        let Some(out) = &mut self.out else { return };
        if let Err(e) = Write::flush(out) {
            self.fault.borrow_mut().get_or_insert(e);
            self.out = None;
        }
    }

    /// smoltcp's own `packet`, less its header and calls when nothing is recorded: the
    /// recorder sees every frame, and usually it is off.
    fn packet(&mut self, timestamp: Instant, packet: &[u8]) {
        if self.out.is_none() {
            return;
        }
        let snap = usize::try_from(self.max_packet_size()).unwrap_or(usize::MAX);
        self.packet_header(timestamp, packet.len());
        self.write(&packet[..snap.min(packet.len())]);
        self.flush();
    }

    fn packet_header(&mut self, timestamp: Instant, length: usize) {
        let micros = self.epoch_micros + timestamp.total_micros();
        // Frames are at most an Ethernet MTU, far below the default snap length.
        let length = u32::try_from(length).unwrap_or(u32::MAX);
        self.write_u32(micros.div_euclid(1_000_000) as u32);
        self.write_u32(micros.rem_euclid(1_000_000) as u32);
        self.write_u32(length.min(self.max_packet_size()));
        self.write_u32(length);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_has_pcap_header_and_wall_clock_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pcap");
        let mut rec = Recorder::create(&path, 1_700_000_000_000_000).unwrap();
        rec.global_header(smoltcp::phy::PcapLinkType::Ethernet);
        rec.packet(Instant::from_micros(2_500_000), &[0xaa; 60]);
        drop(rec);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 24 + 16 + 60);
        let u32_at = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap());
        assert_eq!(u32_at(0), 0xa1b2c3d4);
        assert_eq!(u32_at(20), 1, "link type Ethernet");
        assert_eq!(u32_at(24), 1_700_000_002);
        assert_eq!(u32_at(28), 500_000);
        assert_eq!((u32_at(32), u32_at(36)), (60, 60));
    }

    #[test]
    fn off_writes_nothing() {
        let mut rec = Recorder::off();
        rec.packet(Instant::ZERO, &[1, 2, 3]);
        assert!(rec.fault().borrow().is_none());
    }
}
