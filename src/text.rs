//! Log lines without `core::fmt`: each event renders itself as text through [`Render`].
//!
//! `core::fmt` costs a board kilobytes of flash (the formatting machinery, every `Display`
//! impl it reaches). The events' lines only need strings, decimal integers and IP
//! endpoints, so [`TextOut`] writes those itself. The events' `Display` impls go through
//! the same [`Render`] code ([`display`]), so a board's log and the TAP's are byte-identical.

use core::fmt;

#[cfg(feature = "ipv6")]
use smoltcp::wire::Ipv6Address;
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

/// Where rendered text goes: a UART, semihosting, a line buffer, a `fmt::Formatter`.
pub trait TextOut {
    /// Appends `text`.
    fn put(&mut self, text: &str);

    /// Appends `n` in decimal. The digits come from `Decimal`, which every implementor
    /// shares: this default method is copied into each one, so it only puts them.
    fn decimal(&mut self, n: u64) {
        let decimal = Decimal::of(n);
        for &digit in decimal.digits() {
            let digit = usize::from(digit);
            // `get`, not indexing: the slicing panic path (its message formatting) would be
            // linked for digits that are always in range.
            self.put(DIGITS.get(digit..digit + 1).unwrap_or("?"));
        }
    }

    /// Appends the low `width` hex digits of `n` (lower case, zero-padded; at most 16).
    fn hex(&mut self, n: u64, width: usize) {
        for i in (0..width.min(16)).rev() {
            let digit = ((n >> (4 * i)) & 0xf) as usize;
            self.put(DIGITS.get(digit..digit + 1).unwrap_or("?"));
        }
    }

    /// Appends a dotted IPv4 address, as `Ipv4Addr`'s `Display`.
    fn ipv4(&mut self, addr: Ipv4Address) {
        for (i, octet) in addr.octets().into_iter().enumerate() {
            if i > 0 {
                self.put(".");
            }
            self.decimal(u64::from(octet));
        }
    }

    /// Appends `address/prefix`, as `Ipv4Cidr`'s `Display`.
    fn ipv4_cidr(&mut self, cidr: Ipv4Cidr) {
        self.ipv4(cidr.address());
        self.put("/");
        self.decimal(u64::from(cidr.prefix_len()));
    }

    /// Appends an IPv6 address as `Ipv6Addr`'s `Display` (RFC 5952: lower-case hex, the
    /// longest run of two or more zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d`).
    #[cfg(feature = "ipv6")]
    fn ipv6(&mut self, addr: Ipv6Address) {
        if let Some(v4) = addr.to_ipv4_mapped() {
            self.put("::ffff:");
            self.ipv4(v4);
            return;
        }
        let groups = addr.segments();
        // The longest run of zero groups (the first of equal ones).
        let (mut best, mut best_len, mut run) = (0, 0, 0);
        for (i, &group) in groups.iter().enumerate() {
            run = if group == 0 { run + 1 } else { 0 };
            if run > best_len {
                (best, best_len) = (i + 1 - run, run);
            }
        }
        if best_len > 1 {
            hex_groups(self, &groups[..best]);
            self.put("::");
            hex_groups(self, &groups[best + best_len..]);
        } else {
            hex_groups(self, &groups);
        }
    }

    /// Appends an address of either family, as `IpAddress`'s `Display`.
    fn ip(&mut self, addr: IpAddress) {
        match addr {
            IpAddress::Ipv4(addr) => self.ipv4(addr),
            #[cfg(feature = "ipv6")]
            IpAddress::Ipv6(addr) => self.ipv6(addr),
        }
    }

    /// Appends `address:port`, or `[address]:port` for IPv6, as `core::net::SocketAddr`'s
    /// `Display` (the seed's format for IPv4).
    fn endpoint(&mut self, endpoint: IpEndpoint) {
        match endpoint.addr {
            IpAddress::Ipv4(addr) => self.ipv4(addr),
            #[cfg(feature = "ipv6")]
            IpAddress::Ipv6(addr) => {
                self.put("[");
                self.ipv6(addr);
                self.put("]");
            }
        }
        self.put(":");
        self.decimal(u64::from(endpoint.port));
    }
}

/// Appends 16-bit groups in hex without leading zeros, `:` between them.
#[cfg(feature = "ipv6")]
fn hex_groups(out: &mut (impl TextOut + ?Sized), groups: &[u16]) {
    for (i, &group) in groups.iter().enumerate() {
        if i > 0 {
            out.put(":");
        }
        let width = (1..4)
            .rev()
            .find(|w| group >> (4 * w) != 0)
            .map_or(1, |w| w + 1);
        out.hex(u64::from(group), width);
    }
}

/// Something that has a log line.
pub trait Render {
    /// Writes the line (without a line break) to `out`.
    fn render(&self, out: &mut dyn TextOut);
}

/// Writes `bytes` as text, each invalid UTF-8 sequence as U+FFFD (as
/// `String::from_utf8_lossy`). Through `from_utf8`, which a board links anyway, rather than
/// `utf8_chunks`, whose iterator a board would link only for this.
pub fn put_lossy(out: &mut dyn TextOut, mut bytes: &[u8]) {
    loop {
        match core::str::from_utf8(bytes) {
            Ok(text) => return out.put(text),
            Err(error) => {
                let (valid, rest) = bytes.split_at(error.valid_up_to());
                // Valid by the error's own measure; never the empty fallback.
                out.put(core::str::from_utf8(valid).unwrap_or_default());
                out.put("\u{FFFD}");
                // No length: the input ends inside a sequence, which is all of `rest`.
                bytes = &rest[error.error_len().unwrap_or(rest.len())..];
            }
        }
    }
}

/// `Display` through [`Render`], so both give the same bytes.
pub fn display(item: &(impl Render + ?Sized), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut out = FormatterOut { f, result: Ok(()) };
    item.render(&mut out);
    out.result
}

/// A `fmt::Formatter` as a [`TextOut`], keeping the first error.
struct FormatterOut<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    result: fmt::Result,
}

impl TextOut for FormatterOut<'_, '_> {
    fn put(&mut self, text: &str) {
        if self.result.is_ok() {
            self.result = self.f.write_str(text);
        }
    }
}

/// Digits as text, sliced one at a time.
const DIGITS: &str = "0123456789abcdef";

/// The decimal digit values of a number, most significant first.
struct Decimal {
    /// `u64::MAX` has 20 digits.
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    /// Not generic, so one copy serves every [`TextOut`]. It divides: a Cortex-M has no
    /// 64-bit divide, but smoltcp links the library routine anyway (its RTT estimate turns
    /// microseconds into milliseconds).
    fn of(n: u64) -> Self {
        let mut digits = [0; 20];
        let mut start = digits.len();
        let mut rest = n;
        loop {
            start -= 1;
            digits[start] = (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        Self { digits, start }
    }

    fn digits(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects text, as a board's line buffer would.
    struct Collect(heapless::String<128>);

    impl TextOut for Collect {
        fn put(&mut self, text: &str) {
            self.0.push_str(text).expect("test lines fit");
        }
    }

    fn text(write: impl FnOnce(&mut Collect)) -> heapless::String<128> {
        let mut out = Collect(heapless::String::new());
        write(&mut out);
        out.0
    }

    #[test]
    fn integers_match_core_fmt() {
        for n in [0, 7, 10, 99, 100, 65535, 4_294_967_296, u64::MAX] {
            let mut want = heapless::String::<32>::new();
            fmt::write(&mut want, format_args!("{n}")).unwrap();
            assert_eq!(text(|o| o.decimal(n)), want.as_str());
            want.clear();
            fmt::write(&mut want, format_args!("{n:016x}")).unwrap();
            assert_eq!(text(|o| o.hex(n, 16)), want.as_str());
        }
        assert_eq!(text(|o| o.hex(0xabc, 2)), "bc");
    }

    #[test]
    fn lossy_text_matches_utf8_chunks() {
        let cases: [&[u8]; 12] = [
            b"",
            b"HTTP/1.1 200 OK\r\n",
            "caf\u{e9} \u{1F600}".as_bytes(),
            b"a\xffb",
            b"\xff\xfe",
            b"ab\xe2\x82",            // cut inside a sequence at the end
            b"\xe2\x82x\xe2\x82\xac", // cut inside one, then a whole one
            b"\xc0\x80",              // overlong
            b"\xed\xa0\x80z",         // surrogate
            b"\xf4\x90\x80\x80",      // beyond U+10FFFF
            b"\xf0\x9f\x98",          // a 4-byte sequence cut short
            b"x\x80\x80\x80y",        // stray continuation bytes
        ];
        for bytes in cases {
            let mut want = heapless::String::<128>::new();
            for chunk in bytes.utf8_chunks() {
                want.push_str(chunk.valid()).unwrap();
                if !chunk.invalid().is_empty() {
                    want.push('\u{FFFD}').unwrap();
                }
            }
            assert_eq!(text(|o| put_lossy(o, bytes)), want.as_str(), "{bytes:x?}");
        }
    }

    #[test]
    fn addresses_match_core_fmt() {
        let cases = [
            ([0, 0, 0, 0], 0),
            ([192, 168, 69, 1], 50136),
            ([10, 0, 0, 2], 9999),
            ([255, 255, 255, 255], 65535),
        ];
        for (octets, port) in cases {
            let addr = Ipv4Address::from(octets);
            let endpoint = IpEndpoint::new(IpAddress::Ipv4(addr), port);
            let mut want = heapless::String::<32>::new();
            fmt::write(&mut want, format_args!("{endpoint}")).unwrap();
            assert_eq!(text(|o| o.endpoint(endpoint)), want.as_str());
            let cidr = Ipv4Cidr::new(addr, 24);
            want.clear();
            fmt::write(&mut want, format_args!("{cidr}")).unwrap();
            assert_eq!(text(|o| o.ipv4_cidr(cidr)), want.as_str());
        }
    }

    #[cfg(feature = "ipv6")]
    #[test]
    fn ipv6_endpoints_match_core_fmt() {
        use core::net::{SocketAddr, SocketAddrV6};
        let mut cases = heapless::Vec::<[u16; 8], 600>::new();
        for fixed in [
            [0; 8],
            [0, 0, 0, 0, 0, 0, 0, 1],
            [0xfd00, 0, 0, 0, 0, 0, 0, 1],
            [0xfe80, 0, 0, 0, 0x2ff, 0xfe00, 0, 2],
            [1, 0, 0, 1, 0, 0, 0, 1],
            [1, 0, 1, 0, 1, 0, 1, 0],
            [0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x4501],
            [0, 0, 0, 0, 0, 0, 0xc0a8, 0x4501],
            [0xffff; 8],
            [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1],
            [0, 1, 0, 0, 0, 0, 0, 0],
        ] {
            cases.push(fixed).unwrap();
        }
        // Pseudo-random groups, many of them zero, so every run shape comes up.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        while !cases.is_full() {
            let mut groups = [0u16; 8];
            for group in &mut groups {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *group = match state % 4 {
                    0 | 1 => 0,
                    2 => (state >> 20) as u16 & 0xf,
                    _ => (state >> 32) as u16,
                };
            }
            cases.push(groups).unwrap();
        }
        for groups in cases {
            let addr = Ipv6Address::from(groups);
            let endpoint = IpEndpoint::new(IpAddress::Ipv6(addr), 50136);
            let mut want = heapless::String::<64>::new();
            let socket = SocketAddr::V6(SocketAddrV6::new(addr, 50136, 0, 0));
            fmt::write(&mut want, format_args!("{socket}")).unwrap();
            assert_eq!(text(|o| o.endpoint(endpoint)), want.as_str(), "{groups:x?}");
            want.clear();
            fmt::write(&mut want, format_args!("{addr}")).unwrap();
            assert_eq!(text(|o| o.ip(addr.into())), want.as_str());
        }
    }
}
