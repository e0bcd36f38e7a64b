//! tcplink on the TI Stellaris LM3S6965 evaluation board (Cortex-M3 + the chip's own
//! Ethernet controller), as QEMU's `lm3s6965evb` machine emulates it.
//!
//! The board's part only: the 50 MHz PLL clock, the interrupt vectors, and the Ethernet
//! controller brought up and handed to tcplink-board-common's `run`, which builds the core's
//! `App` (greeting server on port 9999; GET, DHCP, IPv6 by feature) and polls it forever,
//! sleeping in `wfi` between frames and timer deadlines. The log goes to the debugger's
//! (QEMU's) stdout through semihosting; the panic and fault handlers are the shared crate's.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod stellaris_enet;
#[allow(unsafe_code)]
mod sysctl;

use cortex_m::peripheral::SYST;
use cortex_m_rt::entry;
use tcplink::text::{Render, TextOut};
use tcplink_board_common::{fail, Clock, Console, Frames, MAC};

use stellaris_enet::StellarisEnet;

// The interrupt lines of QEMU's lm3s6965evb NVIC (64; the Ethernet controller is line 42),
// all to `DefaultHandler` (in stellaris_enet.rs), which serves the Ethernet line.
tcplink_board_common::interrupt_vectors!(64);

#[entry]
fn main() -> ! {
    let mut cp = cortex_m::Peripherals::take().expect("core peripherals are taken once");
    if !sysctl::start_pll() {
        fail(|out| out.put("sysctl: the PLL did not lock"));
    }
    let clock = Clock::start(cp.SYST, sysctl::CORE_CLOCK_HZ);
    let mut console = Console::open();
    console.put("tcplink-lm3s6965evb: booting");
    console.end_line();

    sysctl::enable_ethernet();
    let nic = match StellarisEnet::take(MAC, cfg!(feature = "ipv6")) {
        Ok(nic) => {
            cortex_m::singleton!(: Frames<StellarisEnet> = Frames::new(nic)).expect("taken once")
        }
        Err(e) => fail(|out| {
            out.put("stellaris: ");
            e.render(out);
        }),
    };
    nic.nic.enable_interrupt(&mut cp.NVIC);
    console.mac_line("stellaris: up, MAC ", MAC);
    // Where SysTick's count stands after bring-up differs from boot to boot by timing
    // jitter: it varies smoltcp's sequence numbers (not cryptographic).
    let seed = SYST::get_current();
    tcplink_board_common::run(nic, clock, console, seed)
}
