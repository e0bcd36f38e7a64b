//! The few X.509 fields the verifier needs beside webpki, read in place from a DER
//! certificate: issuer and subject (raw DER, to pick the trust anchors that can matter),
//! validity (a moment for webpki when the platform has no clock), the public key (for the
//! handshake signature) and keyUsage keyCertSign (webpki ignores keyUsage; RFC 5280 §4.2.1.3
//! wants keyCertSign on a CA that has the extension). Everything else, and every check, is
//! webpki's (`verify.rs`).
//!
//! A small DER reader of its own: the `der` crate's generic decoding was 11 KB of a board's
//! flash for these few fields.

use super::signature::PublicKey;

/// OID value bytes (the DER contents, without tag and length).
pub(crate) mod oid {
    /// rsaEncryption (1.2.840.113549.1.1.1).
    pub const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// id-ecPublicKey (1.2.840.10045.2.1).
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// prime256v1 / P-256 (1.2.840.10045.3.1.7).
    pub const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    /// secp384r1 / P-384 (1.3.132.0.34).
    pub const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    /// keyUsage (2.5.29.15).
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1D, 0x0F];
}

/// DER tags (one byte: all the ones read here are low-numbered).
mod tag {
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

/// A certificate that could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Reads DER elements one after another from a slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element whole (`tlv`) and its tag and value.
    fn element(&mut self) -> Result<(&'a [u8], u8, &'a [u8]), Malformed> {
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
    fn expect(&mut self, want: u8) -> Result<&'a [u8], Malformed> {
        match self.element()? {
            (_, tag, value) if tag == want => Ok(value),
            _ => Err(Malformed),
        }
    }

    /// The next element whole, tag and length included.
    fn tlv(&mut self) -> Result<&'a [u8], Malformed> {
        Ok(self.element()?.0)
    }
}

/// An ECDSA signature's DER (`SEQUENCE { r INTEGER, s INTEGER }`, RFC 3279 §2.2.3) as the
/// fixed-size `r || s` the curve crates take, into `out` (twice the field size): reading it
/// here keeps the `der` crate, 8 KB of a board's flash, out of the build.
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

/// The checked fields of one certificate, borrowing its DER.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cert<'a> {
    /// Issuer name, raw DER.
    pub issuer: &'a [u8],
    /// Subject name, raw DER.
    pub subject: &'a [u8],
    /// Valid from (Unix seconds).
    pub not_before: u64,
    /// Valid until (Unix seconds).
    pub not_after: u64,
    /// OID of the key's algorithm.
    pub key_algorithm: &'a [u8],
    /// The key algorithm's parameter (the named curve for EC keys), raw DER value.
    pub key_parameter: &'a [u8],
    /// The public key (SEC1 point for EC keys).
    pub public_key: &'a [u8],
    /// keyUsage keyCertSign, or `None` without a keyUsage extension.
    pub key_cert_sign: Option<bool>,
}

/// A BIT STRING's bytes (whole bytes only).
fn bits(value: &[u8]) -> Result<&[u8], Malformed> {
    match value.split_first() {
        Some((0, rest)) => Ok(rest),
        Some((unused, rest)) if *unused < 8 && !rest.is_empty() => Ok(rest),
        _ => Err(Malformed),
    }
}

/// `digits` decimal digits as a number.
fn decimal(digits: &[u8]) -> Result<u64, Malformed> {
    digits.iter().try_fold(0u64, |n, &d| {
        if d.is_ascii_digit() {
            Ok(n * 10 + u64::from(d - b'0'))
        } else {
            Err(Malformed)
        }
    })
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), as
/// RFC 5280 §4.1.2.5 has them, in Unix seconds.
fn time(tag: u8, value: &[u8]) -> Result<u64, Malformed> {
    let (year, rest) = match (tag, value.len()) {
        (tag::UTC_TIME, 13) => {
            let yy = decimal(&value[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &value[2..])
        }
        (tag::GENERALIZED_TIME, 15) => (decimal(&value[..4])?, &value[4..]),
        _ => return Err(Malformed),
    };
    if rest[10] != b'Z' {
        return Err(Malformed);
    }
    let field = |i: usize| decimal(&rest[i..i + 2]);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err(Malformed);
    }
    if year < 1970 || second > 60 {
        return Err(Malformed);
    }
    // Days since 1970-01-01 of the civil date (March-based years: the leap day ends one).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era_days = |y: u64| y * 365 + y / 4 - y / 100 + y / 400;
    let days = era_days(y) + (153 * m + 2) / 5 + day - 1 - era_days(1969) - 306;
    Ok(days * 86_400 + hour * 3600 + minute * 60 + second)
}

impl<'a> Cert<'a> {
    /// Reads `der`, a whole certificate.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, Malformed> {
        let mut outer = Reader(der);
        let mut cert = Reader(outer.expect(tag::SEQUENCE)?);
        if !outer.is_empty() {
            return Err(Malformed);
        }
        let mut fields = Reader(cert.expect(tag::SEQUENCE)?);
        if fields.peek() == Some(tag::VERSION) {
            fields.element()?;
        }
        fields.expect(tag::INTEGER)?; // serial number
        fields.expect(tag::SEQUENCE)?; // signature algorithm (again)
        let issuer = fields.tlv()?;
        let mut validity = Reader(fields.expect(tag::SEQUENCE)?);
        let (_, from_tag, from) = validity.element()?;
        let (_, until_tag, until) = validity.element()?;
        let subject = fields.tlv()?;
        let mut spki = Reader(fields.expect(tag::SEQUENCE)?);
        let mut key_alg = Reader(spki.expect(tag::SEQUENCE)?);
        let key_algorithm = key_alg.expect(tag::OID)?;
        let key_parameter = if key_alg.is_empty() {
            &[][..]
        } else {
            key_alg.element()?.2
        };
        let public_key = bits(spki.expect(tag::BIT_STRING)?)?;

        let mut parsed = Self {
            issuer,
            subject,
            not_before: time(from_tag, from)?,
            not_after: time(until_tag, until)?,
            key_algorithm,
            key_parameter,
            public_key,
            key_cert_sign: None,
        };
        while !fields.is_empty() {
            // [1] and [2] are unique identifiers; [3] holds the extensions.
            let (_, tag, value) = fields.element()?;
            if tag != tag::EXTENSIONS {
                continue;
            }
            let mut list = Reader(Reader(value).expect(tag::SEQUENCE)?);
            while !list.is_empty() {
                parsed.extension(Reader(list.expect(tag::SEQUENCE)?))?;
            }
        }
        Ok(parsed)
    }

    /// Reads one extension into the fields (keyUsage only).
    fn extension(&mut self, mut extension: Reader<'a>) -> Result<(), Malformed> {
        let id = extension.expect(tag::OID)?;
        if extension.peek() == Some(tag::BOOLEAN) {
            extension.element()?; // critical
        }
        let value = extension.expect(tag::OCTET_STRING)?;
        if id == oid::KEY_USAGE {
            let usage = bits(Reader(value).expect(tag::BIT_STRING)?)?;
            // keyCertSign is bit 5.
            self.key_cert_sign = Some(usage.first().is_some_and(|b| b & 0x04 != 0));
        }
        Ok(())
    }

    /// The subject's public key.
    pub(crate) fn key(&self) -> PublicKey<'a> {
        PublicKey {
            algorithm: self.key_algorithm,
            parameter: self.key_parameter,
            key: self.public_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ecdsa_signature, tag, time, Reader};

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
            assert_eq!(
                ecdsa_signature(bad, &mut out),
                Err(super::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn times_in_unix_seconds() {
        let utc = |s: &str| time(tag::UTC_TIME, s.as_bytes());
        let generalized = |s: &str| time(tag::GENERALIZED_TIME, s.as_bytes());
        assert_eq!(utc("700101000000Z"), Ok(0));
        assert_eq!(utc("000229120000Z"), Ok(951_825_600));
        assert_eq!(utc("491231235959Z"), Ok(2_524_607_999));
        assert_eq!(generalized("20380119031408Z"), Ok(2_147_483_648));
        assert_eq!(generalized("21000301000000Z"), Ok(4_107_542_400));
        assert!(utc("700101000000+0100").is_err());
        assert!(utc("701301000000Z").is_err());
        assert!(generalized("2038011903140Z").is_err());
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
