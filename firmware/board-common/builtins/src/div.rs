//! Unsigned 64-bit division, `__udivmoddi4`, which compiler_builtins' `__aeabi_uldivmod`
//! (what LLVM calls for `u64 / u64` and `u64 % u64` on this target) hands its work to.
//!
//! compiler_builtins' own takes 0.9 KB. The board divides 64-bit numbers rarely (smoltcp's
//! `Duration::total_millis` on an acknowledgement, decimal digits in log lines) and mostly
//! numbers that fit 32 bits, which the Cortex-M3's `udiv` does in one instruction; the rest
//! go a bit at a time (64 steps).

/// `n / d` and `n % d`; `d` is not zero (Rust checks before it divides; for C it is
/// undefined): a zero `d` gives `(0, n)`.
///
/// No operation here may panic: this crate stays out of LTO (`no_builtins`), where core's
/// panic functions are not visible to it.
fn div_rem(n: u64, d: u64) -> (u64, u64) {
    if n < d || d == 0 {
        return (0, n);
    }
    if n >> 32 == 0 {
        // Both fit 32 bits (d <= n): one `udiv`.
        let (n, d) = (n as u32, d as u32);
        let q = n.checked_div(d).unwrap_or(0);
        return (u64::from(q), u64::from(n - q * d));
    }
    // Long division, one bit a step: n's bits shift out at the top into r while the
    // quotient's shift in at the bottom. Before each shift r holds at most the 63 bits of n
    // taken so far, so 2r + 1 fits.
    let (mut q, mut r) = (n, 0u64);
    for _ in 0..64 {
        r = (r << 1) | (q >> 63);
        q <<= 1;
        if r >= d {
            r -= d;
            q |= 1;
        }
    }
    (q, r)
}

/// C `__udivmoddi4`: `n / d`, and `n % d` stored in `*rem` unless `rem` is null.
///
/// # Safety
/// `rem` null or valid for a write; `d` not zero.
#[cfg_attr(not(test), no_mangle)]
pub unsafe extern "C" fn __udivmoddi4(n: u64, d: u64, rem: *mut u64) -> u64 {
    let (q, r) = div_rem(n, d);
    if !rem.is_null() {
        // SAFETY: the caller passes a valid pointer or null.
        unsafe { *rem = r };
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edge values and their neighbours: powers of two, 10^k, the 32-bit boundary.
    fn samples() -> Vec<u64> {
        let mut v = vec![0, 1, 2, 3, 7, 9, 10, 11, 999, 1000, 1001];
        for shift in [1, 31, 32, 33, 62, 63] {
            let p = 1u64 << shift;
            v.extend([p - 1, p, p + 1]);
        }
        let mut ten = 1u64;
        while let Some(next) = ten.checked_mul(10) {
            ten = next;
            v.extend([ten - 1, ten, ten + 1]);
        }
        v.extend([
            u64::MAX - 1,
            u64::MAX,
            0x1234_5678_9abc_def0,
            0xfedc_ba98_7654_3210,
        ]);
        v
    }

    #[test]
    fn udivmoddi4_matches_the_division_operators() {
        let samples = samples();
        for &n in &samples {
            for &d in samples.iter().filter(|&&d| d != 0) {
                let mut rem = 0xdead;
                // SAFETY: a valid pointer, d != 0.
                let q = unsafe { __udivmoddi4(n, d, &mut rem) };
                assert_eq!((q, rem), (n / d, n % d), "{n} / {d}");
                // SAFETY: null is allowed.
                assert_eq!(unsafe { __udivmoddi4(n, d, core::ptr::null_mut()) }, n / d);
            }
        }
    }
}
