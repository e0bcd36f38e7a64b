//! Chunked decoding of arbitrary bytes, fed byte by byte and all at once: same result, no
//! panic, and never more output than input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcplink::http::{BodyDecoder, Framing};

fn decode(data: &[u8], piece: usize) -> (Vec<u8>, Option<usize>, bool) {
    let mut decoder = BodyDecoder::new(Framing::Chunked);
    let mut out = Vec::new();
    let mut used = 0;
    for part in data.chunks(piece) {
        match decoder.feed(part, &mut |d| {
            out.extend_from_slice(d);
            Ok(())
        }) {
            Ok(n) => {
                used += n;
                if n < part.len() {
                    break;
                }
            }
            Err(_) => return (out, None, false),
        }
    }
    (out, Some(used), decoder.is_done())
}

fuzz_target!(|data: &[u8]| {
    let whole = decode(data, data.len().max(1));
    let bytewise = decode(data, 1);
    assert!(whole.0.len() <= data.len());
    assert_eq!(whole, bytewise);
});
