//! Signature checks for the verifier, and the seam through which a platform adds algorithms.
//!
//! The core checks ECDSA itself ([`Ecdsa`]: P-256, and P-384 with the `tls-web` feature), with
//! no heap. RSA, which most of the web's chains still use, needs big-integer arithmetic that
//! allocates, so the core has none: a platform with a heap hands the verifier a
//! [`SignatureCheck`] that does it (`tcplink-rsa` on hosts), and only then does the
//! ClientHello offer RSA.

use core::fmt;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use pki_types::alg_id;
use pki_types::{AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use sha2::{Digest, Sha256};
#[cfg(feature = "tls-web")]
use sha2::{Sha384, Sha512};

use super::asn1::ecdsa_signature;
use super::oid;

/// A signature algorithm, as certificates and the TLS 1.3 handshake name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// ECDSA with SHA-256 (the curve is the key's).
    EcdsaSha256,
    /// ECDSA with SHA-384.
    EcdsaSha384,
    /// ECDSA with SHA-512.
    EcdsaSha512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (certificates only; TLS 1.3 forbids it in the handshake).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsaPkcs1Sha512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, by an rsaEncryption key
    /// (TLS 1.3's `rsa_pss_rsae_sha256`).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384 (`rsa_pss_rsae_sha384`).
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512 (`rsa_pss_rsae_sha512`).
    RsaPssSha512,
}

/// A subjectPublicKeyInfo, read in place.
#[derive(Debug, Clone, Copy)]
pub struct PublicKey<'a> {
    /// The key algorithm's OID (DER contents): id-ecPublicKey, rsaEncryption, …
    pub algorithm: &'a [u8],
    /// Its parameter, raw DER contents: the named curve's OID for EC keys (empty for RSA).
    pub parameter: &'a [u8],
    /// The subjectPublicKey bits: a SEC1 point for EC, a PKCS#1 RSAPublicKey for RSA.
    pub key: &'a [u8],
}

impl PublicKey<'_> {
    /// Whether this is an RSA key (rsaEncryption).
    pub fn is_rsa(&self) -> bool {
        self.algorithm == oid::RSA_ENCRYPTION
    }
}

/// Why a signature was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// This checker does not do this algorithm or this kind of key.
    Unsupported,
    /// The signature is wrong (or the key or signature is malformed).
    Invalid,
}

/// Checks signatures: the core's [`Ecdsa`], or a platform's addition (RSA on a host).
/// `Sync` because webpki's algorithms must be (a checker is normally a unit struct).
pub trait SignatureCheck: Sync {
    /// Whether this checker does `algorithm` at all (the ClientHello offers RSA only when the
    /// platform's checker does [`SignatureAlgorithm::RsaPssSha256`]).
    fn handles(&self, algorithm: SignatureAlgorithm) -> bool;

    /// `Ok` when `signature` is `key`'s signature over `message` under `algorithm` (the
    /// checker hashes `message` itself).
    fn check(
        &self,
        algorithm: SignatureAlgorithm,
        key: &PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError>;
}

/// The core's own checker: ECDSA over P-256 with SHA-256; with `tls-web` also P-384 and
/// SHA-384/512 (software SHA-512 is large in a board's flash, so it is opt-in).
pub struct Ecdsa;

impl SignatureCheck for Ecdsa {
    fn handles(&self, algorithm: SignatureAlgorithm) -> bool {
        let web = matches!(
            algorithm,
            SignatureAlgorithm::EcdsaSha384 | SignatureAlgorithm::EcdsaSha512
        );
        algorithm == SignatureAlgorithm::EcdsaSha256 || (web && cfg!(feature = "tls-web"))
    }

    fn check(
        &self,
        algorithm: SignatureAlgorithm,
        key: &PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if key.algorithm != oid::EC_PUBLIC_KEY {
            return Err(SignatureError::Unsupported);
        }
        // A digest as long as the largest hash, with the used length.
        let mut digest = [0u8; 64];
        let length = match algorithm {
            SignatureAlgorithm::EcdsaSha256 => {
                digest[..32].copy_from_slice(&Sha256::digest(message));
                32
            }
            #[cfg(feature = "tls-web")]
            SignatureAlgorithm::EcdsaSha384 => {
                digest[..48].copy_from_slice(&Sha384::digest(message));
                48
            }
            #[cfg(feature = "tls-web")]
            SignatureAlgorithm::EcdsaSha512 => {
                digest.copy_from_slice(&Sha512::digest(message));
                64
            }
            _ => return Err(SignatureError::Unsupported),
        };
        let digest = &digest[..length];
        let verified = match key.parameter {
            oid::P256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key.key)
                    .map_err(|_| SignatureError::Invalid)?;
                let mut rs = [0u8; 64];
                ecdsa_signature(signature, &mut rs).map_err(|_| SignatureError::Invalid)?;
                let signature =
                    p256::ecdsa::Signature::from_slice(&rs).map_err(|_| SignatureError::Invalid)?;
                key.verify_prehash(digest, &signature).is_ok()
            }
            #[cfg(feature = "tls-web")]
            oid::P384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(key.key)
                    .map_err(|_| SignatureError::Invalid)?;
                let mut rs = [0u8; 96];
                ecdsa_signature(signature, &mut rs).map_err(|_| SignatureError::Invalid)?;
                let signature =
                    p384::ecdsa::Signature::from_slice(&rs).map_err(|_| SignatureError::Invalid)?;
                key.verify_prehash(digest, &signature).is_ok()
            }
            _ => return Err(SignatureError::Unsupported),
        };
        if verified {
            Ok(())
        } else {
            Err(SignatureError::Invalid)
        }
    }
}

/// One certificate signature algorithm as webpki asks for it (key algorithm and signature
/// algorithm identifiers), checked by the core's [`Ecdsa`] or by the platform's checker.
#[derive(Clone, Copy)]
pub(crate) struct CertAlgorithm<'a> {
    key_id: AlgorithmIdentifier,
    signature_id: AlgorithmIdentifier,
    /// The key's algorithm OID and parameter, as [`PublicKey`] gives them to the checker.
    key_algorithm: &'static [u8],
    key_parameter: &'static [u8],
    algorithm: SignatureAlgorithm,
    check: &'a dyn SignatureCheck,
}

/// webpki's trait asks for `Debug`; it prints nothing, so a board links no `core::fmt`
/// formatting for it (webpki never prints an algorithm without `alloc`).
impl fmt::Debug for CertAlgorithm<'_> {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

impl SignatureVerificationAlgorithm for CertAlgorithm<'_> {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key = PublicKey {
            algorithm: self.key_algorithm,
            parameter: self.key_parameter,
            key: public_key,
        };
        self.check
            .check(self.algorithm, &key, message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.key_id
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature_id
    }
}

/// An ECDSA certificate signature by a key on `curve` (`key_id` its SPKI algorithm), checked
/// by the core.
const fn ecdsa(
    key_id: AlgorithmIdentifier,
    curve: &'static [u8],
    signature_id: AlgorithmIdentifier,
    algorithm: SignatureAlgorithm,
) -> CertAlgorithm<'static> {
    CertAlgorithm {
        key_id,
        signature_id,
        key_algorithm: oid::EC_PUBLIC_KEY,
        key_parameter: curve,
        algorithm,
        check: &Ecdsa,
    }
}

/// The certificate signatures the core checks itself: ECDSA P-256 with SHA-256; with
/// `tls-web` P-256 and P-384 with SHA-256, SHA-384 and SHA-512.
#[cfg(not(feature = "tls-web"))]
pub(crate) const ECDSA_CERT_ALGORITHMS: &[CertAlgorithm<'static>] = &[ecdsa(
    alg_id::ECDSA_P256,
    oid::P256,
    alg_id::ECDSA_SHA256,
    SignatureAlgorithm::EcdsaSha256,
)];
#[cfg(feature = "tls-web")]
pub(crate) const ECDSA_CERT_ALGORITHMS: &[CertAlgorithm<'static>] = &{
    use SignatureAlgorithm::{EcdsaSha256, EcdsaSha384, EcdsaSha512};
    let (p256, p384) = (alg_id::ECDSA_P256, alg_id::ECDSA_P384);
    let (sha256, sha384, sha512) = (
        alg_id::ECDSA_SHA256,
        alg_id::ECDSA_SHA384,
        alg_id::ECDSA_SHA512,
    );
    [
        ecdsa(p256, oid::P256, sha256, EcdsaSha256),
        ecdsa(p256, oid::P256, sha384, EcdsaSha384),
        ecdsa(p256, oid::P256, sha512, EcdsaSha512),
        ecdsa(p384, oid::P384, sha256, EcdsaSha256),
        ecdsa(p384, oid::P384, sha384, EcdsaSha384),
        ecdsa(p384, oid::P384, sha512, EcdsaSha512),
    ]
};

/// The RSA certificate signatures (PKCS#1 v1.5; RSA-PSS certificates are not supported, as
/// the web does not use them) that `platform` checks: at most three.
pub(crate) fn platform_cert_algorithms(
    platform: &dyn SignatureCheck,
) -> impl Iterator<Item = CertAlgorithm<'_>> {
    [
        (alg_id::RSA_PKCS1_SHA256, SignatureAlgorithm::RsaPkcs1Sha256),
        (alg_id::RSA_PKCS1_SHA384, SignatureAlgorithm::RsaPkcs1Sha384),
        (alg_id::RSA_PKCS1_SHA512, SignatureAlgorithm::RsaPkcs1Sha512),
    ]
    .into_iter()
    .filter(|&(_, algorithm)| platform.handles(algorithm))
    .map(move |(signature_id, algorithm)| CertAlgorithm {
        key_id: alg_id::RSA_ENCRYPTION,
        signature_id,
        key_algorithm: oid::RSA_ENCRYPTION,
        key_parameter: &[],
        algorithm,
        check: platform,
    })
}
