//! A small DER reader for the few X.509 and ECDSA fields the core reads itself (webpki reads
//! the rest): the `der` crate's generic decoding is large in a board's flash for so little.

/// DER tags (one byte: all the ones read here are low-numbered).
pub(crate) mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const OID: u8 = 0x06;
    pub const SEQUENCE: u8 = 0x30;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// `[0]` constructed: the certificate's version.
    pub const VERSION: u8 = 0xA0;
    /// `[3]` constructed: the certificate's extensions.
    pub const EXTENSIONS: u8 = 0xA3;
}

/// DER that could not be read (a certificate or a signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Reads DER elements one after another from a slice.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element whole (`tlv`) and its tag and value.
    pub(crate) fn element(&mut self) -> Result<(&'a [u8], u8, &'a [u8]), Malformed> {
        let (&tag, rest) = self.0.split_first().ok_or(Malformed)?;
        if tag & 0x1F == 0x1F {
            // A high tag number: nothing read here has one.
            return Err(Malformed);
        }
        let (&first, rest) = rest.split_first().ok_or(Malformed)?;
        let (length, rest) = match first {
            0..=0x7F => (usize::from(first), rest),
            // The long form, up to 3 length bytes (16 MiB; a certificate is far smaller).
            0x81..=0x83 => {
                let count = usize::from(first & 0x7F);
                if rest.len() < count {
                    return Err(Malformed);
                }
                let (bytes, rest) = rest.split_at(count);
                let length = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
                (length, rest)
            }
            _ => return Err(Malformed),
        };
        if rest.len() < length {
            return Err(Malformed);
        }
        let header = self.0.len() - rest.len();
        let (tlv, after) = self.0.split_at(header + length);
        self.0 = after;
        Ok((tlv, tag, &tlv[header..]))
    }

    /// The value of the next element, which must carry `want`.
    pub(crate) fn expect(&mut self, want: u8) -> Result<&'a [u8], Malformed> {
        match self.element()? {
            (_, tag, value) if tag == want => Ok(value),
            _ => Err(Malformed),
        }
    }

    /// The next element whole, tag and length included.
    pub(crate) fn tlv(&mut self) -> Result<&'a [u8], Malformed> {
        Ok(self.element()?.0)
    }
}

/// An ECDSA signature's DER (`SEQUENCE { r INTEGER, s INTEGER }`, RFC 3279 §2.2.3) as the
/// fixed-size `r || s` the curve crates take, into `out` (twice the field size): reading it
/// here keeps the `der` crate, large in a board's flash, out of the build.
pub(crate) fn ecdsa_signature(der: &[u8], out: &mut [u8]) -> Result<(), Malformed> {
    let mut outer = Reader(der);
    let mut pair = Reader(outer.expect(tag::SEQUENCE)?);
    let size = out.len() / 2;
    for half in out.chunks_mut(size) {
        let value = match pair.expect(tag::INTEGER)? {
            // DER's minimal, positive integers: one leading zero only before a high bit.
            [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => rest,
            value @ [first, ..] if first & 0x80 == 0 && *first != 0 => value,
            _ => return Err(Malformed),
        };
        if value.len() > size {
            return Err(Malformed);
        }
        half.fill(0);
        half[size - value.len()..].copy_from_slice(value);
    }
    if !pair.is_empty() || !outer.is_empty() {
        return Err(Malformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ecdsa_signature, tag, Malformed, Reader};

    #[test]
    fn ecdsa_signatures_read_strictly() {
        let mut out = [0xFFu8; 8];
        // r = 0x0102 (padded), s = 0x80 (with its required leading zero).
        let der = [0x30, 0x08, 0x02, 0x02, 0x01, 0x02, 0x02, 0x02, 0x00, 0x80];
        assert_eq!(ecdsa_signature(&der, &mut out), Ok(()));
        assert_eq!(out, [0, 0, 1, 2, 0, 0, 0, 0x80]);
        // A needless leading zero, a negative number, a number too large, trailing bytes.
        for bad in [
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01][..],
            &[0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01][..],
            &[0x30, 0x0A, 0x02, 0x05, 1, 2, 3, 4, 5, 0x02, 0x01, 0x01][..],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00][..],
        ] {
            assert_eq!(ecdsa_signature(bad, &mut out), Err(Malformed), "{bad:?}");
        }
    }

    #[test]
    fn lengths_short_and_long_and_truncated() {
        let mut long = [7u8; 3 + 0x80];
        long[..3].copy_from_slice(&[0x04, 0x81, 0x80]);
        let mut reader = Reader(&long);
        assert_eq!(reader.expect(tag::OCTET_STRING).map(<[u8]>::len), Ok(0x80));
        assert!(reader.is_empty());
        assert!(Reader(&[0x30, 0x03, 0x01]).element().is_err());
        assert!(Reader(&[0x30, 0x84, 0, 0, 0, 1, 0]).element().is_err());
        assert_eq!(Reader(&[0x30, 0x00]).tlv(), Ok(&[0x30, 0x00][..]));
    }
}
