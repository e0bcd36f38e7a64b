//! RSA for tcplink's certificate verifier, on platforms with a heap.
//!
//! The core verifies ECDSA itself but has no RSA (its arithmetic allocates); most of the web's
//! chains still end in RSA roots, many leaves are RSA. [`Rsa`] fills the core's
//! [`SignatureCheck`] seam with ring's RSA: PKCS#1 v1.5 with SHA-256/384/512 for certificate
//! signatures, RSA-PSS (rsaEncryption keys) with SHA-256/384/512 for TLS 1.3's
//! CertificateVerify. Keys of 2,048 to 8,192 bits.

use ring::signature::{self, RsaParameters, UnparsedPublicKey};
use tcplink::tls::{PublicKey, SignatureAlgorithm, SignatureCheck, SignatureError};

/// RSA signatures checked with ring.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rsa;

impl Rsa {
    /// ring's parameters for `algorithm`, if it is an RSA one.
    fn parameters(algorithm: SignatureAlgorithm) -> Option<&'static RsaParameters> {
        Some(match algorithm {
            SignatureAlgorithm::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SignatureAlgorithm::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            SignatureAlgorithm::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            SignatureAlgorithm::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
            SignatureAlgorithm::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
            SignatureAlgorithm::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

impl SignatureCheck for Rsa {
    fn handles(&self, algorithm: SignatureAlgorithm) -> bool {
        Self::parameters(algorithm).is_some()
    }

    fn check(
        &self,
        algorithm: SignatureAlgorithm,
        key: &PublicKey<'_>,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        let parameters = Self::parameters(algorithm).ok_or(SignatureError::Unsupported)?;
        if !key.is_rsa() {
            return Err(SignatureError::Unsupported);
        }
        // The subjectPublicKey of an rsaEncryption key is the PKCS#1 RSAPublicKey ring reads.
        UnparsedPublicKey::new(parameters, key.key)
            .verify(message, signature)
            .map_err(|_| SignatureError::Invalid)
    }
}
