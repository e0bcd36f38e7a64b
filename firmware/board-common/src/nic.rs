//! What a board's Ethernet driver provides, and the `smoltcp::phy::Device` the shared loop
//! builds on it: [`Frames`], the driver with one receive and one transmit frame buffer.

use tcplink::smoltcp::phy::{self, DeviceCapabilities, Medium};
use tcplink::smoltcp::time::Instant;
use tcplink::text::TextOut;

use crate::console::Console;

/// Bytes in each frame buffer: an Ethernet frame of 1514 bytes (+4 for a VLAN tag), rounded
/// up to 32-bit FIFO words.
pub const FRAME_BUF: usize = 1520;
/// Largest frame handed to smoltcp: 1500-byte IP MTU plus the Ethernet header.
const ETH_MTU: usize = 1514;

/// A board's Ethernet controller whose frames are copied through its FIFOs (no DMA), as the
/// shared loop ([`run`](crate::run)) drives it inside [`Frames`].
///
/// The loop polls the core's `App` over the `Device`, then sleeps in `wfi` with interrupts
/// masked: it calls [`arm_rx_interrupt`](Nic::arm_rx_interrupt), then
/// [`rx_pending`](Nic::rx_pending), then `wfi`, so a frame that lands in between leaves its
/// interrupt pending and `wfi` returns at once. The driver's interrupt handler only has to
/// turn its receive interrupt off (a level-triggered line would otherwise fire until the
/// loop drains the frames).
pub trait Nic {
    /// The start of the counters' log line: the driver's name and the first field,
    /// `"lan9118: rx_frames="` (one string, one write).
    const COUNTERS_LINE: &'static str;

    /// Full frames the controller's receive FIFO holds: smoltcp caps the TCP window it
    /// advertises to that many segments, so a peer cannot overrun the FIFO.
    const RX_FIFO_FRAMES: usize;

    /// Copies the next good received frame into `buf` and returns its length; bad or
    /// oversized frames are drained from the FIFO and counted, not returned.
    fn pop_frame(&mut self, buf: &mut [u8; FRAME_BUF]) -> Option<usize>;

    /// Sends `frame` (at most [`FRAME_BUF`] bytes, at least the 14-byte header); a frame the
    /// controller cannot take is counted as a transmit error.
    fn send(&mut self, frame: &[u8]);

    /// Before smoltcp is given room to send: a chance to collect finished transmissions.
    fn prepare_transmit(&mut self) {}

    /// Clears and enables the receive interrupt (the handler disabled it).
    fn arm_rx_interrupt(&mut self);

    /// Whether a received frame waits in the controller.
    fn rx_pending(&self) -> bool;

    /// Counts since bring-up.
    fn counters(&self) -> Counters;
}

/// A [`Nic`] with its receive and transmit frame buffers: the `smoltcp::phy::Device` the
/// loop polls. Static (e.g. `cortex_m::singleton!`): 3 KB of buffers.
pub struct Frames<N> {
    /// The driver.
    pub nic: N,
    rx_buf: [u8; FRAME_BUF],
    tx_buf: [u8; FRAME_BUF],
}

impl<N: Nic> Frames<N> {
    /// `nic` with two empty frame buffers.
    pub fn new(nic: N) -> Self {
        Frames {
            nic,
            rx_buf: [0; FRAME_BUF],
            tx_buf: [0; FRAME_BUF],
        }
    }
}

/// One received frame, borrowed from the receive buffer.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(self.frame)
    }
}

/// Permission to send one frame, built in the transmit buffer.
pub struct TxToken<'a, N> {
    nic: &'a mut N,
    buf: &'a mut [u8; FRAME_BUF],
}

impl<N: Nic> phy::TxToken for TxToken<'_, N> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        // smoltcp never asks for more than the MTU from `capabilities`, which fits.
        let frame = &mut self.buf[..len.min(FRAME_BUF)];
        let result = f(frame);
        self.nic.send(frame);
        result
    }
}

impl<N: Nic> phy::Device for Frames<N> {
    type RxToken<'a>
        = RxToken<'a>
    where
        N: 'a;
    type TxToken<'a>
        = TxToken<'a, N>
    where
        N: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_, N>)> {
        let len = self.nic.pop_frame(&mut self.rx_buf)?;
        Some((
            RxToken {
                frame: &self.rx_buf[..len],
            },
            TxToken {
                nic: &mut self.nic,
                buf: &mut self.tx_buf,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_, N>> {
        self.nic.prepare_transmit();
        Some(TxToken {
            nic: &mut self.nic,
            buf: &mut self.tx_buf,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = ETH_MTU;
        caps.max_burst_size = Some(N::RX_FIFO_FRAMES);
        caps
    }
}

/// What a driver has seen since bring-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to smoltcp.
    pub rx_frames: u32,
    /// Frames handed to the controller to send.
    pub tx_frames: u32,
    /// Received frames thrown away: error status, runt, or larger than the buffer.
    pub rx_dropped: u32,
    /// Frames not sent (no room in the controller) or reported failed by it.
    pub tx_errors: u32,
}

impl Counters {
    /// Logs `NAME: rx_frames=.. tx_frames=.. rx_dropped=.. tx_errors=..` (`line` is its
    /// start up to `rx_frames=`, [`Nic::COUNTERS_LINE`]) when drops or
    /// errors changed since `reported`, and remembers what it logged. Inlined into the
    /// loop, its one caller, as it was written there before it was shared (84 B of flash).
    #[inline(always)]
    pub(crate) fn report_changes(self, line: &str, reported: &mut Counters, out: &mut Console) {
        if (self.rx_dropped, self.tx_errors) == (reported.rx_dropped, reported.tx_errors) {
            return;
        }
        out.put(line);
        out.decimal(u64::from(self.rx_frames));
        out.put(" tx_frames=");
        out.decimal(u64::from(self.tx_frames));
        out.put(" rx_dropped=");
        out.decimal(u64::from(self.rx_dropped));
        out.put(" tx_errors=");
        out.decimal(u64::from(self.tx_errors));
        out.end_line();
        *reported = self;
    }
}
