//! The TLS client's handshake reassembly (the carried embedded-tls, `src/reassembly.rs`)
//! driven directly: a stream of handshake messages cut into records at arbitrary places,
//! gathered through a buffer of arbitrary size (the bound). `tls_server_bytes` never gets
//! here: its bytes do not pass the AEAD check without the server's keys.
//!
//! The oracle is a model of what must come out: every message before the first one that is
//! split over records and longer than the bound, whole and in order; then
//! `HandshakeTooLarge` (or, without such a message, the unfinished tail left pending).
//! Nothing may panic.
#![no_main]

use embedded_tls::{fuzz_reassembly, TlsError};
use libfuzzer_sys::fuzz_target;

/// The handshake message header: type (1), length (3).
const HEADER: usize = 4;

/// What the model expects.
#[derive(Debug, PartialEq)]
enum Ending {
    /// Every message out; whether a tail is left unfinished.
    Done { pending: bool },
    /// `HandshakeTooLarge` after the messages before it.
    TooLarge,
}

/// The input: bound (2 bytes), the number of record cuts (1 byte) and their sizes (1 byte
/// each, 0 read as 256), a mode byte, then the stream. In "framed" mode (mode bit 0) the rest
/// is rewritten as well-formed messages (kind, length byte × scale, body), so the fuzzer
/// reaches split and oversized messages quickly; otherwise it is taken as it is.
fn split(data: &[u8]) -> Option<(usize, Vec<usize>, Vec<u8>)> {
    let (&[b0, b1, n], rest) = data.split_first_chunk::<3>()?;
    let bound = usize::from(u16::from_be_bytes([b0, b1]));
    let (cuts, rest) = rest.split_at_checked(usize::from(n))?;
    let cuts = cuts
        .iter()
        .map(|&c| if c == 0 { 256 } else { usize::from(c) })
        .collect();
    let (&mode, rest) = rest.split_first()?;
    let stream = if mode & 1 == 1 {
        let scale = usize::from(mode >> 1) + 1;
        let mut stream = Vec::new();
        let mut bytes = rest.iter().copied();
        while let (Some(kind), Some(len)) = (bytes.next(), bytes.next()) {
            let len = usize::from(len) * scale;
            stream.push(kind);
            stream.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
            stream.extend((0..len).map(|i| i as u8));
        }
        stream
    } else {
        rest.to_vec()
    };
    Some((bound, cuts, stream))
}

/// The records: the cuts in turn, repeated, until the stream is used up.
fn records<'s>(stream: &'s [u8], cuts: &[usize]) -> Vec<&'s [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < stream.len() {
        let len = cuts
            .get(i % cuts.len().max(1))
            .copied()
            .unwrap_or(stream.len());
        let end = (at + len).min(stream.len());
        out.push(&stream[at..end]);
        at = end;
        i += 1;
    }
    out
}

/// The model: the messages that must come out, and how it ends.
fn model(stream: &[u8], records: &[&[u8]], bound: usize) -> (Vec<Vec<u8>>, Ending) {
    // Where each record ends in the stream.
    let ends: Vec<usize> = records
        .iter()
        .scan(0, |at, r| {
            *at += r.len();
            Some(*at)
        })
        .collect();
    let record_end = |offset: usize| *ends.iter().find(|&&e| e > offset).expect("in a record");
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let end_of_record = record_end(at);
        if stream.len() - at < HEADER {
            // A tail shorter than a header: split (the stream ends), so past the bound when
            // the bound cannot hold a header.
            let ending = if bound < HEADER {
                Ending::TooLarge
            } else {
                Ending::Done { pending: true }
            };
            return (out, ending);
        }
        let total = HEADER
            + u32::from_be_bytes([0, stream[at + 1], stream[at + 2], stream[at + 3]]) as usize;
        let whole_in_record = at + total <= end_of_record;
        if !whole_in_record && total > bound {
            return (out, Ending::TooLarge);
        }
        if at + total > stream.len() {
            return (out, Ending::Done { pending: true });
        }
        out.push(stream[at..at + total].to_vec());
        at += total;
    }
    (out, Ending::Done { pending: false })
}

fuzz_target!(|data: &[u8]| {
    let Some((bound, cuts, stream)) = split(data) else {
        return;
    };
    let records = records(&stream, &cuts);
    let mut buf = vec![0u8; bound];
    let mut seen = Vec::new();
    let result = fuzz_reassembly(&mut buf, records.iter().copied(), &mut |m| {
        seen.push(m.to_vec());
        Ok(())
    });
    let ending = match result {
        Ok(pending) => Ending::Done { pending },
        Err(TlsError::HandshakeTooLarge) => Ending::TooLarge,
        Err(e) => panic!("unexpected error {e:?}"),
    };
    let (want, want_ending) = model(&stream, &records, bound);
    assert_eq!(ending, want_ending, "bound {bound}, cuts {cuts:?}");
    assert_eq!(seen, want, "bound {bound}, cuts {cuts:?}");
});
