//! The LM3S6965's Ethernet controller (the Stellaris MAC with its integrated PHY), as a
//! `tcplink_board_common::Nic` (which board-common's `Frames` makes a
//! `smoltcp::phy::Device`).
//!
//! The MAC has one receive FIFO and one transmit FIFO (2 KiB each on the silicon), both
//! reached through the single MACDATA register, a 32-bit word at a time: no DMA, no
//! descriptors. The driver copies one frame at a time between them and the two fixed
//! 1520-byte buffers of `Frames`, polled (the interrupt line only wakes the CPU). Register layout and FIFO formats
//! follow the LM3S6965 datasheet (chapter "Ethernet Controller") and were checked against
//! QEMU's model (hw/net/stellaris_enet.c). The firmware's `unsafe` is here and in
//! sysctl.rs: register access, the NVIC unmask and the interrupt handler.
//!
//! FIFO formats:
//! * receive: the first word's low half is the frame length *including* those two length
//!   bytes and the 4-byte FCS at the end; the frame's first two bytes follow in its high half,
//!   the rest in the next words. MACNP counts the frames waiting.
//! * transmit: the first word's low half is the length of the payload *after* the 14-byte
//!   Ethernet header; the frame's first two bytes go in its high half, the rest in the next
//!   words. Setting MACTR.NEWTX sends it; the MAC pads to 60 bytes and appends the FCS.

use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use tcplink::text::{Render, TextOut};
use tcplink_board_common::{unexpected_interrupt, Counters, Nic, FRAME_BUF};

/// Where the LM3S6965 maps the Ethernet controller (QEMU's `lm3s6965evb` too).
pub const ENET_BASE: usize = 0x4004_8000;
/// The controller's interrupt line (NVIC external interrupt 42).
pub const ENET_IRQ: u16 = 42;

/// The silicon's receive FIFO: 2 KiB, the most a frame's length field can claim.
const RX_FIFO_BYTES: usize = 2048;
/// The length field, and the FCS, around each frame in the receive FIFO.
const RX_OVERHEAD: usize = 2 + 4;
/// Ethernet header bytes, which the transmit length field leaves out.
const ETH_HEADER: usize = 14;

// Register offsets from the base address.
/// MACRIS on read (raw interrupt status), MACIACK on write (1 clears).
const RIS_IACK: usize = 0x00;
const IM: usize = 0x04;
const RCTL: usize = 0x08;
const TCTL: usize = 0x0C;
const DATA: usize = 0x10;
const IA0: usize = 0x14;
const IA1: usize = 0x18;
const NP: usize = 0x34;
const TR: usize = 0x38;

// Register bits.
/// Interrupts: a frame was received; receive FIFO overrun; all seven sources.
const INT_RX: u32 = 1 << 0;
const INT_FOV: u32 = 1 << 3;
const INT_ALL: u32 = 0x7F;
const RCTL_RXEN: u32 = 1 << 0;
/// Pass all multicast frames (the address filter drops them otherwise).
const RCTL_AMUL: u32 = 1 << 1;
/// Drop frames with a bad FCS.
const RCTL_BADCRC: u32 = 1 << 3;
/// Empty the receive FIFO (with the receiver off).
const RCTL_RSTFIFO: u32 = 1 << 4;
const TCTL_TXEN: u32 = 1 << 0;
/// Pad short frames to 60 bytes.
const TCTL_PADEN: u32 = 1 << 1;
/// Append the FCS.
const TCTL_CRC: u32 = 1 << 2;
const TCTL_DUPLEX: u32 = 1 << 4;
/// MACTR: start sending the frame in the FIFO; reads 1 until it is sent.
const TR_NEWTX: u32 = 1 << 0;
/// MACNP: frames in the receive FIFO.
const NP_MASK: u32 = 0x3F;

/// Spins allowed for the previous frame to leave before the next one is written. QEMU sends
/// at once; the silicon needs 122 us for a full frame at 100 Mbit/s (1.2 ms at 10 Mbit/s),
/// a few thousand loop turns at 50 MHz.
const SPIN_LIMIT: u32 = 100_000;

/// Why bring-up failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The driver was already taken: one controller, one owner.
    AlreadyTaken,
    /// The station address did not read back as written (MACIA0, MACIA1 read): nothing
    /// there, or not a Stellaris MAC.
    AddressReadBack(u32, u32),
}

/// Written without `core::fmt`, which release builds do not link.
impl Render for Error {
    fn render(&self, out: &mut dyn TextOut) {
        match *self {
            Error::AlreadyTaken => out.put("Stellaris Ethernet driver already taken"),
            Error::AddressReadBack(ia0, ia1) => {
                out.put("station address read back as MACIA0=0x");
                out.hex(u64::from(ia0), 8);
                out.put(" MACIA1=0x");
                out.hex(u64::from(ia1), 8);
            }
        }
    }
}

/// The controller's register block. Only [`StellarisEnet::take`] makes one, for the chip's
/// fixed address, so every access below targets that MMIO block.
#[derive(Clone, Copy)]
struct Regs {
    base: usize,
}

impl Regs {
    fn read(self, offset: usize) -> u32 {
        // SAFETY: `base` is the Ethernet controller's MMIO block (see
        // `StellarisEnet::take`), `offset` is one of the word-aligned register offsets
        // above, inside its 4 KiB window. Volatile because reads have side effects (MACDATA
        // pops the receive FIFO).
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(self, offset: usize, value: u32) {
        // SAFETY: as in `read`; the registers are plain 32-bit device memory and no Rust
        // reference ever points into them.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Frames waiting in the receive FIFO.
    fn frames_waiting(self) -> u32 {
        self.read(NP) & NP_MASK
    }
}

/// Guards the single controller on the chip.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The Stellaris Ethernet controller and what it has counted.
pub struct StellarisEnet {
    regs: Regs,
    /// MACRCTL as written at bring-up (receiver on, filters), restored after a FIFO reset.
    rctl: u32,
    counters: Counters,
}

impl StellarisEnet {
    /// Claims the chip's controller (once; later calls fail), quiets its interrupts, empties
    /// its receive FIFO, sets `mac` as the station address (checked by reading it back) and
    /// turns transmitter and receiver on. The controller's clock must be on
    /// ([`crate::sysctl::enable_ethernet`]). `multicast`: pass all multicast frames (IPv6
    /// neighbour discovery needs them).
    pub fn take(mac: [u8; 6], multicast: bool) -> Result<Self, Error> {
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyTaken);
        }
        let regs = Regs { base: ENET_BASE };
        let mut rctl = RCTL_RXEN | RCTL_BADCRC;
        if multicast {
            rctl |= RCTL_AMUL;
        }
        let mut nic = StellarisEnet {
            regs,
            rctl,
            counters: Counters::default(),
        };
        nic.init(mac)?;
        Ok(nic)
    }

    fn init(&mut self, mac: [u8; 6]) -> Result<(), Error> {
        let r = self.regs;
        // Quiet interrupts (reset enables every source) until `enable_interrupt`.
        r.write(IM, 0);
        r.write(RIS_IACK, INT_ALL);

        let ia0 = u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]);
        let ia1 = u32::from(u16::from_le_bytes([mac[4], mac[5]]));
        r.write(IA0, ia0);
        r.write(IA1, ia1);
        let (got0, got1) = (r.read(IA0), r.read(IA1) & 0xFFFF);
        if (got0, got1) != (ia0, ia1) {
            return Err(Error::AddressReadBack(got0, got1));
        }
        // Full duplex (what the PHY negotiates with a switch or a TAP), padding and FCS
        // by the MAC.
        r.write(TCTL, TCTL_TXEN | TCTL_PADEN | TCTL_CRC | TCTL_DUPLEX);
        self.reset_rx_fifo();
        Ok(())
    }

    /// Empties the receive FIFO and turns the receiver (back) on: at bring-up, and when the
    /// FIFO holds something that is not a frame (a length that cannot be).
    fn reset_rx_fifo(&mut self) {
        let r = self.regs;
        r.write(RCTL, 0);
        r.write(RCTL, RCTL_RSTFIFO);
        r.write(RCTL, self.rctl);
    }

    /// Routes the controller's interrupt to the NVIC, so `wfi` wakes as soon as a frame
    /// arrives instead of at the next SysTick. The source stays masked until the loop calls
    /// [`Nic::arm_rx_interrupt`].
    pub fn enable_interrupt(&mut self, _nvic: &mut NVIC) {
        self.regs.write(IM, 0);
        self.regs.write(RIS_IACK, INT_RX);
        // SAFETY: unmasking can break critical sections built on NVIC masks; this firmware
        // has none (critical-section-single-core masks with PRIMASK), and the handler
        // (`DefaultHandler` below) only writes MACIM.
        unsafe { NVIC::unmask(EnetIrq) };
    }
}

/// The shared loop's view of the driver (tcplink-board-common).
impl Nic for StellarisEnet {
    const COUNTERS_LINE: &'static str = "stellaris: rx_frames=";
    /// The silicon's receive FIFO holds 2 KiB: one full frame (QEMU's model holds 31
    /// frames, but the driver is written for the chip).
    const RX_FIFO_FRAMES: usize = 1;

    /// Frames that do not fit the buffer are drained word by word and counted; at most the
    /// frames that were waiting on entry are looked at.
    fn pop_frame(&mut self, buf: &mut [u8; FRAME_BUF]) -> Option<usize> {
        let r = self.regs;
        // Overruns lose frames the FIFO had no room for: count them once each time.
        if r.read(RIS_IACK) & INT_FOV != 0 {
            r.write(RIS_IACK, INT_FOV);
            self.counters.rx_dropped = self.counters.rx_dropped.wrapping_add(1);
        }
        for _ in 0..r.frames_waiting() {
            let first = r.read(DATA);
            let fifo_len = (first & 0xFFFF) as usize;
            if !(RX_OVERHEAD..=RX_FIFO_BYTES).contains(&fifo_len) {
                // Not a frame length: the FIFO is out of step. Start it afresh.
                self.reset_rx_fifo();
                self.counters.rx_dropped = self.counters.rx_dropped.wrapping_add(1);
                return None;
            }
            let words = fifo_len.div_ceil(4);
            let frame_len = fifo_len - RX_OVERHEAD;
            if !(ETH_HEADER..=FRAME_BUF).contains(&frame_len) {
                for _ in 1..words {
                    r.read(DATA);
                }
                self.counters.rx_dropped = self.counters.rx_dropped.wrapping_add(1);
                continue;
            }
            // The frame starts in the high half of the first word: byte i of the frame is
            // byte i + 2 of the FIFO's stream. The FCS after it is read and left out.
            buf[..2].copy_from_slice(&first.to_le_bytes()[2..]);
            for i in 1..words {
                let word = r.read(DATA).to_le_bytes();
                let at = i * 4 - 2;
                if at < frame_len {
                    let n = (frame_len - at).min(4);
                    buf[at..at + n].copy_from_slice(&word[..n]);
                }
            }
            self.counters.rx_frames = self.counters.rx_frames.wrapping_add(1);
            return Some(frame_len);
        }
        None
    }

    /// Writes `frame` to the transmit FIFO and sends it, once the previous frame has left
    /// (bounded wait; counted as an error if it never does).
    fn send(&mut self, frame: &[u8]) {
        let r = self.regs;
        if !(0..SPIN_LIMIT).any(|_| r.read(TR) & TR_NEWTX == 0) || frame.len() < ETH_HEADER {
            self.counters.tx_errors = self.counters.tx_errors.wrapping_add(1);
            return;
        }
        let payload = (frame.len() - ETH_HEADER) as u32;
        r.write(
            DATA,
            payload | u32::from(frame[0]) << 16 | u32::from(frame[1]) << 24,
        );
        for chunk in frame[2..].chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            r.write(DATA, u32::from_le_bytes(word));
        }
        r.write(TR, TR_NEWTX);
        self.counters.tx_frames = self.counters.tx_frames.wrapping_add(1);
    }

    /// Clears and unmasks the receive interrupt, which the handler masks so that the line
    /// cannot keep firing before the loop drains the FIFO.
    fn arm_rx_interrupt(&mut self) {
        self.regs.write(RIS_IACK, INT_RX);
        self.regs.write(IM, INT_RX);
    }

    fn rx_pending(&self) -> bool {
        self.regs.frames_waiting() != 0
    }

    fn counters(&self) -> Counters {
        self.counters
    }
}

/// The controller's NVIC line.
#[derive(Clone, Copy)]
struct EnetIrq;

// SAFETY: 42 is the LM3S6965's Ethernet interrupt, inside the vector table main.rs gives.
unsafe impl InterruptNumber for EnetIrq {
    fn number(self) -> u16 {
        ENET_IRQ
    }
}

/// Every interrupt without its own handler: the board has no PAC to name them, so the
/// Ethernet line lands here. Masking the source lets the main loop run; it unmasks it before
/// it next sleeps. Anything else is a bug: log it and stop QEMU.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == ENET_IRQ as i16 {
        Regs { base: ENET_BASE }.write(IM, 0);
    } else {
        unexpected_interrupt(irqn);
    }
}
