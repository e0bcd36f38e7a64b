//! tcplink patch (new file): handshake messages that span records.
//!
//! RFC 8446 §5.1 lets a server split one handshake message over several records and put
//! several in one. A message that lies whole in its record is parsed where it is (no copy);
//! the head of one that does not is copied into a fixed buffer the caller lends
//! (`TlsConnection::with_handshake_buffer`, async and blocking),
//! the next records' bytes are appended, and the message is parsed from there once whole.
//! A message longer than that buffer (its 4-byte header, type and 24-bit length, tells as
//! soon as it arrives) is [`TlsError::HandshakeTooLarge`]: nothing is truncated. Without a
//! buffer (the default) the bound is 0 bytes: any split message is that error.

use crate::TlsError;

/// The 4-byte handshake message header: type (1), length (3).
const HEADER: usize = 4;

/// The bytes of one unfinished handshake message.
pub struct Reassembly<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Reassembly<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Whether part of a message waits for the next record.
    pub fn is_pending(&self) -> bool {
        self.len > 0
    }

    /// The whole length of the message whose header starts `bytes`, checked against the bound.
    fn message_len(&self, bytes: &[u8]) -> Result<usize, TlsError> {
        let body = u32::from_be_bytes([0, bytes[1], bytes[2], bytes[3]]) as usize;
        let total = HEADER + body;
        if total > self.buf.len() {
            warn!(
                "Handshake message of {} bytes spans records; the buffer holds {}",
                total,
                self.buf.len()
            );
            return Err(TlsError::HandshakeTooLarge);
        }
        Ok(total)
    }

    /// Takes the plaintext of one handshake record and calls `each` with every handshake
    /// message (header included) it completes, in order; keeps the unfinished tail.
    pub(crate) fn feed(
        &mut self,
        mut data: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), TlsError>,
    ) -> Result<(), TlsError> {
        // First the message an earlier record began.
        while self.len > 0 && !data.is_empty() {
            let want = if self.len < HEADER {
                HEADER
            } else {
                self.message_len(&self.buf[..HEADER])?
            };
            let n = (want - self.len).min(data.len());
            self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
            if self.len >= HEADER {
                let total = self.message_len(&self.buf[..HEADER])?;
                if self.len == total {
                    self.len = 0;
                    each(&self.buf[..total])?;
                }
            }
        }
        // Then the messages that begin in this record: whole ones in place.
        while !data.is_empty() {
            if data.len() >= HEADER {
                // A message whole in its record is parsed there, whatever the bound.
                let total = HEADER + u32::from_be_bytes([0, data[1], data[2], data[3]]) as usize;
                if total <= data.len() {
                    each(&data[..total])?;
                    data = &data[total..];
                    continue;
                }
                self.message_len(data)?;
            } else if self.buf.len() < HEADER {
                // Part of a header: every message is longer than this buffer.
                return Err(TlsError::HandshakeTooLarge);
            }
            self.buf[..data.len()].copy_from_slice(data);
            self.len = data.len();
            break;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> std::vec::Vec<u8> {
        let len = (body.len() as u32).to_be_bytes();
        let mut m = std::vec![kind, len[1], len[2], len[3]];
        m.extend_from_slice(body);
        m
    }

    /// Feeds `stream` cut into `cut`-byte records; returns the messages seen.
    fn run(
        stream: &[u8],
        cut: usize,
        cap: usize,
    ) -> Result<std::vec::Vec<std::vec::Vec<u8>>, TlsError> {
        let mut buf = std::vec![0u8; cap];
        let mut r = Reassembly::new(&mut buf);
        let mut seen = std::vec::Vec::new();
        for record in stream.chunks(cut) {
            r.feed(record, &mut |m| {
                seen.push(m.to_vec());
                Ok(())
            })?;
        }
        assert!(!r.is_pending());
        Ok(seen)
    }

    #[test]
    fn messages_come_out_whole_however_the_records_cut_them() {
        let a = message(8, &[1, 2]);
        let b = message(11, &[7; 300]);
        let c = message(15, &[]);
        let d = message(20, &[9; 32]);
        let stream = [a.clone(), b.clone(), c.clone(), d.clone()].concat();
        for cut in 1..=stream.len() {
            let seen = run(&stream, cut, 304).unwrap();
            assert_eq!(
                seen,
                [a.clone(), b.clone(), c.clone(), d.clone()],
                "cut {cut}"
            );
        }
    }

    /// Random messages cut into random records, with random bounds: every message comes out
    /// whole and in order, until the first one split over records and longer than the
    /// buffer, which is the error (and only then).
    #[test]
    fn random_streams_cut_anywhere_match_the_model() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..5_000 {
            let messages: std::vec::Vec<_> = (0..1 + next(5))
                .map(|i| message(i as u8, &std::vec![i as u8; next(120)]))
                .collect();
            let stream = messages.concat();
            let mut cuts: std::vec::Vec<usize> = (0..next(6)).map(|_| next(stream.len())).collect();
            cuts.push(stream.len());
            cuts.sort_unstable();
            let cap = next(140);
            // The model: the first message a cut falls inside of that is longer than `cap`.
            let mut start = 0;
            let mut offender = None;
            for (i, m) in messages.iter().enumerate() {
                let end = start + m.len();
                if m.len() > cap && cuts.iter().any(|&c| start < c && c < end) {
                    offender = Some(i);
                    break;
                }
                start = end;
            }
            let mut buf = std::vec![0u8; cap];
            let mut r = Reassembly::new(&mut buf);
            let mut seen = std::vec::Vec::new();
            let mut from = 0;
            let mut result = Ok(());
            for &cut in &cuts {
                result = r.feed(&stream[from..cut], &mut |m| {
                    seen.push(m.to_vec());
                    Ok(())
                });
                from = cut;
                if result.is_err() {
                    break;
                }
            }
            match offender {
                Some(i) => {
                    assert!(matches!(result, Err(TlsError::HandshakeTooLarge)));
                    assert_eq!(seen, messages[..i]);
                }
                None => {
                    assert!(result.is_ok());
                    assert_eq!(seen, messages);
                    assert!(!r.is_pending());
                }
            }
        }
    }

    #[test]
    fn a_split_message_beyond_the_buffer_is_an_error() {
        let b = message(11, &[7; 300]);
        assert!(matches!(
            run(&b, 100, 303),
            Err(TlsError::HandshakeTooLarge)
        ));
        // Whole in its record, it needs no buffer.
        assert_eq!(run(&b, 400, 0).unwrap(), [b]);
    }
}
