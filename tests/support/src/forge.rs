//! TLS 1.3 records sealed under a server's traffic secret, as that server would seal them:
//! lets a test send what no stock server sends (a handshake message after the handshake, an
//! empty record) and still get it past the device's AEAD check, so the test reaches the code
//! that reads the plaintext. TLS_AES_128_GCM_SHA256 only, the one suite the device offers.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

/// TLSCiphertext's content type for every sealed record (RFC 8446 §5.2).
const APPLICATION_DATA: u8 = 23;
/// AES-128-GCM key and nonce lengths, and its tag.
const KEY_LEN: usize = 16;
const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Seals records under one traffic secret, counting the sequence number from where the
/// server is.
pub struct Forger {
    aead: Aes128Gcm,
    iv: [u8; IV_LEN],
    seq: u64,
}

impl Forger {
    /// A forger for a SHA-256 traffic `secret` (e.g. `SERVER_TRAFFIC_SECRET_0` from a key log)
    /// whose next record has sequence number `seq` (the records already sealed under it).
    pub fn new(secret: &[u8], seq: u64) -> Self {
        let mut key = [0u8; KEY_LEN];
        let mut iv = [0u8; IV_LEN];
        expand_label(secret, b"key", &mut key);
        expand_label(secret, b"iv", &mut iv);
        Self {
            aead: Aes128Gcm::new_from_slice(&key).expect("AES-128 key"),
            iv,
            seq,
        }
    }

    /// One record of `content` with inner content type `content_type` (no padding).
    pub fn seal(&mut self, content_type: u8, content: &[u8]) -> Vec<u8> {
        let mut inner = content.to_vec();
        inner.push(content_type);
        self.seal_inner(&inner)
    }

    /// One record whose TLSInnerPlaintext is exactly `inner` (content, type, zero padding):
    /// also the malformed ones (empty, all zeros) a real server never seals.
    pub fn seal_inner(&mut self, inner: &[u8]) -> Vec<u8> {
        let length = u16::try_from(inner.len() + TAG_LEN).expect("record length");
        let mut record = vec![APPLICATION_DATA, 3, 3];
        record.extend_from_slice(&length.to_be_bytes());
        // The per-record nonce: the IV XOR the sequence number, left-padded (§5.3).
        let mut nonce = self.iv;
        for (n, s) in nonce[IV_LEN - 8..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        let sealed = self
            .aead
            .encrypt(
                (&nonce).into(),
                Payload {
                    msg: inner,
                    aad: &record,
                },
            )
            .expect("AES-GCM seal");
        record.extend_from_slice(&sealed);
        self.seq += 1;
        record
    }
}

/// HKDF-Expand-Label(secret, label, "", out.len()) with SHA-256 (RFC 8446 §7.1).
fn expand_label(secret: &[u8], label: &[u8], out: &mut [u8]) {
    let length = u16::try_from(out.len()).expect("output length");
    let mut info = length.to_be_bytes().to_vec();
    info.push(u8::try_from(6 + label.len()).expect("label length"));
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0); // empty context
    Hkdf::<Sha256>::from_prk(secret)
        .expect("a SHA-256 secret")
        .expand(&info, out)
        .expect("HKDF output length");
}

/// Counts the TLS records in a byte stream (as written to the wire), by their 5-byte headers.
#[derive(Debug, Default)]
pub struct RecordCounter {
    header: Vec<u8>,
    body_left: usize,
    /// Records of outer type application_data (23) seen whole or in part.
    pub sealed: u64,
}

impl RecordCounter {
    /// Takes the next bytes of the stream.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (5 - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == 5 {
                if self.header[0] == APPLICATION_DATA {
                    self.sealed += 1;
                }
                self.body_left = usize::from(u16::from_be_bytes([self.header[3], self.header[4]]));
                self.header.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8448 §3 (simple 1-RTT handshake): the server's application traffic secret and
    /// the key and IV derived from it.
    #[test]
    fn keys_match_rfc_8448() {
        let secret = hex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let mut key = [0u8; KEY_LEN];
        let mut iv = [0u8; IV_LEN];
        expand_label(&secret, b"key", &mut key);
        expand_label(&secret, b"iv", &mut iv);
        assert_eq!(key.to_vec(), hex("9f02283b6c9c07efc26bb9f2ac92e356"));
        assert_eq!(iv.to_vec(), hex("cf782b88dd83549aadf1e984"));
    }

    #[test]
    fn counter_counts_sealed_records_split_anywhere() {
        let mut stream = vec![22, 3, 3, 0, 2, 1, 2];
        stream.extend_from_slice(&[23, 3, 3, 0, 3, 9, 9, 9]);
        stream.extend_from_slice(&[23, 3, 3, 0, 0]);
        for split in 0..stream.len() {
            let mut counter = RecordCounter::default();
            counter.feed(&stream[..split]);
            counter.feed(&stream[split..]);
            assert_eq!(counter.sealed, 2, "split at {split}");
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
