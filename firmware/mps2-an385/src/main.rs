//! tcplink on the Arm MPS2 AN385 board (Cortex-M3 + LAN9118), as QEMU emulates it.
//!
//! The board's part only: the 25 MHz core clock, the 32 interrupt vectors, and the LAN9118
//! brought up and handed to tcplink-board-common's `run`, which builds the core's `App`
//! (greeting server on port 9999; GET, DHCP, IPv6, HTTPS by feature) and polls it forever,
//! sleeping in `wfi` between frames and timer deadlines. The log goes to the debugger's
//! (QEMU's) stdout through semihosting; the panic and fault handlers are the shared crate's.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod lan9118;

use cortex_m_rt::entry;
use tcplink::text::{Render, TextOut};
use tcplink_board_common::{fail, Clock, Console, Frames};

use lan9118::Lan9118;

/// The core clock that feeds SysTick: 25 MHz on the MPS2 AN385 (QEMU's `SYSCLK_FRQ` for the
/// mps2 machines).
const CORE_CLOCK_HZ: u32 = 25_000_000;

// External interrupts of the MPS2 AN385 (QEMU's mps2-an385 wires 32 to the NVIC), all to
// `DefaultHandler` (in lan9118.rs), which serves the LAN9118 line.
tcplink_board_common::interrupt_vectors!(32);

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("core peripherals are taken once");
    let clock = Clock::start(cp.SYST, CORE_CLOCK_HZ);
    let mut console = Console::open();
    console.put("tcplink-mps2-an385: booting");
    console.end_line();

    let nic = match Lan9118::take(tcplink_board_common::MAC) {
        Ok(nic) => cortex_m::singleton!(: Frames<Lan9118> = Frames::new(nic)).expect("taken once"),
        Err(e) => fail(|out| {
            out.put("lan9118: ");
            e.render(out);
        }),
    };
    nic.nic.enable_interrupt(&mut cp.NVIC);
    #[cfg(feature = "ipv6")]
    if let Err(e) = nic.nic.accept_multicast() {
        fail(|out| {
            out.put("lan9118: ");
            e.render(out);
        });
    }
    console.mac_line("lan9118: up, MAC ", tcplink_board_common::MAC);
    let seed = nic.nic.free_running_counter();
    tcplink_board_common::run(nic, clock, console, seed)
}
