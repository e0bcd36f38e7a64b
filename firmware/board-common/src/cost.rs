//! What the HTTPS GET costs the board, logged once it ends: the stack's high-water mark and
//! the longest single `App::poll`.
//!
//! * Stack: cortex-m-rt's `paint-stack` fills the stack region (the RAM above the statics,
//!   `_stack_end`..`_stack_start`) with [`STACK_PAINT_VALUE`] at reset; the deepest word that
//!   no longer holds it marks how far the stack ever reached.
//! * Time: SysTick, read to the core-clock cycle (40 ns at 25 MHz). Under QEMU with
//!   `-icount shift=0` virtual time advances 1 ns per guest instruction, so the nanoseconds
//!   are instructions (to within one 40 ns step).

use cortex_m::peripheral::SYST;
use cortex_m_rt::STACK_PAINT_VALUE;

use crate::clock::Clock;
use crate::console::Console;
use tcplink::text::TextOut;

extern "C" {
    /// The top of the stack (the end of RAM), from cortex-m-rt's link.x.
    static _stack_start: u32;
    /// The lowest address the stack may reach: just above the statics.
    static _stack_end: u32;
}

/// The longest `App::poll` so far.
#[derive(Default)]
pub struct PollTimer {
    longest_ns: u64,
}

impl PollTimer {
    /// Runs `poll` and keeps its duration if it is the longest yet.
    pub fn time<T>(&mut self, clock: &mut Clock, poll: impl FnOnce(&mut Clock) -> T) -> T {
        let start = nanos(clock);
        let out = poll(clock);
        self.longest_ns = self.longest_ns.max(nanos(clock) - start);
        out
    }

    /// Logs `board: longest App::poll N ns (= instructions under qemu -icount shift=0)` and
    /// `board: stack high-water mark N of M bytes`.
    pub fn report(&self, out: &mut Console) {
        out.put("board: longest App::poll ");
        out.decimal(self.longest_ns);
        out.put(" ns (= instructions under qemu -icount shift=0)");
        out.end_line();
        let (used, size) = stack_high_water();
        out.put("board: stack high-water mark ");
        out.decimal(used as u64);
        out.put(" of ");
        out.decimal(size as u64);
        out.put(" bytes");
        out.end_line();
    }
}

/// Time since the clock started, to the core-clock cycle.
fn nanos(clock: &mut Clock) -> u64 {
    // Nanoseconds per core-clock cycle, and cycles in one 1 ms SysTick period.
    let ns_per_cycle = 1_000_000_000 / u64::from(clock.core_hz);
    let cycles_per_ms = u64::from(clock.core_hz) / 1_000;
    loop {
        let ms = clock.millis();
        // SysTick counts down from its reload value (cycles_per_ms - 1) once a millisecond.
        let left = u64::from(SYST::get_current());
        // A tick between the two reads would pair a new count with the old milliseconds.
        if clock.millis() == ms {
            let cycles = ms * cycles_per_ms + (cycles_per_ms - 1 - left.min(cycles_per_ms - 1));
            return cycles * ns_per_cycle;
        }
    }
}

/// Bytes of stack ever used, and the stack's size.
fn stack_high_water() -> (usize, usize) {
    let top = (&raw const _stack_start) as usize;
    let bottom = (&raw const _stack_end) as usize;
    let mut at = bottom;
    while at < top {
        // SAFETY: `at` is a word-aligned address in the stack region between the statics
        // and the end of RAM (both from the linker script; `_stack_end` is 4-aligned), so
        // the read is in bounds. The scan goes up from the bottom and stops at the first
        // word that lost the paint, at or below the deepest frame there ever was: the words
        // before it are below the stack pointer and belong to no live object. The read is
        // volatile, of plain `u32` memory, and creates no reference.
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != STACK_PAINT_VALUE {
            break;
        }
        at += 4;
    }
    (top - at, top - bottom)
}
