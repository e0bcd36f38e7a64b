//! A millisecond clock from SysTick, for `smoltcp::time::Instant`.
//!
//! SysTick runs from the core clock, whose rate the board gives (25 MHz on the MPS2 AN385,
//! 50 MHz from the PLL on the LM3S6965), and interrupts once a millisecond. The 1 kHz tick
//! also bounds how long `wfi` can sleep, so a polled loop wakes up in time for smoltcp's
//! timers.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;
use tcplink::smoltcp::time::Instant;

const TICK_HZ: u32 = 1_000;

/// Milliseconds since `Clock::start`, wrapping after 49 days; `Clock::now` widens it.
static TICKS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // Single writer; a plain load/store pair would do, but fetch_add is as cheap on v7-M.
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Owns SysTick and turns its tick count into a monotonic 64-bit `Instant`.
pub struct Clock {
    _syst: SYST,
    last: u32,
    wraps: u64,
    /// The core clock's rate (Hz), for timing to the cycle (`cost.rs`).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) core_hz: u32,
}

impl Clock {
    /// Starts SysTick at 1 kHz from the core clock, which runs at `core_hz`.
    pub fn start(mut syst: SYST, core_hz: u32) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(core_hz / TICK_HZ - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Clock {
            _syst: syst,
            last: TICKS.load(Ordering::Relaxed),
            wraps: 0,
            core_hz,
        }
    }

    /// Milliseconds since `start`. Must be called at least once per 49 days to see a wrap.
    #[inline]
    pub fn millis(&mut self) -> u64 {
        let ticks = TICKS.load(Ordering::Relaxed);
        if ticks < self.last {
            self.wraps += 1;
        }
        self.last = ticks;
        (self.wraps << 32) | u64::from(ticks)
    }

    /// The current time for smoltcp.
    #[inline]
    pub fn now(&mut self) -> Instant {
        Instant::from_millis(self.millis() as i64)
    }
}
