//! A throw-away PKI for the TLS tests: a CA and certificates made fresh by each test
//! (rcgen, ECDSA P-256), so nothing committed can expire.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
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

fn key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("P-256 key")
}

impl Issuer {
    /// A self-signed root CA named `name` (basicConstraints CA, keyCertSign).
    pub fn root(name: &str) -> Self {
        let mut params = params(&[], name, Validity::default());
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = key();
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
        let mut params = params(&[], name, Validity::default());
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = key();
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("intermediate");
        Self::from(cert, key)
    }

    /// An ordinary server certificate (CA:FALSE, digitalSignature) for `names`, signed by
    /// this issuer; as an [`Issuer`] so a test can (wrongly) sign with it.
    pub fn leaf(&self, names: &[&str], validity: Validity) -> Self {
        let mut params = params(names, names.first().copied().unwrap_or("leaf"), validity);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = key();
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("leaf");
        Self::from(cert, key)
    }

    /// A server certificate for `names` presented with `above` (leaf first).
    pub fn server(&self, names: &[&str], above: &[&Issuer]) -> ServerCert {
        self.server_valid(names, Validity::default(), above)
    }

    /// [`server`](Self::server) with the given validity.
    pub fn server_valid(
        &self,
        names: &[&str],
        validity: Validity,
        above: &[&Issuer],
    ) -> ServerCert {
        let leaf = self.leaf(names, validity);
        let mut chain = vec![leaf.der];
        chain.extend(above.iter().map(|i| i.der.clone()));
        ServerCert {
            chain,
            key_der: leaf.key_der,
        }
    }

    /// The PEM text of the certificate (for `--cacert` files).
    pub fn pem(&self) -> String {
        self.cert.pem()
    }
}
