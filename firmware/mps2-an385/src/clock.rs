//! A millisecond clock from SysTick, for `smoltcp::time::Instant`.
//!
//! SysTick runs from the core clock, 25 MHz on the MPS2 AN385 (QEMU's `SYSCLK_FRQ` for the
//! mps2 machines), and interrupts once a millisecond. The 1 kHz tick also bounds how long
//! `wfi` can sleep, so a polled loop wakes up in time for smoltcp's timers.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;
use smoltcp::time::Instant;

/// The core clock that feeds SysTick.
pub const CORE_CLOCK_HZ: u32 = 25_000_000;
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
}

impl Clock {
    /// Starts SysTick at 1 kHz from the core clock.
    pub fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CORE_CLOCK_HZ / TICK_HZ - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Clock {
            _syst: syst,
            last: TICKS.load(Ordering::Relaxed),
            wraps: 0,
        }
    }

    /// Milliseconds since `start`. Must be called at least once per 49 days to see a wrap.
    pub fn millis(&mut self) -> u64 {
        let ticks = TICKS.load(Ordering::Relaxed);
        if ticks < self.last {
            self.wraps += 1;
        }
        self.last = ticks;
        (self.wraps << 32) | u64::from(ticks)
    }

    /// The current time for smoltcp.
    pub fn now(&mut self) -> Instant {
        Instant::from_millis(self.millis() as i64)
    }
}
