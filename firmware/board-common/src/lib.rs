//! What every tcplink board port shares, so that a board crate holds only its Ethernet
//! driver, its memory map and its wiring (README.md, "Porting to a board"):
//!
//! * [`Clock`]: a 1 kHz SysTick clock for `smoltcp::time::Instant`, from the core clock rate
//!   the board gives;
//! * [`Console`]: the log over semihosting, written without `core::fmt`;
//! * the panic handler, the HardFault handler and [`fail`] (log a line, end the QEMU run);
//! * [`Nic`]: what a driver provides (pop a frame, send one, the wake-up interrupt, pending
//!   frames, counters), and [`Frames`]: the driver with its two frame buffers, as the
//!   `smoltcp::phy::Device` the loop polls;
//! * [`run`]: the static network settings, the storage, and the one function that builds the
//!   core's `App` (greeting server; GET, DHCP, IPv6, HTTPS by feature) and polls it forever,
//!   sleeping in `wfi` between frames and deadlines;
//! * [`interrupt_vectors!`]: the board's interrupt vector table, sized to its NVIC.
//!
//! The features `get`, `dhcp`, `ipv6`, `tls` and `debug` are the boards' own, forwarded.
#![no_std]
#![deny(unsafe_code)]

mod clock;
mod console;
#[cfg(feature = "tls")]
#[allow(unsafe_code)]
mod cost;
#[cfg(feature = "tls")]
#[allow(unsafe_code)]
mod entropy;
#[allow(unsafe_code)]
mod fault;
mod nic;
mod run;
mod vectors;

pub use clock::Clock;
pub use console::Console;
pub use fault::{fail, unexpected_interrupt};
pub use nic::{Counters, Frames, Nic, FRAME_BUF};
pub use run::{run, MAC};

// Linked for its symbols alone (memcpy & co., 64-bit division).
use tcplink_board_builtins as _;
