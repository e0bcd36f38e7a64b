//! The TLS client's randomness and wall clock on the emulated board, from the host through
//! semihosting.
//!
//! QEMU's AN385 has no TRNG and no RTC. With `-semihosting-config target=native` QEMU
//! carries out semihosting calls on the host, so the board opens the host's `/dev/urandom`
//! (SYS_OPEN, SYS_READ) for a 256-bit seed of a ChaCha20 CSPRNG, and asks SYS_TIME for the
//! host's Unix time to check certificate dates. A real board must seed from its TRNG and
//! take the date from an RTC or SNTP instead: a debugger is not there in the field.

use cortex_m_semihosting::{nr, syscall, syscall1};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The host file the seed comes from, NUL-terminated as SYS_OPEN wants it.
const SOURCE: &[u8] = b"/dev/urandom\0";

/// A CSPRNG seeded with 32 bytes of host entropy; `None` if the host gave none (no
/// semihosting, or the file could not be read in full).
pub fn rng() -> Option<ChaCha20Rng> {
    let mut seed = [0u8; 32];
    // SAFETY: SYS_OPEN reads `SOURCE.len() - 1` bytes of the name, which is a static,
    // NUL-terminated byte string; the mode is "rb".
    let fd =
        unsafe { syscall!(OPEN, SOURCE.as_ptr(), nr::open::R_BINARY, SOURCE.len() - 1) } as isize;
    if fd < 0 {
        return None;
    }
    // SAFETY: SYS_READ writes at most `seed.len()` bytes into `seed`, which is ours and
    // lives across the call; it returns how many bytes it did *not* read.
    let unread = unsafe { syscall!(READ, fd, seed.as_mut_ptr(), seed.len()) };
    // SAFETY: closes the handle SYS_OPEN gave us; no memory is passed.
    unsafe { syscall!(CLOSE, fd) };
    (unread == 0).then(|| ChaCha20Rng::from_seed(seed))
}

/// The host's time in seconds since 1970 (SYS_TIME), for certificate validity dates.
pub fn unix_time() -> Option<u64> {
    // SAFETY: SYS_TIME takes no argument block (r1 must be 0) and touches no memory.
    let now = unsafe { syscall1!(TIME, 0) };
    // 0 would be a host clock at the epoch: no time at all, as far as dates go.
    (now != 0).then_some(now as u64)
}
