//! A throw-away PKI for the TLS tests: a CA and certificates made fresh by each test
//! (rcgen; ECDSA P-256 unless a test asks for P-384 or RSA), so nothing committed can expire.
//! RSA keys are fixtures (ring, rcgen's backend here, cannot generate them): a private key
//! does not expire, the certificates are still made per test.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256,
};
use time::{Duration, OffsetDateTime};

/// A certificate with its key, able to sign others.
pub struct Issuer {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Its key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A leaf for a server: the chain to present (leaf first) and the leaf's key.
pub struct ServerCert {
    /// Leaf first, then intermediates (never the root).
    pub chain: Vec<Vec<u8>>,
    /// The leaf's key, PKCS#8 DER.
    pub key_der: Vec<u8>,
}

/// Validity of a certificate, in days relative to now.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    /// Days from now when it becomes valid (negative: in the past).
    pub from_days: i64,
    /// Days from now when it expires.
    pub until_days: i64,
}

impl Default for Validity {
    fn default() -> Self {
        Self {
            from_days: -1,
            until_days: 365,
        }
    }
}

fn params(names: &[&str], common_name: &str, validity: Validity) -> CertificateParams {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("names");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let now = OffsetDateTime::now_utc();
    params.not_before = now + Duration::days(validity.from_days);
    params.not_after = now + Duration::days(validity.until_days);
    params
}

/// The kind of key a certificate gets (and signs others with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA P-256 (signs with SHA-256).
    P256,
    /// ECDSA P-384 (signs with SHA-384).
    P384,
    /// RSA 2,048 bits (signs PKCS#1 v1.5 with SHA-256); CAs and leaves get different keys.
    Rsa2048,
}

/// Two RSA-2048 keys, made once with `openssl genpkey -algorithm RSA`.
const RSA_CA_KEY: &str = include_str!("../fixtures/rsa-2048-ca.pem");
const RSA_LEAF_KEY: &str = include_str!("../fixtures/rsa-2048-leaf.pem");

/// A key of `kind`; `ca` picks which RSA fixture.
fn key_of(kind: KeyKind, ca: bool) -> KeyPair {
    match kind {
        KeyKind::P256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key"),
        KeyKind::P384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("P-384 key"),
        KeyKind::Rsa2048 => {
            let pem = if ca { RSA_CA_KEY } else { RSA_LEAF_KEY };
            KeyPair::from_pem_and_sign_algo(pem, &PKCS_RSA_SHA256).expect("RSA key fixture")
        }
    }
}

impl Issuer {
    /// A self-signed root CA named `name` (basicConstraints CA, keyCertSign).
    pub fn root(name: &str) -> Self {
        Self::root_keyed(name, KeyKind::P256)
    }

    /// [`root`](Self::root) with a key of `kind`.
    pub fn root_keyed(name: &str, kind: KeyKind) -> Self {
        let mut params = params(&[], name, Validity::default());
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = key_of(kind, true);
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self::from(cert, key)
    }

    fn from(cert: rcgen::Certificate, key: KeyPair) -> Self {
        Self {
            der: cert.der().to_vec(),
            key_der: key.serialize_der(),
            cert,
            key,
        }
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, name: &str) -> Self {
        self.intermediate_keyed(name, KeyKind::P256)
    }

    /// [`intermediate`](Self::intermediate) with a key of `kind`.
    pub fn intermediate_keyed(&self, name: &str, kind: KeyKind) -> Self {
        self.intermediate_made(name, kind, |_| {})
    }

    /// [`intermediate`](Self::intermediate) with its parameters changed by `edit` first
    /// (rcgen's: a pathLenConstraint, name constraints, no keyUsage extension, ...).
    pub fn intermediate_with(&self, name: &str, edit: impl FnOnce(&mut CertificateParams)) -> Self {
        self.intermediate_made(name, KeyKind::P256, edit)
    }

    fn intermediate_made(
        &self,
        name: &str,
        kind: KeyKind,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Self {
        let mut params = params(&[], name, Validity::default());
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        edit(&mut params);
        let key = key_of(kind, true);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("intermediate");
        Self::from(cert, key)
    }

    /// An ordinary server certificate (CA:FALSE, digitalSignature) for `names`, signed by
    /// this issuer; as an [`Issuer`] so a test can (wrongly) sign with it.
    pub fn leaf(&self, names: &[&str], validity: Validity) -> Self {
        self.leaf_keyed(names, validity, KeyKind::P256)
    }

    /// [`leaf`](Self::leaf) with a key of `kind`.
    pub fn leaf_keyed(&self, names: &[&str], validity: Validity, kind: KeyKind) -> Self {
        self.leaf_made(names, validity, kind, |_| {})
    }

    fn leaf_made(
        &self,
        names: &[&str],
        validity: Validity,
        kind: KeyKind,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Self {
        let mut params = params(names, names.first().copied().unwrap_or("leaf"), validity);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        edit(&mut params);
        let key = key_of(kind, false);
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("leaf");
        Self::from(cert, key)
    }

    /// A server certificate for `names` presented with `above` (leaf first).
    pub fn server(&self, names: &[&str], above: &[&Issuer]) -> ServerCert {
        self.server_valid(names, Validity::default(), above)
    }

    /// [`server`](Self::server) with the leaf's parameters changed by `edit` first (rcgen's:
    /// extendedKeyUsage, ...).
    pub fn server_with(
        &self,
        names: &[&str],
        above: &[&Issuer],
        edit: impl FnOnce(&mut CertificateParams),
    ) -> ServerCert {
        presented(
            self.leaf_made(names, Validity::default(), KeyKind::P256, edit),
            above,
        )
    }

    /// [`server`](Self::server) with a leaf key of `kind`.
    pub fn server_keyed(&self, names: &[&str], kind: KeyKind, above: &[&Issuer]) -> ServerCert {
        presented(self.leaf_keyed(names, Validity::default(), kind), above)
    }

    /// [`server`](Self::server) with the given validity.
    pub fn server_valid(
        &self,
        names: &[&str],
        validity: Validity,
        above: &[&Issuer],
    ) -> ServerCert {
        presented(self.leaf(names, validity), above)
    }

    /// This CA's certificate again (same subject and key) but signed by `by`, valid for
    /// `validity`: a cross-signed copy, as servers append for old clients.
    pub fn cross_signed_by(&self, by: &Issuer, validity: Validity) -> Vec<u8> {
        let mut params = self.cert.params().clone();
        let now = OffsetDateTime::now_utc();
        params.not_before = now + Duration::days(validity.from_days);
        params.not_after = now + Duration::days(validity.until_days);
        params
            .signed_by(&self.key, &by.cert, &by.key)
            .expect("cross-signed")
            .der()
            .to_vec()
    }

    /// The PEM text of the certificate (for `--cacert` files).
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
}

impl ServerCert {
    /// The chain as a PEM file holds it, leaf first (nginx's `ssl_certificate`).
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .map(|der| pem("CERTIFICATE", der))
            .collect()
    }

    /// The leaf's key as a PEM file holds it (PKCS#8, nginx's `ssl_certificate_key`).
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.key_der)
    }
}

/// `der` as PEM with `label` (RFC 7468: base64 in lines of 64).
pub fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = Vec::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            text.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// `leaf` presented with `above` (leaf first).
fn presented(leaf: Issuer, above: &[&Issuer]) -> ServerCert {
    let mut chain = vec![leaf.der];
    chain.extend(above.iter().map(|i| i.der.clone()));
    ServerCert {
        chain,
        key_der: leaf.key_der,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Our PEM is rcgen's (the `pem` crate's), line endings aside, for lengths of every
    /// remainder mod 3.
    #[test]
    fn pem_matches_rcgens() {
        for name in ["a", "ab", "abc"] {
            let ca = Issuer::root(name);
            assert_eq!(pem("CERTIFICATE", &ca.der), ca.pem().replace("\r\n", "\n"));
        }
        assert_eq!(
            pem("X", b"hi!?"),
            "-----BEGIN X-----\naGkhPw==\n-----END X-----\n"
        );
    }
}
