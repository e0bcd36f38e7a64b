//! The certificate verifier: webpki (rustls-webpki, no heap) checks the server's chain, the
//! core's ECDSA and the platform's [`SignatureCheck`] check its signatures.
//!
//! * webpki builds a path from the leaf through the intermediates the server sent, in any
//!   order, to a trust anchor, enforcing RFC 5280: basicConstraints cA and pathLenConstraint,
//!   name constraints, extendedKeyUsage serverAuth (when the leaf has the extension), validity
//!   dates, and the host name against DNS and IP subjectAltNames;
//! * on top of webpki, which ignores keyUsage: a CA on the path that has a keyUsage extension
//!   must assert keyCertSign (RFC 5280 §4.2.1.3; without the extension, cA alone suffices);
//! * webpki always checks dates: with no clock, the moment is the latest notBefore of the
//!   chain that the leaf is still valid at (dates are then only checked for consistency);
//! * signatures are ECDSA (the core's [`Ecdsa`]) or whatever the platform's
//!   [`SignatureCheck`] adds (RSA on a host); anything else is `UnsupportedAlgorithm`.
//!
//! Every failure is kept as a [`TlsFailure`] naming its cause, mapped from webpki's error.

use core::time::Duration;

use embedded_tls::alert::{AlertDescription, AlertLevel};
use embedded_tls::{
    Aes128GcmSha256, CertificateEntryRef, CertificateRef, CertificateVerifyRef, SignatureScheme,
    TlsError, TlsVerifier,
};
use heapless::{String, Vec};
use pki_types::{
    CertificateDer, ServerName, SignatureVerificationAlgorithm, TrustAnchor, UnixTime,
};
use sha2::{Digest, Sha256};
use webpki::{EndEntityCert, KeyUsage, VerifiedPath};

use super::cert::Cert;
use super::signature::{
    platform_cert_algorithms, Ecdsa, PublicKey, SignatureAlgorithm, SignatureCheck, SignatureError,
    ECDSA_CERT_ALGORITHMS,
};
use crate::http::TlsFailure;

/// Most certificates a server's chain may hold (embedded-tls keeps at most 16 entries).
const MAX_CHAIN: usize = 16;
/// Most trust anchors whose subject is an issuer in the chain, tried for one chain.
const MAX_ANCHORS: usize = 8;
/// Room for the certificate algorithms: the core's ECDSA and three RSA from the platform.
const MAX_ALGORITHMS: usize = 9;

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
    /// Trusts the CA certificates `anchors` (DER) for `host` (a DNS name or an address
    /// literal: given here, as the ClientHello names no address); dates are checked when
    /// `clock` says the time; `more` checks the signatures the core does not.
    pub(crate) fn new(
        anchors: &'a [&'a [u8]],
        clock: Option<UnixClock>,
        more: Option<&'a dyn SignatureCheck>,
        host: &str,
    ) -> Self {
        let mut name = String::new();
        // Fits: the layer keeps the host in a `String<MAX_HOST>` too (an empty name would
        // match nothing).
        let _ = name.push_str(host);
        Self {
            anchors,
            clock,
            more,
            host: name,
            leaf_algorithm: Vec::new(),
            leaf_parameter: Vec::new(),
            leaf_key: Vec::new(),
            transcript: None,
            failure: None,
        }
    }

    /// Remembers `failure` and hands embedded-tls an error that aborts the handshake with
    /// a fatal alert naming it, sent to the server before the connection closes.
    fn fail(&mut self, failure: TlsFailure) -> TlsError {
        self.failure = Some(failure);
        TlsError::AbortHandshake(AlertLevel::Fatal, refusal_alert(failure))
    }

    /// Checks the server's chain (leaf first) for `self.host` with webpki: a path from the
    /// leaf through any of the other certificates to one of the anchors. What the server
    /// sends beside that path (e.g. an old cross-signed copy of the root, expired or not) is
    /// not checked.
    fn check_chain(&self, chain: &[&[u8]]) -> Result<(), TlsFailure> {
        let Some((&leaf_der, rest)) = chain.split_first() else {
            return Err(TlsFailure::BadCertificate);
        };
        let leaf_der = CertificateDer::from(leaf_der);
        let leaf = EndEntityCert::try_from(&leaf_der).map_err(|e| failure_of(&e))?;
        let intermediates: Vec<CertificateDer<'_>, MAX_CHAIN> =
            rest.iter().map(|&der| CertificateDer::from(der)).collect();
        // Only the anchors whose subject issued a certificate of the chain can end a path:
        // a host's system store has a hundred and more, which would not fit on a stack.
        let issuers: Vec<Cert<'_>, MAX_CHAIN> = chain
            .iter()
            .filter_map(|der| Cert::parse(der).ok())
            .collect();
        let anchor_ders: Vec<CertificateDer<'_>, MAX_ANCHORS> = self
            .anchors
            .iter()
            .filter(|der| {
                Cert::parse(der)
                    .is_ok_and(|anchor| issuers.iter().any(|cert| cert.issuer == anchor.subject))
            })
            .take(MAX_ANCHORS)
            .map(|&der| CertificateDer::from(der))
            .collect();
        // An anchor webpki cannot read vouches for nothing; the others still count.
        let anchors: Vec<TrustAnchor<'_>, MAX_ANCHORS> = anchor_ders
            .iter()
            .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
            .collect();
        if anchors.is_empty() {
            return Err(TlsFailure::UnknownCa);
        }
        let platform: Vec<_, 3> = self
            .more
            .into_iter()
            .flat_map(platform_cert_algorithms)
            .collect();
        let algorithms: Vec<&dyn SignatureVerificationAlgorithm, MAX_ALGORITHMS> =
            ECDSA_CERT_ALGORITHMS
                .iter()
                .map(|a| a as &dyn SignatureVerificationAlgorithm)
                .chain(
                    platform
                        .iter()
                        .map(|a| a as &dyn SignatureVerificationAlgorithm),
                )
                .collect();
        let now = match self.clock.and_then(|clock| clock()) {
            Some(now) => now,
            None => consistent_moment(&issuers),
        };
        leaf.verify_for_usage(
            &algorithms,
            &anchors,
            &intermediates,
            UnixTime::since_unix_epoch(Duration::from_secs(now)),
            KeyUsage::server_auth(),
            None,
            Some(&cas_may_sign),
        )
        .map_err(|e| failure_of(&e))?;
        // The host as a DNS name (without a final dot) or an IP address literal.
        let host = self.host.strip_suffix('.').unwrap_or(&self.host);
        let name = ServerName::try_from(host).map_err(|_| TlsFailure::NameMismatch)?;
        leaf.verify_is_valid_for_subject_name(&name)
            .map_err(|e| failure_of(&e))
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

/// RFC 5280 §4.2.1.3, which webpki leaves out: a CA with a keyUsage extension must assert
/// keyCertSign to sign certificates (webpki has checked cA and the path length). Refused
/// like a certificate that is no CA at all.
///
/// Public so that another TLS engine verifying through webpki (tcplink-rustls) enforces the
/// same rule: pass it as `verify_for_usage`'s `verify_path` callback.
pub fn cas_may_sign(path: &VerifiedPath<'_>) -> Result<(), webpki::Error> {
    for cert in path.intermediate_certificates() {
        let der = cert.der();
        if Cert::parse(&der).is_ok_and(|cert| cert.key_cert_sign == Some(false)) {
            return Err(webpki::Error::EndEntityUsedAsCa);
        }
    }
    Ok(())
}

/// With no clock, the moment webpki checks dates at: the latest notBefore of the chain at
/// which the leaf is still valid, so a chain whose certificates were all valid together at
/// some moment passes, and only one that never was (or a leaf that expired before it
/// became valid) fails.
fn consistent_moment(chain: &[Cert<'_>]) -> u64 {
    let Some(leaf) = chain.first() else {
        return 0;
    };
    chain
        .iter()
        .map(|cert| cert.not_before)
        .filter(|&from| from <= leaf.not_after)
        .max()
        .unwrap_or(leaf.not_before)
}

/// The failure webpki's `error` stands for.
///
/// Public so that another TLS engine verifying through webpki (tcplink-rustls) reports the
/// same [`TlsFailure`] for the same fault.
pub fn failure_of(error: &webpki::Error) -> TlsFailure {
    use webpki::Error as E;
    // webpki 0.103 reports the `...Context` forms; the deprecated unit variants it no longer
    // returns fall to the last arm.
    match error {
        E::UnknownIssuer | E::CertDistrusted => TlsFailure::UnknownCa,
        E::CertExpired { .. } => TlsFailure::Expired,
        E::CertNotValidYet { .. } => TlsFailure::NotYetValid,
        E::CertNotValidForName(_) => TlsFailure::NameMismatch,
        E::EndEntityUsedAsCa => TlsFailure::NotCa,
        E::CaUsedAsEndEntity => TlsFailure::CaAsLeaf,
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => TlsFailure::NotForServers,
        E::PathLenConstraintViolated => TlsFailure::PathLength,
        E::NameConstraintViolation => TlsFailure::NameConstraints,
        E::InvalidSignatureForPublicKey => TlsFailure::BadChain,
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            TlsFailure::UnsupportedAlgorithm
        }
        E::MaximumPathDepthExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumNameConstraintComparisonsExceeded => TlsFailure::ChainTooComplex,
        // Malformed DER, an unsupported critical extension or version, a bad name or name
        // constraint: the certificate cannot be read as RFC 5280 requires.
        _ => TlsFailure::BadCertificate,
    }
}

/// The alert that tells a server why its certificate or signature was refused: the one
/// rustls sends for the same finding (through the `CertificateError` tcplink-rustls gives
/// it), so both engines say the same on the wire, as curl and OpenSSL do.
fn refusal_alert(failure: TlsFailure) -> AlertDescription {
    match failure {
        TlsFailure::UnknownCa => AlertDescription::UnknownCa,
        TlsFailure::Expired | TlsFailure::NotYetValid => AlertDescription::CertificateExpired,
        TlsFailure::NameMismatch | TlsFailure::BadCertificate => AlertDescription::BadCertificate,
        TlsFailure::BadChain | TlsFailure::BadSignature => AlertDescription::DecryptError,
        TlsFailure::NotForServers => AlertDescription::UnsupportedCertificate,
        _ => AlertDescription::AccessDenied,
    }
}
