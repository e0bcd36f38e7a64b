//! The response head: status line and headers, parsed with `httparse` from a bounded buffer.

use core::fmt;

use crate::text::{self, Render, TextOut};

use super::body::Framing;
use super::error::CodingName;
use super::HttpError;

/// Headers a response may have unless the client is built for another count.
pub const DEFAULT_HEADERS: usize = 48;

/// A parsed response head, borrowing the head buffer.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    /// Status code, e.g. 200.
    pub status: u16,
    /// Reason phrase, e.g. `OK`.
    pub reason: &'a str,
    /// The headers in the order they came.
    pub headers: &'a [httparse::Header<'a>],
    /// The head exactly as received, without the blank line that ends it.
    pub raw: &'a [u8],
}

impl<'a> ResponseHead<'a> {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Whether the status is a redirect this client follows.
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
    }

    /// How the body after this head is delimited (RFC 9112 section 6.3).
    pub fn framing(&self) -> Result<Framing, HttpError> {
        if matches!(self.status, 100..=199 | 204 | 304) {
            return Ok(Framing::Length(0));
        }
        let mut length = None;
        let mut chunked = false;
        for header in self.headers {
            if header.name.eq_ignore_ascii_case("content-length") {
                let value = parse_length(header.value)?;
                if length.is_some_and(|l| l != value) {
                    return Err(HttpError::BadContentLength);
                }
                length = Some(value);
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                // Codings in the order applied, over all such headers; only one final
                // `chunked` is decoded (the request sends no `TE`, so nothing else is due).
                for coding in header.value.split(|&b| b == b',').map(trim) {
                    if coding.is_empty() {
                        continue;
                    }
                    match (chunked, coding.eq_ignore_ascii_case(b"chunked")) {
                        (false, true) => chunked = true,
                        // Chunked twice (RFC 9112 section 6.1 forbids it).
                        (true, true) => return Err(HttpError::BadChunk),
                        // Another coding, or something applied after `chunked` (then the
                        // body is not delimited).
                        _ => {
                            return Err(HttpError::UnsupportedTransferCoding(CodingName::new(
                                coding,
                            )))
                        }
                    }
                }
            }
        }
        match (chunked, length) {
            (true, Some(_)) => Err(HttpError::AmbiguousLength),
            (true, None) => Ok(Framing::Chunked),
            (false, Some(len)) => Ok(Framing::Length(len)),
            (false, None) => Ok(Framing::UntilClose),
        }
    }
}

/// Prints the head as the seed does (`print(header.decode('utf-8'))`), lossily for non-UTF-8.
impl Render for ResponseHead<'_> {
    fn render(&self, out: &mut dyn TextOut) {
        text::put_lossy(out, self.raw);
    }
}

impl fmt::Display for ResponseHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// Parses the head at the start of `buf` into at most `headers.len()` headers.
/// `Ok(None)`: incomplete, read more. `Ok(Some((head, len)))`: the head uses the first `len`
/// bytes of `buf`. Run [`unfold`] on the buffer first: an obs-fold here is a malformed header.
pub fn parse<'b>(
    buf: &'b [u8],
    headers: &'b mut [httparse::Header<'b>],
) -> Result<Option<(ResponseHead<'b>, usize)>, HttpError> {
    let limit = headers.len();
    let mut response = httparse::Response::new(headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::Status | httparse::Error::Version) => {
            return Err(HttpError::BadStatusLine)
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders { limit }),
        Err(_) => return Err(HttpError::BadHeader),
    };
    let (Some(status), Some(_version)) = (response.code, response.version) else {
        return Err(HttpError::BadStatusLine);
    };
    let head = ResponseHead {
        status,
        reason: response.reason.unwrap_or(""),
        headers: response.headers,
        raw: strip_blank_line(&buf[..len]),
    };
    Ok(Some((head, len)))
}

/// Replaces every obs-fold (a line break followed by a space or tab, continuing the
/// header before it) in the head at the start of `buf` with spaces, in place, as RFC 9112
/// section 5.2 asks of a user agent. Stops at the blank line that ends the head, so body
/// bytes are never touched; an incomplete head is unfolded as far as it goes.
pub fn unfold(buf: &mut [u8]) {
    let mut line_start = 0;
    let mut at = 0;
    while let Some(offset) = buf[at..].iter().position(|&b| b == b'\n') {
        let lf = at + offset;
        let line = &buf[line_start..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() && line_start > 0 {
            return; // The blank line: the head ends here.
        }
        let folded = line_start > 0 && matches!(buf.get(lf + 1), Some(b' ' | b'\t'));
        if folded {
            buf[lf] = b' ';
            if lf > 0 && buf[lf - 1] == b'\r' {
                buf[lf - 1] = b' ';
            }
            // The continuation is part of the same line.
        } else {
            line_start = lf + 1;
        }
        at = lf + 1;
    }
}

fn strip_blank_line(head: &[u8]) -> &[u8] {
    let head = head.strip_suffix(b"\n").unwrap_or(head);
    let head = head.strip_suffix(b"\r").unwrap_or(head);
    let head = head.strip_suffix(b"\n").unwrap_or(head);
    head.strip_suffix(b"\r").unwrap_or(head)
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &value[start..end]
}

fn parse_length(value: &[u8]) -> Result<u64, HttpError> {
    let digits = trim(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::BadContentLength);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(HttpError::BadContentLength)
    })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    fn framing_of(head: &[u8]) -> Result<Framing, HttpError> {
        let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
        let (head, _) = parse(head, &mut headers)?.expect("complete head");
        head.framing()
    }

    #[test]
    fn parses_status_headers_and_raw_text() {
        let buf = b"HTTP/1.1 302 Moved Temporarily\r\nLocation: https://x/\r\n\r\nbody";
        let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
        let (head, len) = parse(buf, &mut headers).unwrap().unwrap();
        assert_eq!(
            (head.status, head.reason, len),
            (302, "Moved Temporarily", buf.len() - 4)
        );
        assert_eq!(head.header("location"), Some(&b"https://x/"[..]));
        assert!(head.is_redirect());
        assert_eq!(
            format!("{head}"),
            "HTTP/1.1 302 Moved Temporarily\r\nLocation: https://x/"
        );
    }

    #[test]
    fn incomplete_and_broken_heads() {
        let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
        assert!(parse(b"HTTP/1.1 200 OK\r\nA: b\r\n", &mut headers)
            .unwrap()
            .is_none());
        let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
        assert_eq!(
            parse(b"HTTP/9 OK\r\n\r\n", &mut headers).unwrap_err(),
            HttpError::BadStatusLine
        );
        let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
        assert_eq!(
            parse(b"SSH-2.0-x\r\n\r\n", &mut headers).unwrap_err(),
            HttpError::BadStatusLine
        );
    }

    #[test]
    fn obs_fold_becomes_spaces_and_the_body_is_untouched() {
        let mut buf =
            *b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\nA: b\n c\r\n\r\n x\r\n y";
        unfold(&mut buf);
        assert_eq!(
            &buf[..],
            b"HTTP/1.1 200 OK\r\nX-Long: one    two  \tthree\r\nA: b  c\r\n\r\n x\r\n y"
        );
        let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
        let (head, _) = parse(&buf, &mut headers).unwrap().unwrap();
        assert_eq!(head.header("x-long"), Some(&b"one    two  \tthree"[..]));
        assert_eq!(head.header("a"), Some(&b"b  c"[..]));
    }

    #[test]
    fn framing_follows_the_rules() {
        assert_eq!(
            framing_of(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            framing_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        for (te, coding) in [
            ("gzip, chunked", "gzip"),
            ("deflate", "deflate"),
            ("chunked, gzip", "gzip"),
            (
                "x-a-very-long-experimental-coding, chunked",
                "x-a-very-long-experiment",
            ),
        ] {
            let head = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: {te}\r\n\r\n");
            match framing_of(head.as_bytes()) {
                Err(HttpError::UnsupportedTransferCoding(name)) => {
                    assert_eq!(
                        name.as_bytes(),
                        &coding.as_bytes()[..coding.len().min(24)],
                        "{te}"
                    )
                }
                other => panic!("{te}: {other:?}"),
            }
        }
        assert_eq!(
            framing_of(b"HTTP/1.1 200 OK\r\n\r\n"),
            Ok(Framing::UntilClose)
        );
        assert_eq!(
            framing_of(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
            Ok(Framing::Length(0))
        );
        assert_eq!(
            framing_of(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            Err(HttpError::AmbiguousLength)
        );
        assert_eq!(
            framing_of(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            Err(HttpError::BadChunk)
        );
        for bad in ["-1", "18446744073709551616", "1x", ""] {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
            assert_eq!(
                framing_of(head.as_bytes()),
                Err(HttpError::BadContentLength),
                "{bad}"
            );
        }
    }
}
