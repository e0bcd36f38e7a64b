//! `http://` and `https://host[:port]/path?query` URLs, parsed in place (no allocation). The
//! host is a name, a dotted IPv4 address or (with the `ipv6` feature) a bracketed IPv6
//! literal, `http://[fd00::1]:8080/x`.

use core::fmt;

use smoltcp::wire::IpAddress;

use crate::text::{self, Render, TextOut};

/// Why a URL was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum UrlError {
    /// `https://`, but this client has no TLS layer (built without `tls`, or none given).
    TlsUnsupported,
    /// A scheme other than `http://` or `https://`.
    UnsupportedScheme,
    /// No host, a bad port, or characters that cannot be sent in a request line.
    Malformed,
    /// Longer than the URL limit.
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// An IPv6 literal host (`http://[::1]/`) in a build without the `ipv6` feature.
    Ipv6Unsupported,
}

impl Render for UrlError {
    fn render(&self, out: &mut dyn TextOut) {
        let text = match self {
            Self::TlsUnsupported => "https:// is not supported (no TLS on this device)",
            Self::UnsupportedScheme => "only http:// URLs are supported",
            Self::Malformed => "malformed URL (expected http://host[:port]/path)",
            Self::TooLong { limit } => {
                out.put("URL longer than ");
                out.decimal(*limit as u64);
                " bytes"
            }
            Self::Ipv6Unsupported => "IPv6 addresses in URLs need the `ipv6` feature",
        };
        out.put(text);
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// A parsed `http://` or `https://` URL borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// `https://`: the connection runs TLS.
    pub tls: bool,
    /// Host name, dotted IPv4 address, or bracketed IPv6 address (`[fd00::1]`), as the
    /// `Host` header carries it.
    pub host: &'a str,
    /// TCP port (80, or 443 for `https://`, unless given).
    pub port: u16,
    /// Path and query as written (`/` when empty; starts with `/` or `?`); no fragment.
    pub path: &'a str,
}

/// The request target of a [`Url`] (its path, with the `/` that `http://h?q` leaves out).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a>(&'a str);

impl Render for Target<'_> {
    fn render(&self, out: &mut dyn TextOut) {
        if self.0.starts_with('?') {
            out.put("/");
        }
        out.put(self.0);
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

impl<'a> Url<'a> {
    /// Parses `text`. The scheme (`http://` or `https://`) is case-insensitive.
    pub fn parse(text: &'a str) -> Result<Self, UrlError> {
        Ok(Spans::parse(text)?.url(text))
    }
}

/// Where a URL's parts lie in its text (byte ranges), so a stored URL is parsed once and its
/// parts taken again without parsing (see [`StoredUrl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Spans {
    tls: bool,
    port: u16,
    host: (usize, usize),
    /// Empty when the URL has no path (then it is `/`).
    path: (usize, usize),
}

impl Spans {
    const NONE: Self = Self {
        tls: false,
        port: 0,
        host: (0, 0),
        path: (0, 0),
    };

    /// The parts of `text` (the text these spans were made from).
    fn url<'a>(&self, text: &'a str) -> Url<'a> {
        let path = part(text, self.path);
        Url {
            tls: self.tls,
            host: part(text, self.host),
            port: self.port,
            path: if path.is_empty() { "/" } else { path },
        }
    }

    fn parse(text: &str) -> Result<Self, UrlError> {
        let (tls, rest) = match strip_prefix_ignore_case(text, "http://") {
            Some(rest) => (false, rest),
            None => (
                true,
                strip_prefix_ignore_case(text, "https://").ok_or(UrlError::UnsupportedScheme)?,
            ),
        };
        let (rest, _fragment) = split(rest, find_byte(rest, b'#'));
        let (authority, path) = split(rest, rest.bytes().position(|b| b == b'/' || b == b'?'));
        if find_byte(authority, b'@').is_some() {
            return Err(UrlError::Malformed);
        }
        let (host, port) = if authority.starts_with('[') {
            // `[literal]` or `[literal]:port`; the literal must be an IPv6 address (no zone).
            let end = find_byte(authority, b']').ok_or(UrlError::Malformed)?;
            let (host, rest) = split(authority, Some(end + 1));
            let port = match rest {
                "" => Url::default_port(tls),
                rest => parse_port(rest.strip_prefix(':').ok_or(UrlError::Malformed)?)?,
            };
            (host, port)
        } else {
            match split(authority, rfind_byte(authority, b':')) {
                (host, "") => (host, Url::default_port(tls)),
                (host, port) => (host, parse_port(port.strip_prefix(':').unwrap_or(port))?),
            }
        };
        let host_ok = if let Some(literal) = host.strip_prefix('[') {
            let literal = literal.strip_suffix(']').unwrap_or_default();
            #[cfg(feature = "ipv6")]
            if literal.parse::<core::net::Ipv6Addr>().is_err() {
                return Err(UrlError::Malformed);
            }
            // Without IPv6 the literal is only looked at, not parsed: core's IPv6 parser
            // would cost a board's flash only to tell two errors apart.
            #[cfg(not(feature = "ipv6"))]
            return Err(if looks_like_ipv6(literal) {
                UrlError::Ipv6Unsupported
            } else {
                UrlError::Malformed
            });
            #[cfg(feature = "ipv6")]
            true
        } else {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        };
        // Request lines and headers must not carry controls or spaces.
        let path_ok = path.bytes().all(|b| b.is_ascii_graphic());
        if !host_ok || !path_ok {
            return Err(UrlError::Malformed);
        }
        // Every part that is not empty is a slice of `text`: its place is its distance from
        // the start. (An empty path may be a literal `""`; it needs no place.)
        let span = |part: &str| {
            if part.is_empty() {
                return (0, 0);
            }
            let start = part.as_ptr() as usize - text.as_ptr() as usize;
            (start, start + part.len())
        };
        Ok(Self {
            tls,
            port,
            host: span(host),
            path: span(path),
        })
    }
}

/// The part of `text` at `span` (empty if it is not one: spans come from `text` itself).
/// Not inlined: one copy of the bounds checks serves every part.
#[inline(never)]
fn part(text: &str, (start, end): (usize, usize)) -> &str {
    text.get(start..end).unwrap_or_default()
}

/// A URL in a fixed buffer of `N` bytes, parsed once when stored: a client keeps the URL it
/// fetches (and each redirect's) and takes host, port and path from it at every step.
pub(crate) struct StoredUrl<const N: usize> {
    text: heapless::String<N>,
    spans: Spans,
}

impl<const N: usize> StoredUrl<N> {
    /// No URL (its parts are empty).
    pub(crate) const fn new() -> Self {
        Self {
            text: heapless::String::new(),
            spans: Spans::NONE,
        }
    }

    /// Parses `text` and keeps it if it is a valid URL of at most `N` bytes.
    pub(crate) fn set(&mut self, text: &str) -> Result<(), UrlError> {
        let spans = Spans::parse(text)?;
        self.text.clear();
        self.text
            .push_str(text)
            .map_err(|_| UrlError::TooLong { limit: N })?;
        self.spans = spans;
        Ok(())
    }

    /// The URL's parts.
    pub(crate) fn url(&self) -> Url<'_> {
        self.spans.url(&self.text)
    }
}

impl<'a> Url<'a> {
    /// 443 for `https://`, 80 for `http://`.
    pub const fn default_port(tls: bool) -> u16 {
        if tls {
            443
        } else {
            80
        }
    }

    /// `https://` or `http://`.
    pub const fn scheme(&self) -> &'static str {
        if self.tls {
            "https://"
        } else {
            "http://"
        }
    }

    /// Whether the port is the scheme's default (then `Host` and the URL leave it out).
    pub const fn has_default_port(&self) -> bool {
        self.port == Self::default_port(self.tls)
    }

    /// What goes in the request line: the path, always starting with `/`.
    pub fn target(&self) -> Target<'a> {
        Target(self.path)
    }

    /// The literal address in the host part, if it is one (then no DNS is needed).
    pub fn ip(&self) -> Option<IpAddress> {
        if let Some(literal) = self.host.strip_prefix('[') {
            #[cfg(feature = "ipv6")]
            return literal
                .trim_end_matches(']')
                .parse()
                .ok()
                .map(IpAddress::Ipv6);
            #[cfg(not(feature = "ipv6"))]
            return {
                let _ = literal;
                None
            };
        }
        parse_ipv4(self.host).map(IpAddress::Ipv4)
    }
}

impl Render for Url<'_> {
    fn render(&self, out: &mut dyn TextOut) {
        out.put(self.scheme());
        out.put(self.host);
        if !self.has_default_port() {
            out.put(":");
            out.decimal(u64::from(self.port));
        }
        self.target().render(out);
    }
}

impl fmt::Display for Url<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// Digits only (no sign, unlike `u16::from_str`), 1 to 65535.
fn parse_port(text: &str) -> Result<u16, UrlError> {
    // Empty text folds to 0, which is refused too.
    let port = text.bytes().try_fold(0u16, |n, b| {
        let digit = u16::from(b.wrapping_sub(b'0'));
        if digit < 10 {
            n.checked_mul(10)?.checked_add(digit)
        } else {
            None
        }
    });
    match port {
        Some(0) | None => Err(UrlError::Malformed),
        Some(port) => Ok(port),
    }
}

/// A dotted-quad IPv4 address as core's `Ipv4Addr::from_str` reads it: four decimal numbers
/// of 0 to 255, without signs or leading zeros. Written out because core's parser, generic
/// over radix and width, is large in a board's flash.
fn parse_ipv4(text: &str) -> Option<smoltcp::wire::Ipv4Address> {
    let mut octets = [0u8; 4];
    let (mut count, mut value, mut digits) = (0, 0u16, 0);
    // A `.` after the last part ends it like the others.
    for &b in text.as_bytes().iter().chain(b".") {
        if b == b'.' {
            if digits == 0 || count == octets.len() {
                return None;
            }
            octets[count] = u8::try_from(value).ok()?;
            (count, value, digits) = (count + 1, 0, 0);
        } else if b.is_ascii_digit() && digits < 3 && !(digits == 1 && value == 0) {
            (value, digits) = (value * 10 + u16::from(b - b'0'), digits + 1);
        } else {
            return None;
        }
    }
    (count == octets.len()).then(|| octets.into())
}

/// Whether the text between brackets has the shape of an IPv6 address (hex digits, at least
/// two colons, perhaps a dotted IPv4 tail), for a build that cannot use one anyway.
#[cfg(any(test, not(feature = "ipv6")))]
fn looks_like_ipv6(literal: &str) -> bool {
    literal.bytes().filter(|&b| b == b':').count() >= 2
        && literal
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let (head, rest) = text.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

/// `text` split at `at` (all of it before, when `None`). Every position here comes from
/// `find_byte` or `rfind_byte`, so it lies on a character boundary: checked splitting
/// gives the same result without linking core's string-slicing panic path.
fn split(text: &str, at: Option<usize>) -> (&str, &str) {
    at.and_then(|at| text.split_at_checked(at))
        .unwrap_or((text, ""))
}

/// Where `byte` (ASCII) first occurs in `text`. A plain loop: `str::find` with a `char`
/// links core's memchr and memrchr, too much of a board's flash for URLs of a few dozen
/// bytes.
fn find_byte(text: &str, byte: u8) -> Option<usize> {
    text.bytes().position(|b| b == byte)
}

/// Where `byte` (ASCII) last occurs in `text`.
fn rfind_byte(text: &str, byte: u8) -> Option<usize> {
    text.bytes().rposition(|b| b == byte)
}

/// Writes into `out` the absolute URL that `location` (from a redirect) names, relative to
/// `base`. Handles absolute URLs, `//host/path`, `/path` and `path` forms.
pub fn resolve<const CAP: usize>(
    base: &Url<'_>,
    location: &str,
    out: &mut heapless::String<CAP>,
) -> Result<(), UrlError> {
    out.clear();
    let mut text = Bounded {
        out,
        complete: true,
    };
    // HTTP's whitespace is ASCII (RFC 9110 OWS); byte-wise tests keep core's Unicode
    // whitespace table and substring searcher out of a board's flash.
    let location = location.trim_ascii();
    if location.as_bytes().windows(3).any(|w| w == b"://") {
        text.put(location);
    } else if let Some(rest) = location.strip_prefix("//") {
        text.put(base.scheme());
        text.put(rest);
    } else {
        Url { path: "", ..*base }.render(&mut text);
        if !location.starts_with('/') {
            // Relative to the directory of the base path (query dropped).
            let (path, _query) = split(base.path, find_byte(base.path, b'?'));
            text.put(split(path, Some(rfind_byte(path, b'/').map_or(0, |i| i + 1))).0);
        }
        text.put(location);
    }
    if !text.complete {
        return Err(UrlError::TooLong { limit: CAP });
    }
    Spans::parse(out).map(|_| ())
}

/// A fixed string as a [`TextOut`] that remembers whether everything fit.
struct Bounded<'a, const CAP: usize> {
    out: &'a mut heapless::String<CAP>,
    complete: bool,
}

impl<const CAP: usize> TextOut for Bounded<'_, CAP> {
    // Not inlined: a URL is written in several pieces, and each copy of the bounded append
    // would cost a board's flash.
    #[inline(never)]
    fn put(&mut self, text: &str) {
        self.complete = self.complete && self.out.push_str(text).is_ok();
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn parses_the_parts() {
        let url = Url::parse("http://www.sina.com.cn").unwrap();
        assert_eq!((url.host, url.port, url.path), ("www.sina.com.cn", 80, "/"));
        let url = Url::parse("HTTP://10.0.0.1:8080/a/b?x=1#frag").unwrap();
        assert_eq!(
            (url.host, url.port, url.path),
            ("10.0.0.1", 8080, "/a/b?x=1")
        );
        assert_eq!(url.ip(), Some(IpAddress::v4(10, 0, 0, 1)));
        let url = Url::parse("http://h?q").unwrap();
        assert_eq!((url.path, url.target().to_string().as_str()), ("?q", "/?q"));
    }

    #[test]
    fn a_stored_url_gives_the_parts_it_was_parsed_into() {
        for text in [
            "http://www.sina.com.cn",
            "HTTPS://10.0.0.1:8443/a/b?x=1#frag",
            "http://h?q",
            "http://[fd00::1]:8080/x",
        ] {
            let mut stored = StoredUrl::<64>::new();
            stored.set(text).unwrap();
            assert_eq!(stored.url(), Url::parse(text).unwrap(), "{text}");
            assert_eq!(stored.text, text);
        }
        let mut stored = StoredUrl::<16>::new();
        assert_eq!(stored.url().host, "");
        assert_eq!(stored.set("http://a b/"), Err(UrlError::Malformed));
        let long = "http://example.com/";
        assert_eq!(stored.set(long), Err(UrlError::TooLong { limit: 16 }));
    }

    #[test]
    fn rejects_what_cannot_be_fetched() {
        let url = Url::parse("HTTPS://x/").unwrap();
        assert_eq!(
            (url.tls, url.port, url.to_string().as_str()),
            (true, 443, "https://x/")
        );
        let url = Url::parse("https://x:8443").unwrap();
        assert_eq!(
            (url.port, url.to_string().as_str()),
            (8443, "https://x:8443/")
        );
        assert_eq!(Url::parse("ftp://x/"), Err(UrlError::UnsupportedScheme));
        for bad in [
            "http://[fe80::1%25eth0]:8080/x",
            "http://[fd00::1/",
            "http://[fd00::1]x/",
            "http://[10.0.0.1]/",
            "http://[]/",
            "http://",
            "http://:80/",
            "http://h:0/",
            "http://h:99999/",
            "http://h/a b",
            "http://u@h/",
        ] {
            assert_eq!(Url::parse(bad), Err(UrlError::Malformed), "{bad}");
        }
    }

    #[cfg(feature = "ipv6")]
    #[test]
    fn parses_ipv6_literals() {
        let url = Url::parse("http://[fd00::1]:8080/x").unwrap();
        assert_eq!((url.host, url.port, url.path), ("[fd00::1]", 8080, "/x"));
        assert_eq!(url.ip(), Some(IpAddress::v6(0xfd00, 0, 0, 0, 0, 0, 0, 1)));
        assert_eq!(url.to_string(), "http://[fd00::1]:8080/x");
        let url = Url::parse("http://[::1]").unwrap();
        assert_eq!((url.host, url.port, url.path), ("[::1]", 80, "/"));
        assert_eq!(url.ip(), Some(IpAddress::v6(0, 0, 0, 0, 0, 0, 0, 1)));
        assert_eq!(Url::parse("http://name:81/").unwrap().ip(), None);
    }

    /// What a build without `ipv6` tells apart without parsing: an address it cannot use
    /// (`Ipv6Unsupported`) from text that is none (`Malformed`). Tested directly: the
    /// workspace's test kit turns `ipv6` on for every test build of the core.
    #[test]
    fn bracketed_hosts_are_told_apart_without_parsing() {
        for literal in [
            "::1",
            "fd00::1",
            "FE80::1:2",
            "::ffff:10.0.0.1",
            "1:2:3:4:5:6:7:8",
        ] {
            assert!(looks_like_ipv6(literal), "{literal}");
        }
        for literal in [
            "",
            "10.0.0.1",
            "fd00",
            "fd00:1",
            "fe80::1%25eth0",
            "fd00::g",
            " ::1",
        ] {
            assert!(!looks_like_ipv6(literal), "{literal}");
        }
    }

    /// The dotted-quad parser agrees with core's `Ipv4Addr::from_str` (fails if it took a
    /// leading zero, a fifth part, 256 or an empty part).
    #[test]
    fn ipv4_literals_parse_like_core() {
        let parts = [
            "0", "00", "01", "1", "9", "10", "99", "100", "199", "255", "256", "999", "1000", "",
            "+1", "-1", "a", " 1", "1 ",
        ];
        for (i, a) in parts.iter().enumerate() {
            for b in &parts[i % 5..] {
                for text in [
                    std::format!("{a}.{b}.0.{a}"),
                    std::format!("1.{a}.{b}.255"),
                    std::format!("{a}.{b}"),
                    std::format!("{a}.1.2.3.{b}"),
                    std::format!("{a}{b}.1.1.1"),
                ] {
                    let want = text.parse::<core::net::Ipv4Addr>().ok();
                    assert_eq!(parse_ipv4(&text), want, "{text:?}");
                }
            }
        }
        for text in [
            "",
            ".",
            "...",
            "1.2.3.4.",
            ".1.2.3.4",
            "1..2.3",
            "0.0.0.0",
            "255.255.255.255",
        ] {
            let want = text.parse::<core::net::Ipv4Addr>().ok();
            assert_eq!(parse_ipv4(text), want, "{text:?}");
        }
        let url = Url::parse("http://192.0.2.7:81/").unwrap();
        assert_eq!(url.ip(), Some(IpAddress::v4(192, 0, 2, 7)));
        assert_eq!(Url::parse("http://192.0.2.07/").unwrap().ip(), None);
    }

    /// The digit fold agrees with `u16::from_str` on digit strings, and refuses 0, signs,
    /// overflow and anything else (fails if the overflow check or the digit test is off).
    #[test]
    fn ports_parse_like_u16_from_str() {
        for n in (0..=70_000u32)
            .step_by(7)
            .chain([65_535, 65_536, 99_999, 655_350])
        {
            for text in [std::format!("{n}"), std::format!("00{n}")] {
                let want = text.parse::<u16>().ok().filter(|&p| p != 0);
                assert_eq!(parse_port(&text).ok(), want, "{text}");
            }
        }
        for bad in ["", "+80", "-1", "8a", " 80", "80 ", "1:2", "٣"] {
            assert_eq!(parse_port(bad), Err(UrlError::Malformed), "{bad}");
        }
    }

    #[test]
    fn resolves_redirect_locations() {
        let base = Url::parse("http://h:81/dir/page?q=1").unwrap();
        let mut out = heapless::String::<64>::new();
        for (location, want) in [
            ("http://other/x", "http://other/x"),
            ("//other:82/y", "http://other:82/y"),
            ("/abs", "http://h:81/abs"),
            ("rel?z", "http://h:81/dir/rel?z"),
            #[cfg(feature = "ipv6")]
            ("http://[fd00::1]:8080/v6", "http://[fd00::1]:8080/v6"),
        ] {
            resolve(&base, location, &mut out).unwrap();
            assert_eq!(out.as_str(), want);
        }
        resolve(&base, "https://h/", &mut out).unwrap();
        assert_eq!(out.as_str(), "https://h/");
        let base = Url::parse("https://h/dir/").unwrap();
        resolve(&base, "//other/z", &mut out).unwrap();
        assert_eq!(out.as_str(), "https://other/z");
        resolve(&base, "/x", &mut out).unwrap();
        assert_eq!(out.as_str(), "https://h/x");
    }
}
