//! A whole response (head, then body in the framing the head chooses), in arbitrary splits:
//! the parser and decoder must never panic, never deliver more body than they were given,
//! and agree with themselves whatever the split.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplink::http::{parse_head, BodyDecoder, Framing, DEFAULT_HEADERS};

/// Decodes `data` with the body fed in pieces of `piece` bytes; returns the body and result.
fn run(data: &[u8], piece: usize) -> (Vec<u8>, Result<bool, tcplink::http::HttpError>) {
    let mut headers = [httparse::EMPTY_HEADER; DEFAULT_HEADERS];
    let (framing, head_len) = match parse_head(data, &mut headers) {
        Ok(Some((head, len))) => match head.framing() {
            Ok(framing) => (framing, len),
            Err(error) => return (Vec::new(), Err(error)),
        },
        Ok(None) => return (Vec::new(), Ok(false)),
        Err(error) => return (Vec::new(), Err(error)),
    };
    let mut decoder = BodyDecoder::new(framing);
    let mut body = Vec::new();
    for part in data[head_len..].chunks(piece.max(1)) {
        match decoder.feed(part, &mut |d| {
            body.extend_from_slice(d);
            Ok(())
        }) {
            Ok(used) if used < part.len() => break,
            Ok(_) => {}
            Err(error) => return (body, Err(error)),
        }
    }
    assert!(body.len() <= data.len() - head_len);
    if let Framing::Length(len) = framing {
        assert!(body.len() as u64 <= len);
    }
    assert_eq!(decoder.delivered(), body.len() as u64);
    (body, Ok(decoder.is_done()))
}

fuzz_target!(|input: (u8, &[u8])| {
    let (piece, data) = input;
    let whole = run(data, data.len());
    let split = run(data, usize::from(piece));
    assert_eq!(whole, split, "the split changed the result");
});
