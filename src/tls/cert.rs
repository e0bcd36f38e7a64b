//! The X.509 fields the strict verifier checks, read in place from a DER certificate.
//!
//! Only what verification needs: the signed part and its signature, issuer and subject (as
//! raw DER, compared byte for byte), validity, the public key, basicConstraints, keyUsage and
//! the subjectAltName list. An unknown critical extension makes the certificate unusable,
//! as RFC 5280 requires.

use der::asn1::{AnyRef, GeneralizedTime, UtcTime};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use super::oid;
use super::signature::PublicKey;

/// A certificate that could not be read (or carries what we must not ignore).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

impl From<der::Error> for Malformed {
    fn from(_: der::Error) -> Self {
        Malformed
    }
}

/// The checked fields of one certificate, borrowing its DER.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cert<'a> {
    /// The signed part (`tbsCertificate`), tag and length included.
    pub tbs: &'a [u8],
    /// The OID of the issuer's signature algorithm.
    pub signature_algorithm: &'a [u8],
    /// The issuer's signature (the BIT STRING's bytes).
    pub signature: &'a [u8],
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
    /// basicConstraints cA.
    pub is_ca: bool,
    /// keyUsage keyCertSign, or `None` without a keyUsage extension.
    pub key_cert_sign: Option<bool>,
    /// The subjectAltName GeneralNames, contents of the SEQUENCE (empty when absent).
    pub alt_names: &'a [u8],
}

/// One element and its value.
fn any<'a>(reader: &mut SliceReader<'a>) -> Result<AnyRef<'a>, Malformed> {
    Ok(AnyRef::decode(reader)?)
}

/// The value of the next element, which must carry `tag`.
fn expect<'a>(reader: &mut SliceReader<'a>, tag: Tag) -> Result<&'a [u8], Malformed> {
    let element = any(reader)?;
    if element.tag() != tag {
        return Err(Malformed);
    }
    Ok(element.value())
}

/// A BIT STRING's bytes (whole bytes only).
fn bits(value: &[u8]) -> Result<&[u8], Malformed> {
    match value.split_first() {
        Some((0, rest)) => Ok(rest),
        Some((unused, rest)) if *unused < 8 && !rest.is_empty() => Ok(rest),
        _ => Err(Malformed),
    }
}

/// A UTCTime or GeneralizedTime as Unix seconds.
fn time(element: AnyRef<'_>) -> Result<u64, Malformed> {
    let secs = match element.tag() {
        Tag::UtcTime => UtcTime::try_from(element)?.to_unix_duration().as_secs(),
        Tag::GeneralizedTime => GeneralizedTime::try_from(element)?
            .to_unix_duration()
            .as_secs(),
        _ => return Err(Malformed),
    };
    Ok(secs)
}

impl<'a> Cert<'a> {
    /// Reads `der`, a whole certificate.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, Malformed> {
        let mut outer = SliceReader::new(der)?;
        let body = expect(&mut outer, Tag::Sequence)?;
        outer.finish()?;
        let mut cert = SliceReader::new(body)?;
        let tbs = cert.tlv_bytes()?;
        let mut algorithm = SliceReader::new(expect(&mut cert, Tag::Sequence)?)?;
        let signature_algorithm = expect(&mut algorithm, Tag::ObjectIdentifier)?;
        let signature = bits(expect(&mut cert, Tag::BitString)?)?;
        cert.finish()?;

        let mut tbs_reader = SliceReader::new(tbs)?;
        let mut fields = SliceReader::new(expect(&mut tbs_reader, Tag::Sequence)?)?;
        if Tag::peek(&fields)?.is_context_specific() {
            // [0] version
            any(&mut fields)?;
        }
        expect(&mut fields, Tag::Integer)?; // serial number
        expect(&mut fields, Tag::Sequence)?; // signature algorithm (again)
        let issuer = fields.tlv_bytes()?;
        let mut validity = SliceReader::new(expect(&mut fields, Tag::Sequence)?)?;
        let not_before = time(any(&mut validity)?)?;
        let not_after = time(any(&mut validity)?)?;
        let subject = fields.tlv_bytes()?;
        let mut spki = SliceReader::new(expect(&mut fields, Tag::Sequence)?)?;
        let mut key_alg = SliceReader::new(expect(&mut spki, Tag::Sequence)?)?;
        let key_algorithm = expect(&mut key_alg, Tag::ObjectIdentifier)?;
        let key_parameter = if key_alg.is_finished() {
            &[][..]
        } else {
            any(&mut key_alg)?.value()
        };
        let public_key = bits(expect(&mut spki, Tag::BitString)?)?;

        let mut parsed = Self {
            tbs,
            signature_algorithm,
            signature,
            issuer,
            subject,
            not_before,
            not_after,
            key_algorithm,
            key_parameter,
            public_key,
            is_ca: false,
            key_cert_sign: None,
            alt_names: &[],
        };
        while !fields.is_finished() {
            let element = any(&mut fields)?;
            // [1] and [2] are unique identifiers; [3] holds the extensions.
            if element.tag()
                != (Tag::ContextSpecific {
                    constructed: true,
                    number: TagNumber(3),
                })
            {
                continue;
            }
            let mut wrapper = SliceReader::new(element.value())?;
            let mut list = SliceReader::new(expect(&mut wrapper, Tag::Sequence)?)?;
            while !list.is_finished() {
                let mut extension = SliceReader::new(expect(&mut list, Tag::Sequence)?)?;
                parsed.extension(&mut extension)?;
            }
        }
        Ok(parsed)
    }

    /// Reads one extension into the fields.
    fn extension(&mut self, extension: &mut SliceReader<'a>) -> Result<(), Malformed> {
        let id = expect(extension, Tag::ObjectIdentifier)?;
        let mut critical = false;
        if Tag::peek(extension)? == Tag::Boolean {
            critical = expect(extension, Tag::Boolean)? == [0xFF];
        }
        let value = expect(extension, Tag::OctetString)?;
        let mut inner = SliceReader::new(value)?;
        match id {
            oid::BASIC_CONSTRAINTS => {
                let mut seq = SliceReader::new(expect(&mut inner, Tag::Sequence)?)?;
                if !seq.is_finished() && Tag::peek(&seq)? == Tag::Boolean {
                    self.is_ca = expect(&mut seq, Tag::Boolean)? == [0xFF];
                }
            }
            oid::KEY_USAGE => {
                let usage = bits(expect(&mut inner, Tag::BitString)?)?;
                // keyCertSign is bit 5.
                self.key_cert_sign = Some(usage.first().is_some_and(|b| b & 0x04 != 0));
            }
            oid::SUBJECT_ALT_NAME => self.alt_names = expect(&mut inner, Tag::Sequence)?,
            _ if critical => return Err(Malformed),
            _ => {}
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

    /// The subjectAltName entries: `(tag number, value)`; 2 is dNSName, 7 iPAddress.
    pub(crate) fn alt_names(&self) -> impl Iterator<Item = (u32, &'a [u8])> {
        let mut reader = SliceReader::new(self.alt_names).ok();
        core::iter::from_fn(move || {
            let r = reader.as_mut()?;
            if r.is_finished() {
                return None;
            }
            match AnyRef::decode(r) {
                Ok(name) => match name.tag() {
                    Tag::ContextSpecific { number, .. } => Some((number.0, name.value())),
                    _ => Some((u32::MAX, name.value())),
                },
                Err(_) => None,
            }
        })
    }
}
