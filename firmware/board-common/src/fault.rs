//! How a board stops: a log line, then the end of the QEMU run with a failure status. The
//! panic handler, the HardFault handler, and the report of an interrupt no driver serves.

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::debug;
use tcplink::text::TextOut;

use crate::console::Console;

/// Logs why the board cannot go on (`why` writes the line) and ends the QEMU run with a
/// failure status.
pub fn fail(why: impl FnOnce(&mut Console)) -> ! {
    let mut console = Console::open();
    why(&mut console);
    console.end_line();
    stop()
}

/// Ends the QEMU run with a failure status.
fn stop() -> ! {
    debug::exit(debug::EXIT_FAILURE);
    // Only reached on hardware without a debugger attached.
    loop {
        cortex_m::asm::wfi();
    }
}

/// For the board's `DefaultHandler`: an exception or interrupt line no driver serves is a
/// bug, so log its number and end the QEMU run.
pub fn unexpected_interrupt(irqn: i16) {
    let mut console = Console::open();
    console.put("unexpected exception or interrupt ");
    if irqn < 0 {
        console.put("-");
    }
    console.decimal(u64::from(irqn.unsigned_abs()));
    console.end_line();
    debug::exit(debug::EXIT_FAILURE);
}

/// Release builds: no message, so no panic message, file path or `core::fmt` is linked
/// (7.7 KB of flash on the AN385 board).
#[cfg(not(feature = "debug"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    fail(|out| out.put("panic (build with --features debug for the message)"))
}

/// `--features debug`: the full message and location, through `core::fmt`.
#[cfg(feature = "debug")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write as _;
    if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
        // Nowhere to report a failed log write.
        let _ = writeln!(out, "panic: {info}");
    }
    stop()
}

/// A fault is a bug: say where it happened instead of spinning silently.
// SAFETY: cortex-m-rt requires `unsafe fn` for this handler; it only reads the frame it is
// given and stops the program.
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    fail(|out| {
        out.put("hard fault at pc=0x");
        out.hex(u64::from(frame.pc()), 8);
    })
}
