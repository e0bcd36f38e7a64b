//! The LM3S6965's system control block: the PLL for a 50 MHz core clock, and the Ethernet
//! controller's clock gate.
//!
//! At reset the core runs straight from the oscillator (RCC.BYPASS), and every peripheral's
//! clock is gated off. Register fields and the PLL sequence follow the LM3S6965 datasheet
//! (chapter "System Control": RCC, RIS, RCGC2); the evaluation board has an 8 MHz crystal.
//! QEMU's model derives the core clock from RCC.SYSDIV alone (200 MHz / (SYSDIV + 1)), so
//! the same writes give 50 MHz there too.

/// The system control block.
const SYSCTL_BASE: usize = 0x400F_E000;
/// Raw interrupt status: PLLLRIS says the PLL has locked.
const RIS: usize = 0x050;
const RIS_PLLL: u32 = 1 << 6;
/// Run-mode clock configuration.
const RCC: usize = 0x060;
const RCC_SYSDIV_SHIFT: u32 = 23;
const RCC_SYSDIV: u32 = 0xF << RCC_SYSDIV_SHIFT;
const RCC_USESYSDIV: u32 = 1 << 22;
const RCC_PWRDN: u32 = 1 << 13;
const RCC_BYPASS: u32 = 1 << 11;
const RCC_XTAL_SHIFT: u32 = 6;
const RCC_XTAL: u32 = 0xF << RCC_XTAL_SHIFT;
/// The crystal field's value for 8 MHz.
const XTAL_8MHZ: u32 = 0xE;
/// Oscillator source (main oscillator = 0) and the main oscillator's disable bit.
const RCC_OSCSRC: u32 = 0x3 << 4;
const RCC_MOSCDIS: u32 = 1 << 0;
/// The PLL's 400 MHz halved, then divided by SYSDIV + 1: 4 gives 50 MHz, the chip's most.
const SYSDIV_50MHZ: u32 = 3;
/// Run-mode clock gating control 2: the Ethernet MAC and PHY.
const RCGC2: usize = 0x108;
const RCGC2_EMAC0: u32 = 1 << 28;
const RCGC2_EPHY0: u32 = 1 << 30;

/// Polls of RIS allowed for the PLL to lock (the datasheet gives at most 0.5 ms; QEMU locks
/// at once).
const LOCK_SPINS: u32 = 100_000;

/// The core clock once [`start_pll`] succeeded.
pub const CORE_CLOCK_HZ: u32 = 50_000_000;

fn read(offset: usize) -> u32 {
    // SAFETY: the system control block is MMIO at SYSCTL_BASE on every LM3S6965, `offset`
    // is one of its word-aligned registers above; the read has no side effect.
    unsafe { core::ptr::read_volatile((SYSCTL_BASE + offset) as *const u32) }
}

fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`; these registers are plain 32-bit device memory, written only
    // here, at boot, before anything runs from the clocks they set.
    unsafe { core::ptr::write_volatile((SYSCTL_BASE + offset) as *mut u32, value) }
}

/// Runs the core at 50 MHz from the PLL on the 8 MHz crystal (the datasheet's sequence:
/// bypass the PLL, set the crystal and power it up, set the divider, wait for the lock,
/// then switch over). `false` if the PLL did not lock: the core then stays on the
/// oscillator, and SysTick's milliseconds would be wrong, so the board stops.
pub fn start_pll() -> bool {
    let mut rcc = read(RCC);
    rcc |= RCC_BYPASS;
    rcc &= !RCC_USESYSDIV;
    write(RCC, rcc);
    rcc &= !(RCC_XTAL | RCC_OSCSRC | RCC_MOSCDIS | RCC_PWRDN);
    rcc |= XTAL_8MHZ << RCC_XTAL_SHIFT;
    write(RCC, rcc);
    rcc &= !RCC_SYSDIV;
    rcc |= (SYSDIV_50MHZ << RCC_SYSDIV_SHIFT) | RCC_USESYSDIV;
    write(RCC, rcc);
    if !(0..LOCK_SPINS).any(|_| read(RIS) & RIS_PLLL != 0) {
        return false;
    }
    write(RCC, rcc & !RCC_BYPASS);
    true
}

/// Turns on the Ethernet MAC's and PHY's clocks (off at reset: their registers do not
/// answer until then).
pub fn enable_ethernet() {
    write(RCGC2, read(RCGC2) | RCGC2_EMAC0 | RCGC2_EPHY0);
    // The datasheet asks for three system clocks before the peripheral is touched.
    cortex_m::asm::delay(3);
}
