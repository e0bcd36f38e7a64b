//! Our own certificate verifier: strict where embedded-tls's `CertVerifier` is lax.
//!
//! * every certificate above the leaf must be a CA (basicConstraints cA:TRUE and keyUsage
//!   keyCertSign), so an ordinary server certificate cannot sign one for another name;
//! * each certificate must be signed by the next, the top one by a trust anchor whose subject
//!   is its issuer (one of several anchors);
//! * the host name is matched against every subjectAltName, DNS names and IP addresses;
//! * validity dates are checked whenever the platform gives the time;
//! * signatures are ECDSA (the core's [`Ecdsa`]) or whatever the platform's
//!   [`SignatureCheck`] adds (RSA on a host); anything else is `UnsupportedAlgorithm`.
//!
//! Every failure is kept as a [`TlsFailure`] so the GET reports why, not just "bad certificate".

use embedded_tls::{
    Aes128GcmSha256, CertificateEntryRef, CertificateRef, CertificateVerifyRef, SignatureScheme,
    TlsError, TlsVerifier,
};
use heapless::{String, Vec};
use sha2::{Digest, Sha256};

use super::cert::Cert;
use super::signature::{Ecdsa, PublicKey, SignatureAlgorithm, SignatureCheck, SignatureError};
use crate::http::TlsFailure;

/// Longest host name checked (DNS names are at most 253 bytes).
pub(crate) const MAX_HOST: usize = 255;

/// Room for the leaf's public key until the handshake signature: an RSA key up to 8,192 bits
/// (PKCS#1 DER) with `tls-web`, else a P-256 point.
#[cfg(feature = "tls-web")]
const LEAF_KEY: usize = 1040;
#[cfg(not(feature = "tls-web"))]
const LEAF_KEY: usize = 65;

/// Where the wall-clock time for validity dates comes from: a function of the platform that
/// returns Unix seconds, or `None` when it does not know the time.
pub type UnixClock = fn() -> Option<u64>;

/// The verifier for one handshake.
pub(crate) struct StrictVerifier<'a> {
    anchors: &'a [&'a [u8]],
    clock: Option<UnixClock>,
    /// The platform's algorithms beyond the core's ECDSA.
    more: Option<&'a dyn SignatureCheck>,
    host: String<MAX_HOST>,
    /// The leaf's key algorithm, curve and key, for the handshake signature.
    leaf_algorithm: Vec<u8, 16>,
    leaf_parameter: Vec<u8, 16>,
    leaf_key: Vec<u8, LEAF_KEY>,
    transcript: Option<Sha256>,
    /// Why the last check failed.
    pub(crate) failure: Option<TlsFailure>,
}

impl<'a> StrictVerifier<'a> {
    /// Trusts the CA certificates `anchors` (DER); dates are checked when `clock` says the
    /// time; `more` checks the signatures the core does not.
    pub(crate) fn new(
        anchors: &'a [&'a [u8]],
        clock: Option<UnixClock>,
        more: Option<&'a dyn SignatureCheck>,
    ) -> Self {
        Self {
            anchors,
            clock,
            more,
            host: String::new(),
            leaf_algorithm: Vec::new(),
            leaf_parameter: Vec::new(),
            leaf_key: Vec::new(),
            transcript: None,
            failure: None,
        }
    }

    /// Remembers `failure` and hands embedded-tls an error that aborts the handshake.
    fn fail(&mut self, failure: TlsFailure) -> TlsError {
        self.failure = Some(failure);
        TlsError::InvalidCertificate
    }

    /// Checks the server's chain (leaf first) for `self.host`: up from the leaf, each
    /// certificate signed by the next, until one is an anchor or issued by one. What the
    /// server sends above that point (e.g. an old cross-signed copy of the root, expired or
    /// not) is not part of the path and is not checked.
    fn check_chain(&mut self, chain: &[&[u8]]) -> Result<(), TlsFailure> {
        let mut certs: Vec<Cert<'_>, 16> = Vec::new();
        for der in chain {
            let cert = Cert::parse(der).map_err(|_| TlsFailure::BadCertificate)?;
            // Fits: embedded-tls keeps at most 16 entries.
            let _ = certs.push(cert);
        }
        let Some(leaf) = certs.first() else {
            return Err(TlsFailure::BadCertificate);
        };
        let now = self.clock.and_then(|clock| clock());
        let mut last_error = TlsFailure::UnknownCa;
        for (i, cert) in certs.iter().enumerate() {
            if let Some(now) = now {
                if now < cert.not_before {
                    return Err(TlsFailure::NotYetValid);
                }
                if now > cert.not_after {
                    return Err(TlsFailure::Expired);
                }
            }
            if i == 0 {
                if !host_matches(leaf, &self.host) {
                    return Err(TlsFailure::NameMismatch);
                }
            } else {
                let child = &certs[i - 1];
                if !cert.is_ca || cert.key_cert_sign != Some(true) {
                    return Err(TlsFailure::NotCa);
                }
                if child.issuer != cert.subject {
                    return Err(TlsFailure::BadChain);
                }
                self.check_signed(child, cert)
                    .map_err(|error| match error {
                        SignatureError::Unsupported => TlsFailure::UnsupportedAlgorithm,
                        SignatureError::Invalid => TlsFailure::BadChain,
                    })?;
            }
            match self.anchored(cert) {
                Ok(()) => return Ok(()),
                Err(error) => last_error = error,
            }
        }
        Err(last_error)
    }

    /// Whether `cert` is one of the anchors (sent along, or a pinned leaf) or issued by one.
    fn anchored(&self, cert: &Cert<'_>) -> Result<(), TlsFailure> {
        let mut last_error = TlsFailure::UnknownCa;
        for anchor_der in self.anchors {
            let Ok(anchor) = Cert::parse(anchor_der) else {
                // An anchor we cannot read (e.g. an unknown critical extension) vouches for
                // nothing; the others still count.
                continue;
            };
            if cert.subject == anchor.subject && cert.public_key == anchor.public_key {
                return Ok(());
            }
            if cert.issuer != anchor.subject {
                continue;
            }
            if !anchor.is_ca || anchor.key_cert_sign == Some(false) {
                last_error = TlsFailure::NotCa;
                continue;
            }
            match self.check_signed(cert, &anchor) {
                Ok(()) => return Ok(()),
                Err(SignatureError::Unsupported) => last_error = TlsFailure::UnsupportedAlgorithm,
                Err(SignatureError::Invalid) => last_error = TlsFailure::UnknownCa,
            }
        }
        Err(last_error)
    }

    /// Whether `issuer`'s key signed `cert`.
    fn check_signed(&self, cert: &Cert<'_>, issuer: &Cert<'_>) -> Result<(), SignatureError> {
        let algorithm = SignatureAlgorithm::from_certificate(cert.signature_algorithm)
            .ok_or(SignatureError::Unsupported)?;
        self.check(algorithm, &issuer.key(), cert.tbs, cert.signature)
    }

    /// Checks one signature with the core's ECDSA, or else the platform's checker.
    fn check(
        &self,
        algorithm: SignatureAlgorithm,
        key: &PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        match Ecdsa.check(algorithm, key, message, signature) {
            Err(SignatureError::Unsupported) => match self.more {
                Some(more) if more.handles(algorithm) => {
                    more.check(algorithm, key, message, signature)
                }
                _ => Err(SignatureError::Unsupported),
            },
            result => result,
        }
    }

    /// Whether the ClientHello may offer RSA signatures: only when something checks them.
    pub(crate) fn offers_rsa(&self) -> bool {
        self.more
            .is_some_and(|more| more.handles(SignatureAlgorithm::RsaPssSha256))
    }
}

impl TlsVerifier<Aes128GcmSha256> for StrictVerifier<'_> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), TlsError> {
        self.host.clear();
        self.host
            .push_str(hostname)
            .map_err(|_| TlsError::InsufficientSpace)
    }

    fn verify_certificate(
        &mut self,
        transcript: &Sha256,
        cert: CertificateRef<'_>,
    ) -> Result<(), TlsError> {
        self.failure = None;
        let mut chain: Vec<&[u8], 16> = Vec::new();
        for entry in &cert.entries {
            match entry {
                CertificateEntryRef::X509(der) => {
                    let _ = chain.push(der);
                }
                CertificateEntryRef::RawPublicKey(_) => {
                    return Err(self.fail(TlsFailure::BadCertificate));
                }
            }
        }
        if let Err(failure) = self.check_chain(&chain) {
            return Err(self.fail(failure));
        }
        let leaf = Cert::parse(chain[0]).map_err(|_| self.fail(TlsFailure::BadCertificate))?;
        let key = leaf.key();
        self.leaf_algorithm.clear();
        self.leaf_parameter.clear();
        self.leaf_key.clear();
        let kept = self.leaf_algorithm.extend_from_slice(key.algorithm).is_ok()
            && self.leaf_parameter.extend_from_slice(key.parameter).is_ok()
            && self.leaf_key.extend_from_slice(key.key).is_ok();
        if !kept {
            // A key larger than we keep (an RSA key without `tls-web`, or over 8,192 bits).
            return Err(self.fail(TlsFailure::UnsupportedAlgorithm));
        }
        self.transcript = Some(transcript.clone());
        Ok(())
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), TlsError> {
        let Some(transcript) = self.transcript.take() else {
            return Err(self.fail(TlsFailure::BadChain));
        };
        let key = PublicKey {
            algorithm: &self.leaf_algorithm,
            parameter: &self.leaf_parameter,
            key: &self.leaf_key,
        };
        let Some(algorithm) = handshake_algorithm(verify.signature_scheme, &key) else {
            return Err(self.fail(TlsFailure::UnsupportedAlgorithm));
        };
        // RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, the transcript hash.
        let mut message: Vec<u8, 130> = Vec::new();
        let _ = message.resize(64, b' ');
        let _ = message.extend_from_slice(b"TLS 1.3, server CertificateVerify\x00");
        let _ = message.extend_from_slice(&transcript.finalize());
        match self.check(algorithm, &key, &message, verify.signature) {
            Ok(()) => Ok(()),
            Err(SignatureError::Unsupported) => Err(self.fail(TlsFailure::UnsupportedAlgorithm)),
            Err(SignatureError::Invalid) => Err(self.fail(TlsFailure::BadSignature)),
        }
    }
}

/// The algorithm of a TLS 1.3 CertificateVerify `scheme` by `key`, if TLS 1.3 allows it: ECDSA
/// schemes bind their curve, RSA is PSS only (RFC 8446 §4.2.3).
fn handshake_algorithm(scheme: SignatureScheme, key: &PublicKey<'_>) -> Option<SignatureAlgorithm> {
    use super::oid;
    match scheme {
        SignatureScheme::EcdsaSecp256r1Sha256 if key.parameter == oid::P256 => {
            Some(SignatureAlgorithm::EcdsaSha256)
        }
        SignatureScheme::EcdsaSecp384r1Sha384 if key.parameter == oid::P384 => {
            Some(SignatureAlgorithm::EcdsaSha384)
        }
        SignatureScheme::RsaPssRsaeSha256 if key.is_rsa() => Some(SignatureAlgorithm::RsaPssSha256),
        SignatureScheme::RsaPssRsaeSha384 if key.is_rsa() => Some(SignatureAlgorithm::RsaPssSha384),
        SignatureScheme::RsaPssRsaeSha512 if key.is_rsa() => Some(SignatureAlgorithm::RsaPssSha512),
        _ => None,
    }
}

/// Whether any subjectAltName of `leaf` names `host`: an IP address SAN for an address
/// literal, else a DNS SAN (a `*.` wildcard stands for exactly one leftmost label).
fn host_matches(leaf: &Cert<'_>, host: &str) -> bool {
    if let Ok(ip) = host.parse::<core::net::IpAddr>() {
        return leaf.alt_names().any(|(tag, value)| {
            tag == 7
                && match ip {
                    core::net::IpAddr::V4(v4) => value == v4.octets(),
                    core::net::IpAddr::V6(v6) => value == v6.octets(),
                }
        });
    }
    leaf.alt_names()
        .any(|(tag, value)| tag == 2 && dns_name_matches(value, host.as_bytes()))
}

/// RFC 6125 matching of one DNS SAN `pattern` against `host`, ignoring ASCII case.
fn dns_name_matches(pattern: &[u8], host: &[u8]) -> bool {
    let host = host.strip_suffix(b".").unwrap_or(host);
    if let Some(suffix) = pattern.strip_prefix(b"*.") {
        // The wildcard covers one label, never a public suffix alone ("*.com").
        let Some(dot) = host.iter().position(|&b| b == b'.') else {
            return false;
        };
        return dot > 0 && suffix.contains(&b'.') && host[dot + 1..].eq_ignore_ascii_case(suffix);
    }
    !pattern.contains(&b'*') && pattern.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::dns_name_matches;

    #[test]
    fn dns_names() {
        assert!(dns_name_matches(b"files.test", b"FILES.test"));
        assert!(dns_name_matches(b"*.example.test", b"a.example.test"));
        assert!(!dns_name_matches(b"*.example.test", b"a.b.example.test"));
        assert!(!dns_name_matches(b"*.example.test", b"example.test"));
        assert!(!dns_name_matches(b"*.test", b"a.test"));
        assert!(!dns_name_matches(b"f*.test", b"fa.test"));
        assert!(!dns_name_matches(b"files.test", b"other.test"));
    }
}
