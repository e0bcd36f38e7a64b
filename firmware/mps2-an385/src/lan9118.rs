//! SMSC LAN9118 Ethernet controller driver, as a `tcplink_board_common::Nic` (which
//! board-common's `Frames` makes a `smoltcp::phy::Device`).
//!
//! The controller has its own packet FIFOs, so the driver copies one frame at a time
//! between them and the two fixed 1520-byte buffers of `Frames`: no DMA, no allocation,
//! polled (the interrupt line only wakes the CPU). Register layout and FIFO formats follow the SMSC
//! datasheet and were checked against QEMU's model (hw/net/lan9118.c). The firmware's
//! `unsafe` is here: register access, the NVIC unmask and the interrupt handler.

use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use cortex_m_rt::exception;
use tcplink::text::{Render, TextOut};
use tcplink_board_common::{unexpected_interrupt, Counters, Nic, FRAME_BUF};

/// Where the MPS2 AN385 maps the controller (QEMU's `mps2-an385` machine too).
pub const MPS2_AN385_BASE: usize = 0x4020_0000;
/// The controller's interrupt line on the MPS2 AN385 (NVIC external interrupt 13).
pub const MPS2_AN385_IRQ: u16 = 13;

// Register offsets from the base address.
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const ID_REV: usize = 0x50;
const IRQ_CFG: usize = 0x54;
const INT_STS: usize = 0x58;
const INT_EN: usize = 0x5C;
const BYTE_TEST: usize = 0x64;
const FIFO_INT: usize = 0x68;
const RX_CFG: usize = 0x6C;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7C;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xA4;
const MAC_CSR_DATA: usize = 0xA8;
const FREE_RUN: usize = 0x9C;

// Register bits.
const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1 << 0;
const PMT_CTRL_READY: u32 = 1 << 0;
const TX_CFG_TX_ON: u32 = 1 << 1;
const IRQ_CFG_TYPE_PUSH_PULL: u32 = 1 << 0;
const IRQ_CFG_POL_HIGH: u32 = 1 << 4;
const IRQ_CFG_IRQ_EN: u32 = 1 << 8;
/// RX status FIFO level interrupt: set when more statuses wait than FIFO_INT's low byte.
const INT_RSFL: u32 = 1 << 3;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
/// RX status: error summary (CRC, runt, too long, collision, length error).
const RX_STS_ES: u32 = 1 << 15;
/// RX status: the frame failed the address filter (only seen in receive-all mode).
const RX_STS_FILTER_FAIL: u32 = 1 << 30;
/// TX status: error summary (loss of carrier, late or excessive collisions, underrun).
const TX_STS_ES: u32 = 1 << 15;
const TX_CMD_A_FIRST_SEG: u32 = 1 << 13;
const TX_CMD_A_LAST_SEG: u32 = 1 << 12;

// MAC control and status registers, reached through MAC_CSR_CMD/MAC_CSR_DATA.
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
/// Pass all multicast frames (the perfect filter drops them all).
const MAC_CR_MCPAS: u32 = 1 << 19;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_RXEN: u32 = 1 << 2;

/// Spins allowed for the reset and for each MAC CSR access. QEMU finishes at once; real
/// silicon needs well under 1 ms, a few thousand loop turns at 25 MHz.
const SPIN_LIMIT: u32 = 100_000;

/// Why bring-up failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The driver was already taken: one controller, one owner.
    AlreadyTaken,
    /// BYTE_TEST did not read 0x87654321: nothing there, or a bus with the wrong width or
    /// byte order.
    ByteTest(u32),
    /// ID_REV names a chip that is not a LAN9115..LAN9118.
    UnknownChip(u32),
    /// The soft reset did not finish in time.
    ResetTimeout,
    /// The MAC CSR interface stayed busy.
    MacCsrTimeout,
    /// A MAC CSR did not read back what was written (register, wrote, read).
    MacCsrVerify(u32, u32, u32),
}

/// Written without `core::fmt`, which release builds do not link.
impl Render for Error {
    fn render(&self, out: &mut dyn TextOut) {
        let word = |out: &mut dyn TextOut, v: u32| {
            out.put("0x");
            out.hex(u64::from(v), 8);
        };
        match *self {
            Error::AlreadyTaken => out.put("LAN9118 driver already taken"),
            Error::ByteTest(v) => {
                out.put("BYTE_TEST read ");
                word(out, v);
                out.put(", want ");
                word(out, BYTE_TEST_VALUE);
            }
            Error::UnknownChip(v) => {
                out.put("ID_REV ");
                word(out, v);
                out.put(" is not a LAN9115..LAN9118");
            }
            Error::ResetTimeout => out.put("soft reset did not complete"),
            Error::MacCsrTimeout => out.put("MAC CSR interface stayed busy"),
            Error::MacCsrVerify(r, w, got) => {
                out.put("MAC CSR ");
                out.decimal(u64::from(r));
                out.put(" wrote ");
                word(out, w);
                out.put(", read back ");
                word(out, got);
            }
        }
    }
}

/// The controller's register block. Only [`Lan9118::take`] makes one, for the board's
/// fixed address, so every access below targets that MMIO block.
#[derive(Clone, Copy)]
struct Regs {
    base: usize,
}

impl Regs {
    fn read(self, offset: usize) -> u32 {
        // SAFETY: `base` is the LAN9118's MMIO block (see `Lan9118::take`), `offset` is one
        // of the word-aligned register offsets above, inside its 256-byte window. Volatile
        // because reads have side effects (FIFO pops).
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(self, offset: usize, value: u32) {
        // SAFETY: as in `read`; the controller's registers are plain 32-bit device memory
        // and no Rust reference ever points into them.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn spin_until(self, mut done: impl FnMut(Regs) -> bool) -> bool {
        (0..SPIN_LIMIT).any(|_| done(self))
    }

    fn mac_wait(self) -> Result<(), Error> {
        if self.spin_until(|r| r.read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0) {
            Ok(())
        } else {
            Err(Error::MacCsrTimeout)
        }
    }

    fn mac_read(self, reg: u32) -> Result<u32, Error> {
        self.mac_wait()?;
        self.write(MAC_CSR_CMD, MAC_CSR_BUSY | MAC_CSR_READ | reg);
        self.mac_wait()?;
        Ok(self.read(MAC_CSR_DATA))
    }

    fn mac_write(self, reg: u32, value: u32) -> Result<(), Error> {
        self.mac_wait()?;
        self.write(MAC_CSR_DATA, value);
        self.write(MAC_CSR_CMD, MAC_CSR_BUSY | reg);
        self.mac_wait()?;
        let got = self.mac_read(reg)?;
        if got == value {
            Ok(())
        } else {
            Err(Error::MacCsrVerify(reg, value, got))
        }
    }
}

/// Guards the single controller on the board.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The LAN9118 and what it has counted.
pub struct Lan9118 {
    regs: Regs,
    counters: Counters,
}

impl Lan9118 {
    /// Claims the board's controller (once; later calls fail), resets it, checks it is a
    /// LAN9118 and starts its MAC with `mac` as station address. Interrupts stay off.
    pub fn take(mac: [u8; 6]) -> Result<Self, Error> {
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyTaken);
        }
        let regs = Regs {
            base: MPS2_AN385_BASE,
        };
        let mut nic = Lan9118 {
            regs,
            counters: Counters::default(),
        };
        nic.init(mac)?;
        Ok(nic)
    }

    fn init(&mut self, mac: [u8; 6]) -> Result<(), Error> {
        let r = self.regs;
        // BYTE_TEST is readable even before the chip is ready: it proves the bus works.
        let test = r.read(BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(Error::ByteTest(test));
        }
        r.write(HW_CFG, HW_CFG_SRST);
        if !r.spin_until(|r| r.read(HW_CFG) & HW_CFG_SRST == 0)
            || !r.spin_until(|r| r.read(PMT_CTRL) & PMT_CTRL_READY != 0)
        {
            return Err(Error::ResetTimeout);
        }
        let id = r.read(ID_REV);
        if !(0x0115..=0x0118).contains(&(id >> 16)) {
            return Err(Error::UnknownChip(id));
        }
        // Quiet interrupts until `enable_interrupt`.
        r.write(INT_EN, 0);
        r.write(INT_STS, u32::MAX);
        r.write(IRQ_CFG, 0);
        // RX: no offset before the frame, 4-byte end alignment (the reset value).
        r.write(RX_CFG, 0);

        let low = u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]);
        let high = u32::from(u16::from_le_bytes([mac[4], mac[5]]));
        r.mac_write(MAC_ADDRL, low)?;
        r.mac_write(MAC_ADDRH, high)?;
        // Perfect address filter (reset has it promiscuous), broadcast accepted.
        r.mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN)?;
        r.write(TX_CFG, TX_CFG_TX_ON);
        Ok(())
    }

    /// Lets multicast frames in: IPv6 neighbour discovery reaches a host at its
    /// solicited-node multicast address, and router advertisements go to all nodes. The
    /// stack drops groups it has not joined; the chip's hash filter would save it that work
    /// at the cost of tracking every group here.
    #[cfg_attr(not(feature = "ipv6"), allow(dead_code))]
    pub fn accept_multicast(&mut self) -> Result<(), Error> {
        let control = self.regs.mac_read(MAC_CR)?;
        self.regs.mac_write(MAC_CR, control | MAC_CR_MCPAS)
    }

    /// Routes the controller's interrupt line (active high, push-pull) to the NVIC, so
    /// `wfi` wakes as soon as a frame arrives instead of at the next SysTick. The source
    /// stays disabled until the loop calls [`Nic::arm_rx_interrupt`].
    pub fn enable_interrupt(&mut self, _nvic: &mut NVIC) {
        let r = self.regs;
        // RSFL fires when more than FIFO_INT[7:0] = 0 statuses wait, i.e. on any frame.
        r.write(FIFO_INT, r.read(FIFO_INT) & !0xFF);
        r.write(INT_EN, 0);
        r.write(INT_STS, INT_RSFL);
        r.write(
            IRQ_CFG,
            IRQ_CFG_IRQ_EN | IRQ_CFG_POL_HIGH | IRQ_CFG_TYPE_PUSH_PULL,
        );
        // SAFETY: unmasking can break critical sections built on NVIC masks; this firmware
        // has none (critical-section-single-core masks with PRIMASK), and the handler
        // (`DefaultHandler` below) only writes INT_EN.
        unsafe { NVIC::unmask(Lan9118Irq) };
    }

    /// The controller's free-running 25 MHz counter. Its value at boot differs from run
    /// to run by timing jitter, so it seeds smoltcp's sequence numbers (not cryptographic).
    pub fn free_running_counter(&self) -> u32 {
        self.regs.read(FREE_RUN)
    }
}

/// The shared loop's view of the driver (tcplink-board-common).
impl Nic for Lan9118 {
    const COUNTERS_LINE: &'static str = "lan9118: rx_frames=";
    /// The RX FIFO holds 10560 bytes (the reset split with a 5 KiB TX FIFO): six full frames.
    const RX_FIFO_FRAMES: usize = 6;

    /// Bad or oversized frames are drained word by word and counted; at most the frames
    /// that were waiting on entry are looked at.
    fn pop_frame(&mut self, buf: &mut [u8; FRAME_BUF]) -> Option<usize> {
        let r = self.regs;
        for _ in 0..rx_statuses(r) {
            let status = r.read(RX_STATUS_FIFO);
            // The length counts the 4-byte FCS that the FIFO holds after the frame.
            let len = ((status >> 16) & 0x3FFF) as usize;
            let words = len.div_ceil(4);
            let frame_len = len.saturating_sub(4);
            let bad = status & (RX_STS_ES | RX_STS_FILTER_FAIL) != 0;
            if bad || !(14..=FRAME_BUF).contains(&frame_len) {
                for _ in 0..words {
                    r.read(RX_DATA_FIFO);
                }
                self.counters.rx_dropped = self.counters.rx_dropped.wrapping_add(1);
                continue;
            }
            for i in 0..words {
                let word = r.read(RX_DATA_FIFO).to_le_bytes();
                let at = i * 4;
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

    /// Writes `frame` to the TX FIFO as one frame (counted as an error if the FIFO has no
    /// room for it), then collects finished transmissions.
    fn send(&mut self, frame: &[u8]) {
        let r = self.regs;
        let len = frame.len();
        // Command words plus the data, rounded up to whole words.
        let need = 8 + len.div_ceil(4) * 4;
        let free = (r.read(TX_FIFO_INF) & 0xFFFF) as usize;
        if free < need {
            self.counters.tx_errors = self.counters.tx_errors.wrapping_add(1);
            return;
        }
        self.counters.tx_frames = self.counters.tx_frames.wrapping_add(1);
        // The tag comes back in the TX status; never 0, to tell it from an empty FIFO read.
        let tag = (self.counters.tx_frames as u16).max(1);
        r.write(
            TX_DATA_FIFO,
            TX_CMD_A_FIRST_SEG | TX_CMD_A_LAST_SEG | len as u32,
        );
        r.write(TX_DATA_FIFO, (u32::from(tag) << 16) | len as u32);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            r.write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        self.prepare_transmit();
    }

    /// Pops finished-transmission statuses so the status FIFO never fills, counting errors.
    fn prepare_transmit(&mut self) {
        let used = (self.regs.read(TX_FIFO_INF) >> 16) & 0xFF;
        for _ in 0..used {
            if self.regs.read(TX_STATUS_FIFO) & TX_STS_ES != 0 {
                self.counters.tx_errors = self.counters.tx_errors.wrapping_add(1);
            }
        }
    }

    /// Re-enables the RX interrupt, which the handler turns off so that a level-triggered
    /// line cannot keep firing before the loop drains the FIFO.
    fn arm_rx_interrupt(&mut self) {
        self.regs.write(INT_STS, INT_RSFL);
        self.regs.write(INT_EN, INT_RSFL);
    }

    /// Whether a received frame waits in the FIFO.
    fn rx_pending(&self) -> bool {
        rx_statuses(self.regs) != 0
    }

    /// Counts since bring-up.
    fn counters(&self) -> Counters {
        self.counters
    }
}

/// Frames whose status waits in the RX status FIFO (RX_FIFO_INF.RXSUSED).
fn rx_statuses(r: Regs) -> u32 {
    (r.read(RX_FIFO_INF) >> 16) & 0xFF
}

/// The controller's NVIC line on this board.
#[derive(Clone, Copy)]
struct Lan9118Irq;

// SAFETY: 13 is a valid external interrupt number of the AN385 (it has 32).
unsafe impl InterruptNumber for Lan9118Irq {
    fn number(self) -> u16 {
        MPS2_AN385_IRQ
    }
}

/// Every interrupt without its own handler: the board has no PAC to name them, so the
/// LAN9118 line lands here. Turning the source off lets the main loop run; it re-arms the
/// interrupt before it next sleeps. Anything else is a bug: log it and stop QEMU.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == MPS2_AN385_IRQ as i16 {
        Regs {
            base: MPS2_AN385_BASE,
        }
        .write(INT_EN, 0);
    } else {
        unexpected_interrupt(irqn);
    }
}
