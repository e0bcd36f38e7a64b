//! The interrupt part of the vector table, sized to the board's NVIC.
//!
//! Without a device crate, cortex-m-rt reserves the ARMv7-M maximum of 240 interrupt vectors:
//! 832 B of flash for lines a board does not have. Its `device` feature lets the firmware
//! give the table itself, as a PAC would; this macro writes it, every line to
//! `DefaultHandler` (which the board's driver defines: it serves the controller's line and
//! reports any other through [`unexpected_interrupt`](crate::unexpected_interrupt)).

/// `interrupt_vectors!(N)` in the board crate (built with cortex-m-rt's `device` feature):
/// the vector table's `N` external interrupts, all to `DefaultHandler`.
#[macro_export]
macro_rules! interrupt_vectors {
    ($count:expr) => {
        extern "C" {
            /// cortex-m-rt's name for the handler that `#[exception] DefaultHandler`
            /// defines.
            fn DefaultHandler();
        }

        // SAFETY: cortex-m-rt's `device` feature requires this unmangled static in this
        // section: its linker script places it right after the 16 core exception vectors,
        // where the NVIC reads the handler of external interrupt n at index n. Each entry is
        // a valid handler address.
        #[allow(unsafe_code)]
        #[link_section = ".vector_table.interrupts"]
        #[no_mangle]
        static __INTERRUPTS: [unsafe extern "C" fn(); $count] = [DefaultHandler; $count];
    };
}
