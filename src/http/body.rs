//! Body framing: how many body bytes follow the head, and decoding chunked bodies.
//!
//! [`BodyDecoder`] is fed whatever the socket has, in pieces of any size, and hands body data
//! to a sink as slices of its input (no copy). It never buffers, so it works through any fixed
//! receive buffer, and it bounds every line it skips, so a hostile server cannot make it wait
//! forever on an endless chunk-size line or trailer.

use super::HttpError;

/// Longest chunk-size line (size, extensions) or trailer line accepted.
pub const MAX_LINE: usize = 1024;
/// Most trailer bytes accepted after the last chunk.
pub const MAX_TRAILERS: usize = 8192;

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Framing {
    /// Exactly this many bytes (`Content-Length`, or 0 for responses without a body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes.
    UntilClose,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading hex digits of a chunk size.
    Size { size: u64, digits: u8 },
    /// Skipping chunk extensions up to LF.
    Extension { size: u64 },
    /// Expecting LF after CR on the size line.
    SizeLf { size: u64 },
    /// Passing chunk data through.
    Data { left: u64 },
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// In a trailer line; `empty` while nothing but CR has been seen on it.
    Trailer { empty: bool },
    /// Saw the final empty line.
    Done,
}

/// Decodes a body of a given [`Framing`] from a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDecoder {
    framing: Framing,
    /// Body bytes passed to the sink so far.
    delivered: u64,
    chunk: Chunk,
    /// Bytes on the current chunk-size or trailer line.
    line: usize,
    /// Trailer bytes so far.
    trailers: usize,
}

impl BodyDecoder {
    /// A decoder for a body framed by `framing`.
    pub const fn new(framing: Framing) -> Self {
        Self {
            framing,
            delivered: 0,
            chunk: Chunk::Size { size: 0, digits: 0 },
            line: 0,
            trailers: 0,
        }
    }

    /// Body bytes delivered so far.
    pub const fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Whether the whole body has been seen (never true for [`Framing::UntilClose`]).
    pub fn is_done(&self) -> bool {
        match self.framing {
            Framing::Length(len) => self.delivered == len,
            Framing::Chunked => self.chunk == Chunk::Done,
            Framing::UntilClose => false,
        }
    }

    /// Decodes from `input`, passing body data to `sink`. Returns how many bytes of `input`
    /// belong to the body; bytes after the end of the body are left unconsumed.
    pub fn feed(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<usize, HttpError> {
        match self.framing {
            Framing::Length(len) => {
                let take = input
                    .len()
                    .min(usize::try_from(len - self.delivered).unwrap_or(usize::MAX));
                self.deliver(&input[..take], sink)?;
                Ok(take)
            }
            Framing::UntilClose => {
                self.deliver(input, sink)?;
                Ok(input.len())
            }
            Framing::Chunked => self.feed_chunked(input, sink),
        }
    }

    /// The connection closed: is the body complete?
    pub fn finish(&self) -> Result<(), HttpError> {
        match self.framing {
            Framing::Length(expected) if self.delivered < expected => {
                Err(HttpError::TruncatedBody {
                    expected,
                    received: self.delivered,
                })
            }
            Framing::Chunked if self.chunk != Chunk::Done => Err(HttpError::TruncatedChunked),
            _ => Ok(()),
        }
    }

    fn deliver(
        &mut self,
        data: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<(), HttpError> {
        if !data.is_empty() {
            sink(data)?;
            self.delivered += data.len() as u64;
        }
        Ok(())
    }

    fn feed_chunked(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), HttpError>,
    ) -> Result<usize, HttpError> {
        let mut at = 0;
        while at < input.len() && self.chunk != Chunk::Done {
            if let Chunk::Data { left } = self.chunk {
                let take = (input.len() - at).min(usize::try_from(left).unwrap_or(usize::MAX));
                self.deliver(&input[at..at + take], sink)?;
                at += take;
                let left = left - take as u64;
                self.chunk = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { left }
                };
                continue;
            }
            let byte = input[at];
            at += 1;
            self.chunk = self.step(byte)?;
        }
        Ok(at)
    }

    /// One byte of framing (everything but chunk data).
    fn step(&mut self, byte: u8) -> Result<Chunk, HttpError> {
        let on_line = matches!(
            self.chunk,
            Chunk::Size { .. }
                | Chunk::Extension { .. }
                | Chunk::SizeLf { .. }
                | Chunk::Trailer { .. }
        );
        if on_line {
            self.line += 1;
            if self.line > MAX_LINE {
                return Err(HttpError::BadChunk);
            }
        }
        let next = match (self.chunk, byte) {
            (Chunk::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                // 16 hex digits fill 64 bits; more would overflow.
                if digits == 16 {
                    return Err(HttpError::BadChunk);
                }
                let value = (b as char).to_digit(16).unwrap_or(0) as u64;
                Chunk::Size {
                    size: size << 4 | value,
                    digits: digits + 1,
                }
            }
            (Chunk::Size { digits: 0, .. }, _) => return Err(HttpError::BadChunk),
            (Chunk::Size { size, .. }, b';' | b' ' | b'\t') => Chunk::Extension { size },
            (Chunk::Size { size, .. }, b'\r') => Chunk::SizeLf { size },
            (Chunk::Size { size, .. } | Chunk::Extension { size }, b'\n')
            | (Chunk::SizeLf { size }, b'\n') => {
                self.line = 0;
                if size == 0 {
                    Chunk::Trailer { empty: true }
                } else {
                    Chunk::Data { left: size }
                }
            }
            (Chunk::Extension { size }, b'\r') => Chunk::SizeLf { size },
            (Chunk::Extension { size }, _) => Chunk::Extension { size },
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataCr | Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
            (Chunk::Trailer { empty }, b'\n') => {
                self.line = 0;
                if empty {
                    Chunk::Done
                } else {
                    Chunk::Trailer { empty: true }
                }
            }
            (Chunk::Trailer { empty }, b'\r') => Chunk::Trailer { empty },
            (Chunk::Trailer { .. }, _) => {
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err(HttpError::BadChunk);
                }
                Chunk::Trailer { empty: false }
            }
            _ => return Err(HttpError::BadChunk),
        };
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(
        framing: Framing,
        input: &[u8],
        piece: usize,
    ) -> Result<(heapless::Vec<u8, 256>, usize, bool), HttpError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut out = heapless::Vec::new();
        let mut used = 0;
        for part in input.chunks(piece) {
            let n = decoder.feed(part, &mut |d| {
                out.extend_from_slice(d).map_err(|_| HttpError::Sink)
            })?;
            used += n;
            if n < part.len() {
                break;
            }
        }
        Ok((out, used, decoder.is_done()))
    }

    #[test]
    fn chunked_with_extensions_and_trailers_in_any_split() {
        let body = b"5;name=v\r\nHello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\nEXTRA";
        for piece in 1..body.len() {
            let (out, used, done) = decode(Framing::Chunked, body, piece).unwrap();
            assert_eq!(&out[..], b"Hello, world");
            assert!(done);
            assert_eq!(used, body.len() - 5, "stops before what follows the body");
        }
    }

    #[test]
    fn bad_chunks_are_errors() {
        for bad in [
            &b"zz\r\n"[..],
            b"\r\n",
            b"5\r\nHelloXX",
            b"11111111111111111\r\n",
        ] {
            assert_eq!(
                decode(Framing::Chunked, bad, 64).unwrap_err(),
                HttpError::BadChunk,
                "{bad:?}"
            );
        }
        let endless = [b'1'; 1]
            .iter()
            .chain([b';'; 2000].iter())
            .copied()
            .collect::<heapless::Vec<u8, 2048>>();
        assert_eq!(
            decode(Framing::Chunked, &endless, 64).unwrap_err(),
            HttpError::BadChunk
        );
    }

    #[test]
    fn length_stops_at_the_end_and_reports_truncation() {
        let (out, used, done) = decode(Framing::Length(3), b"abcdef", 2).unwrap();
        assert_eq!((&out[..], used, done), (&b"abc"[..], 3, true));
        let mut decoder = BodyDecoder::new(Framing::Length(10));
        decoder.feed(b"abc", &mut |_| Ok(())).unwrap();
        assert_eq!(
            decoder.finish(),
            Err(HttpError::TruncatedBody {
                expected: 10,
                received: 3
            })
        );
        let chunked = BodyDecoder::new(Framing::Chunked);
        assert_eq!(chunked.finish(), Err(HttpError::TruncatedChunked));
        assert_eq!(BodyDecoder::new(Framing::UntilClose).finish(), Ok(()));
    }
}
