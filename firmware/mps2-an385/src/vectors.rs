//! The interrupt part of the vector table, sized to the AN385's 32 external interrupts.
//!
//! Without a device crate, cortex-m-rt reserves the ARMv7-M maximum of 240 interrupt vectors:
//! 832 B of flash for lines this board does not have. Its `device` feature lets the firmware
//! give the table itself, as a PAC would. Every line goes to `DefaultHandler` (in lan9118.rs),
//! which serves the LAN9118 interrupt and reports any other.

/// External interrupts of the MPS2 AN385 (QEMU's mps2-an385 wires 32 to the NVIC).
const AN385_INTERRUPTS: usize = 32;

extern "C" {
    /// cortex-m-rt's name for the handler that `#[exception] DefaultHandler` defines.
    fn DefaultHandler();
}

// SAFETY: cortex-m-rt's `device` feature requires this unmangled static in this section: its
// linker script places it right after the 16 core exception vectors, where the NVIC reads
// the handler of external interrupt n at index n. Each entry is a valid handler address.
#[allow(unsafe_code)]
#[link_section = ".vector_table.interrupts"]
#[no_mangle]
static __INTERRUPTS: [unsafe extern "C" fn(); AN385_INTERRUPTS] =
    [DefaultHandler; AN385_INTERRUPTS];
