//! The verifier against rcgen PKIs, the error mapping, the buffers and the ClientHello.
//! (End to end over the in-memory link: tests/https_rustls.rs in the workspace root.)

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::*;

/// A CA: its certificate and key.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

impl Ca {
    fn root(name: &str) -> Self {
        let params = ca_params(name);
        let key = KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("root");
        Self { cert, key }
    }

    fn intermediate(&self, name: &str, edit: impl FnOnce(&mut CertificateParams)) -> Self {
        let mut params = ca_params(name);
        edit(&mut params);
        let key = KeyPair::generate().expect("key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("intermediate");
        Self { cert, key }
    }

    fn leaf(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        edit(&mut params);
        let key = KeyPair::generate().expect("key");
        params
            .signed_by(&key, &self.cert, &self.key)
            .expect("leaf")
            .der()
            .to_vec()
    }

    fn der(&self) -> Vec<u8> {
        self.cert.der().to_vec()
    }
}

fn verifier(anchors: &[&[u8]]) -> WebPkiVerifier {
    WebPkiVerifier {
        anchors: Some(trust_anchors(anchors)),
        algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        verdict: Verdict::default(),
    }
}

fn check(root: &Ca, chain: &[Vec<u8>], host: &str) -> Result<(), TlsFailure> {
    let der = root.der();
    let verifier = verifier(&[&der]);
    let leaf = CertificateDer::from(chain[0].as_slice());
    let rest: Vec<CertificateDer<'_>> = chain[1..]
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let name = ServerName::try_from(host).expect("name");
    verifier.check(&leaf, &rest, &name, UnixTime::now())
}

#[test]
fn a_leaf_under_the_anchor_is_accepted_for_its_names_only() {
    let root = Ca::root("root");
    let leaf = root.leaf(&["files.test", "10.0.0.1"], |_| {});
    assert_eq!(
        check(&root, std::slice::from_ref(&leaf), "files.test"),
        Ok(())
    );
    assert_eq!(
        check(&root, std::slice::from_ref(&leaf), "10.0.0.1"),
        Ok(())
    );
    assert_eq!(
        check(&root, &[leaf], "other.test"),
        Err(TlsFailure::NameMismatch)
    );
}

#[test]
fn another_ca_is_unknown() {
    let root = Ca::root("root");
    let other = Ca::root("other");
    let leaf = root.leaf(&["files.test"], |_| {});
    assert_eq!(
        check(&other, &[leaf], "files.test"),
        Err(TlsFailure::UnknownCa)
    );
    // No anchors at all.
    let leaf = root.leaf(&["files.test"], |_| {});
    let result = verifier(&[]).check(
        &CertificateDer::from(leaf.as_slice()),
        &[],
        &ServerName::try_from("files.test").expect("name"),
        UnixTime::now(),
    );
    assert_eq!(result, Err(TlsFailure::UnknownCa));
}

#[test]
fn expired_and_not_yet_valid() {
    let root = Ca::root("root");
    let day = time::Duration::days(1);
    let now = time::OffsetDateTime::now_utc();
    let expired = root.leaf(&["files.test"], |p| {
        p.not_before = now - day * 30;
        p.not_after = now - day;
    });
    assert_eq!(
        check(&root, &[expired], "files.test"),
        Err(TlsFailure::Expired)
    );
    let later = root.leaf(&["files.test"], |p| {
        p.not_before = now + day;
        p.not_after = now + day * 30;
    });
    assert_eq!(
        check(&root, &[later], "files.test"),
        Err(TlsFailure::NotYetValid)
    );
}

#[test]
fn extended_key_usage_path_length_and_key_usage_as_the_core_checks_them() {
    let root = Ca::root("root");
    let client_only = root.leaf(&["files.test"], |p| {
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    });
    assert_eq!(
        check(&root, &[client_only], "files.test"),
        Err(TlsFailure::NotForServers)
    );

    let constrained = root.intermediate("pathlen 0", |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    });
    let sub = constrained.intermediate("sub", |_| {});
    let leaf = sub.leaf(&["files.test"], |_| {});
    assert_eq!(
        check(&root, &[leaf, sub.der(), constrained.der()], "files.test"),
        Err(TlsFailure::PathLength)
    );

    // keyCertSign is needed only when keyUsage is present (the core's rule on top of webpki).
    let no_usage = root.intermediate("no keyUsage", |p| p.key_usages.clear());
    let leaf = no_usage.leaf(&["files.test"], |_| {});
    assert_eq!(check(&root, &[leaf, no_usage.der()], "files.test"), Ok(()));
    let no_cert_sign = root.intermediate("no keyCertSign", |p| {
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    });
    let leaf = no_cert_sign.leaf(&["files.test"], |_| {});
    assert_eq!(
        check(&root, &[leaf, no_cert_sign.der()], "files.test"),
        Err(TlsFailure::NotCa)
    );
}

#[test]
fn intermediates_in_any_order_build_a_path() {
    let root = Ca::root("root");
    let first = root.intermediate("first", |_| {});
    let second = first.intermediate("second", |_| {});
    let leaf = second.leaf(&["files.test"], |_| {});
    assert_eq!(
        check(
            &root,
            &[leaf.clone(), first.der(), second.der()],
            "files.test"
        ),
        Ok(())
    );
    assert_eq!(
        check(&root, &[leaf, second.der(), first.der()], "files.test"),
        Ok(())
    );
}

#[test]
fn a_refusal_keeps_its_cause_for_the_layer() {
    let root = Ca::root("root");
    let der = root.der();
    let verifier = verifier(&[&der]);
    let leaf = root.leaf(&["files.test"], |_| {});
    let error = verifier
        .verify_server_cert(
            &CertificateDer::from(leaf.as_slice()),
            &[],
            &ServerName::try_from("other.test").expect("name"),
            &[],
            UnixTime::now(),
        )
        .unwrap_err();
    assert_eq!(
        error,
        Error::InvalidCertificate(CertificateError::NotValidForName)
    );
    assert_eq!(*lock(&verifier.verdict), Some(TlsFailure::NameMismatch));
}

#[test]
fn rustls_errors_map_onto_the_cores_failures() {
    use rustls::InvalidMessage;
    let cases = [
        (
            Error::AlertReceived(AlertDescription::ProtocolVersion),
            TlsFailure::ProtocolVersion,
        ),
        (
            Error::AlertReceived(AlertDescription::HandshakeFailure),
            TlsFailure::NoCommonParameters,
        ),
        (
            Error::AlertReceived(AlertDescription::UnrecognisedName),
            TlsFailure::Alert(112),
        ),
        (
            Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
            TlsFailure::NoCommonParameters,
        ),
        (
            Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13),
            TlsFailure::ProtocolVersion,
        ),
        (
            Error::InvalidMessage(InvalidMessage::InvalidContentType),
            TlsFailure::Protocol,
        ),
        (Error::DecryptError, TlsFailure::Protocol),
        (
            Error::InvalidCertificate(CertificateError::BadSignature),
            TlsFailure::BadSignature,
        ),
        (
            Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(
                webpki::Error::PathLenConstraintViolated,
            )))),
            TlsFailure::PathLength,
        ),
        (
            Error::PeerMisbehaved(PeerMisbehaved::IllegalHelloRetryRequestWithOfferedGroup),
            TlsFailure::BadHelloRetry,
        ),
        (
            Error::PeerMisbehaved(PeerMisbehaved::IllegalHelloRetryRequestWithUnofferedNamedGroup),
            TlsFailure::BadHelloRetry,
        ),
        (
            Error::InappropriateHandshakeMessage {
                expect_types: vec![HandshakeType::ServerHello],
                got_type: HandshakeType::HelloRetryRequest,
            },
            TlsFailure::BadHelloRetry,
        ),
    ];
    for (error, want) in cases {
        assert_eq!(failure_of(&error), want, "{error:?}");
    }
}

#[test]
fn buffers_keep_bytes_in_order_across_partial_takes() {
    let mut buffer = Buffer::new(8);
    assert_eq!(buffer.push(b"abcdef"), 6);
    buffer.consume(4);
    assert_eq!(buffer.data(), b"ef");
    // Room is all the free space once the data moved to the front.
    assert_eq!(buffer.free(), 6);
    assert_eq!(buffer.push(b"ghijklmn"), 6);
    assert_eq!(buffer.data(), b"efghijkl");
    assert_eq!(buffer.push(b"x"), 0);
    buffer.consume(8);
    assert!(buffer.is_empty());
}

/// The server_name extension of the ClientHello record in `hello`, if any.
fn sni(hello: &[u8]) -> Option<String> {
    assert_eq!((hello[0], hello[5]), (22, 1), "a ClientHello record");
    let mut at = 5 + 4 + 2 + 32;
    let field = |at: usize, width: usize| {
        hello[at..at + width]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    at += 1 + field(at, 1); // session id
    at += 2 + field(at, 2); // cipher suites
    at += 1 + field(at, 1); // compression
    let end = at + 2 + field(at, 2);
    at += 2;
    while at < end {
        let (kind, length) = (field(at, 2), field(at + 2, 2));
        if kind == 0 {
            let name = &hello[at + 4 + 5..at + 4 + length];
            return Some(String::from_utf8(name.to_vec()).expect("ASCII"));
        }
        at += 4 + length;
    }
    None
}

#[test]
fn the_client_hello_names_the_host_without_its_dot_and_no_address() {
    for (host, want) in [
        ("files.test", Some("files.test")),
        ("files.test.", Some("files.test")),
        ("10.0.0.1", None),
        ("[fd00::1]", None),
    ] {
        let mut layer = RustlsLayer::new(Verify::Insecure);
        layer.start(host);
        assert_eq!(layer.phase, Phase::Handshake, "{host}");
        assert_eq!(sni(layer.net_out.data()).as_deref(), want, "{host}");
        assert!(!layer.is_open());
        assert_eq!(layer.failure(), None);
        layer.stop();
        assert!(layer.net_out.is_empty());
    }
}
