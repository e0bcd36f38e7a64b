//! What the main loop needs of a board's Ethernet driver besides `smoltcp::phy::Device`.

use tcplink::smoltcp::phy::Device;
use tcplink::text::TextOut;

use crate::console::Console;

/// A board's Ethernet controller, as the shared loop ([`run`](crate::run)) drives it.
///
/// The loop polls the core's `App` over the `Device`, then sleeps in `wfi` with interrupts
/// masked: it calls [`arm_rx_interrupt`](Nic::arm_rx_interrupt), then
/// [`rx_pending`](Nic::rx_pending), then `wfi`, so a frame that lands in between leaves its
/// interrupt pending and `wfi` returns at once. The driver's interrupt handler only has to
/// turn its receive interrupt off (a level-triggered line would otherwise fire until the
/// loop drains the frames).
pub trait Nic: Device {
    /// The start of the counters' log line: the driver's name and the first field,
    /// `"lan9118: rx_frames="` (one string, one write).
    const COUNTERS_LINE: &'static str;

    /// Clears and enables the receive interrupt (the handler disabled it).
    fn arm_rx_interrupt(&mut self);

    /// Whether a received frame waits in the controller.
    fn rx_pending(&self) -> bool;

    /// Counts since bring-up.
    fn counters(&self) -> Counters;
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
