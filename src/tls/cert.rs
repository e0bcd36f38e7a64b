//! The few X.509 fields the verifier needs beside webpki, read in place from a DER
//! certificate: issuer and subject (raw DER, to pick the trust anchors that can matter),
//! validity (a moment for webpki when the platform has no clock), the public key (for the
//! handshake signature) and keyUsage keyCertSign (webpki ignores keyUsage; RFC 5280 §4.2.1.3
//! wants keyCertSign on a CA that has the extension). Everything else, and every check, is
//! webpki's (`verify.rs`).

use super::asn1::{tag, Malformed, Reader};
use super::oid;
use super::signature::PublicKey;

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
    use super::time;
    use crate::tls::asn1::tag;

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
}
