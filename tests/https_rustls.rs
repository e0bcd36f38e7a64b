//! Issue 25: the GET client over both TLS engines behind the `Secure` seam — the core's
//! embedded-tls layer and tcplink-rustls — against the test kit's rustls server on the
//! in-memory link. The verification cases of tests/https.rs give the same `HttpError` over
//! each engine; the servers only rustls can talk to (TLS 1.2, X25519, ChaCha20, AES-256, a
//! HelloRetryRequest) deliver exact bytes over the rustls engine, and the embedded engine
//! names what it lacks.

use smoltcp::time::Duration;
use tcplink::http::{HttpError, TlsFailure};
use tcplink_testkit::rustls::{CipherSuite, NamedGroup};
use tcplink_testkit::{
    key_share_groups, pseudo_random, server_name, sha256, Issuer, Response, ServerCert, Sim,
    TlsBehaviour, TlsEngine, TlsSetup, Validity,
};

/// GETs `https://files.test/x` over `engine` trusting `ca`, from a server presenting `cert`
/// as `behaviour` says and answering with `body`; on success the body must be byte-identical.
fn fetch(
    engine: TlsEngine,
    ca: &Issuer,
    cert: &ServerCert,
    behaviour: TlsBehaviour,
    body: &[u8],
) -> (Result<(u16, u64), HttpError>, Sim<4>) {
    let mut sim = Sim::<4>::https(TlsSetup::trusting_with(&[&ca.der], engine), cert, behaviour);
    sim.peer.tls[0].route("/x", Response::fixed(body));
    sim.get("https://files.test/x").expect("GET starts");
    let result = sim.run_get(Duration::from_secs(600)).expect("GET ended");
    if result.is_ok() {
        assert_eq!(sim.events.body_sha256(), sha256(body), "{engine:?}");
    } else {
        assert!(
            sim.peer.tls[0].requests.is_empty(),
            "{engine:?}: no request may leave a refused session"
        );
    }
    (result, sim)
}

/// [`fetch`] of a 2-byte body with the default server behaviour: the GET's result.
fn result(engine: TlsEngine, ca: &Issuer, cert: &ServerCert) -> Result<(u16, u64), HttpError> {
    fetch(engine, ca, cert, TlsBehaviour::default(), b"ok").0
}

/// Asserts that `cert` under `ca` gives `want` over both engines.
fn same_over_both(ca: &Issuer, cert: &ServerCert, want: Result<(u16, u64), HttpError>) {
    for engine in TlsEngine::ALL {
        assert_eq!(result(engine, ca, cert), want, "{engine:?}");
    }
}

const REFUSED: fn(TlsFailure) -> Result<(u16, u64), HttpError> = |f| Err(HttpError::Tls(f));

#[test]
fn a_body_arrives_byte_identical_over_both_engines() {
    let ca = Issuer::root("tcplink test CA");
    let intermediate = ca.intermediate("tcplink intermediate");
    let cert = intermediate.server(&["files.test"], &[&intermediate]);
    let body = pseudo_random(3 << 20, 11);
    for engine in TlsEngine::ALL {
        let (got, sim) = fetch(engine, &ca, &cert, TlsBehaviour::default(), &body);
        assert_eq!(got, Ok((200, body.len() as u64)), "{engine:?}");
        assert_eq!(sim.peer.tls[0].requests, ["GET /x HTTP/1.1"], "{engine:?}");
    }
}

#[test]
fn unknown_ca_wrong_name_expired_and_not_yet_valid_are_the_same_errors() {
    let ca = Issuer::root("tcplink test CA");
    let other = Issuer::root("some other CA");
    same_over_both(
        &other,
        &ca.server(&["files.test"], &[]),
        REFUSED(TlsFailure::UnknownCa),
    );
    same_over_both(
        &ca,
        &ca.server(&["other.test"], &[]),
        REFUSED(TlsFailure::NameMismatch),
    );
    let expired = Validity {
        from_days: -30,
        until_days: -1,
    };
    same_over_both(
        &ca,
        &ca.server_valid(&["files.test"], expired, &[]),
        REFUSED(TlsFailure::Expired),
    );
    let later = Validity {
        from_days: 2,
        until_days: 30,
    };
    same_over_both(
        &ca,
        &ca.server_valid(&["files.test"], later, &[]),
        REFUSED(TlsFailure::NotYetValid),
    );
}

#[test]
fn a_client_auth_only_leaf_is_refused_by_both() {
    use tcplink_testkit::rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let ca = Issuer::root("tcplink test CA");
    let client_only = ca.server_with(&["files.test"], &[], |p| {
        p.extended_key_usages = vec![ClientAuth];
    });
    same_over_both(&ca, &client_only, REFUSED(TlsFailure::NotForServers));
    let both = ca.server_with(&["files.test"], &[], |p| {
        p.extended_key_usages = vec![ClientAuth, ServerAuth];
    });
    same_over_both(&ca, &both, Ok((200, 2)));
}

/// A refused server is told why, as curl (OpenSSL) and rustls tell it: the fatal alert for
/// the finding goes out before the device closes (with a FIN: a reset would discard it), the
/// same alert over both engines.
#[test]
fn a_refused_server_is_told_why_by_the_same_alert_over_both() {
    use tcplink_testkit::rcgen::ExtendedKeyUsagePurpose::ClientAuth;
    let ca = Issuer::root("tcplink test CA");
    let other = Issuer::root("some other CA");
    let expired = Validity {
        from_days: -30,
        until_days: -1,
    };
    let client_only = ca.server_with(&["files.test"], &[], |p| {
        p.extended_key_usages = vec![ClientAuth];
    });
    let cases = [
        (
            &other,
            ca.server(&["files.test"], &[]),
            TlsFailure::UnknownCa,
            "UnknownCA",
        ),
        (
            &ca,
            ca.server(&["other.test"], &[]),
            TlsFailure::NameMismatch,
            "BadCertificate",
        ),
        (
            &ca,
            ca.server_valid(&["files.test"], expired, &[]),
            TlsFailure::Expired,
            "CertificateExpired",
        ),
        (
            &ca,
            client_only,
            TlsFailure::NotForServers,
            "UnsupportedCertificate",
        ),
    ];
    for (trusted, cert, failure, alert) in &cases {
        for engine in TlsEngine::ALL {
            let (result, sim) = fetch(engine, trusted, cert, TlsBehaviour::default(), b"ok");
            assert_eq!(result, REFUSED(*failure), "{engine:?}");
            assert_eq!(
                sim.peer.tls[0].errors,
                [format!("received fatal alert: {alert}")],
                "{engine:?}, {failure:?}"
            );
        }
    }
}

#[test]
fn path_length_constraints_hold_over_both() {
    use tcplink_testkit::rcgen::{BasicConstraints, IsCa};
    let ca = Issuer::root("tcplink test CA");
    for (path_len, want) in [(0, REFUSED(TlsFailure::PathLength)), (1, Ok((200, 2)))] {
        let constrained = ca.intermediate_with("tcplink constrained", |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
        });
        let sub = constrained.intermediate("tcplink sub-CA");
        let cert = sub.server(&["files.test"], &[&sub, &constrained]);
        same_over_both(&ca, &cert, want);
    }
}

#[test]
fn name_constraints_permitted_and_violated_over_both() {
    use tcplink_testkit::rcgen::{GeneralSubtree, NameConstraints};
    let ca = Issuer::root("tcplink test CA");
    for (permitted, want) in [
        ("test", Ok((200, 2))),
        ("example.org", REFUSED(TlsFailure::NameConstraints)),
    ] {
        let intermediate = ca.intermediate_with("tcplink constrained", |p| {
            p.name_constraints = Some(NameConstraints {
                permitted_subtrees: vec![GeneralSubtree::DnsName(permitted.into())],
                excluded_subtrees: vec![],
            });
        });
        let cert = intermediate.server(&["files.test"], &[&intermediate]);
        same_over_both(&ca, &cert, want);
    }
}

#[test]
fn reversed_intermediates_key_cert_sign_and_ca_leaves_over_both() {
    use tcplink_testkit::rcgen::{BasicConstraints, IsCa, KeyUsagePurpose};
    let ca = Issuer::root("tcplink test CA");
    let first = ca.intermediate("tcplink first intermediate");
    let second = first.intermediate("tcplink second intermediate");
    same_over_both(
        &ca,
        &second.server(&["files.test"], &[&first, &second]),
        Ok((200, 2)),
    );
    let no_usage = ca.intermediate_with("tcplink no keyUsage", |p| p.key_usages.clear());
    same_over_both(
        &ca,
        &no_usage.server(&["files.test"], &[&no_usage]),
        Ok((200, 2)),
    );
    let no_cert_sign = ca.intermediate_with("tcplink no keyCertSign", |p| {
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    });
    same_over_both(
        &ca,
        &no_cert_sign.server(&["files.test"], &[&no_cert_sign]),
        REFUSED(TlsFailure::NotCa),
    );
    let ca_leaf = ca.server_with(&["files.test"], &[], |p| {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    });
    same_over_both(&ca, &ca_leaf, REFUSED(TlsFailure::CaAsLeaf));
}

/// A ~20 KB Certificate message (a leaf with 880 names, and an intermediate), in full records
/// and in 512-byte ones (`openssl s_server -max_send_frag 512`); and a leaf + intermediate
/// in 512-byte records: each engine joins the split handshake messages and the body arrives
/// byte-identical.
#[test]
fn a_20_kb_chain_and_512_byte_records_over_both() {
    let ca = Issuer::root("tcplink test CA");
    let intermediate = ca.intermediate("tcplink test intermediate");
    let mut names = vec!["files.test".to_string()];
    names.extend((1..880).map(|i| format!("host-{i:04}.files.test")));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let big = intermediate.server(&names, &[&intermediate]);
    let chain_len: usize = big.chain.iter().map(Vec::len).sum();
    assert!((18_000..21_000).contains(&chain_len), "{chain_len}");
    let small = intermediate.server(&["files.test"], &[&intermediate]);
    let records_of_512 = TlsBehaviour {
        max_fragment_size: Some(512 + 5),
        ..TlsBehaviour::default()
    };
    let body = pseudo_random(200_000, 5);
    for (name, cert, behaviour) in [
        ("20 KB chain", &big, TlsBehaviour::default()),
        ("20 KB chain in 512-byte records", &big, records_of_512),
        (
            "leaf + intermediate in 512-byte records",
            &small,
            records_of_512,
        ),
    ] {
        for engine in TlsEngine::ALL {
            let (got, _) = fetch(engine, &ca, cert, behaviour, &body);
            assert_eq!(got, Ok((200, body.len() as u64)), "{name} over {engine:?}");
        }
    }
}

#[test]
fn truncation_and_insecure_mean_the_same_over_both() {
    let ca = Issuer::root("tcplink test CA");
    let other = Issuer::root("some other CA");
    let cert = ca.server(&["files.test"], &[]);
    let no_close_notify = TlsBehaviour {
        close_notify: false,
        ..TlsBehaviour::default()
    };
    for engine in TlsEngine::ALL {
        let tls = TlsSetup::trusting_with(&[&ca.der], engine);
        let mut sim = Sim::<4>::https(tls, &cert, no_close_notify);
        sim.peer.tls[0].route("/x", Response::until_close(&pseudo_random(50_000, 1)));
        sim.get("https://files.test/x").expect("GET starts");
        let got = sim.run_get(Duration::from_secs(600)).expect("GET ended");
        assert_eq!(got, REFUSED(TlsFailure::Truncated), "{engine:?}");
        // With a length, the body is complete before the FIN: no truncation to report.
        let body = pseudo_random(50_000, 2);
        let (got, _) = fetch(engine, &ca, &cert, no_close_notify, &body);
        assert_eq!(got, Ok((200, body.len() as u64)), "{engine:?}");

        // No verification, only when asked: a certificate from an unknown CA passes.
        let insecure = TlsSetup {
            insecure: true,
            ..TlsSetup::trusting_with(&[&other.der], engine)
        };
        let mut sim = Sim::<4>::https(insecure, &cert, TlsBehaviour::default());
        sim.peer.tls[0].route("/x", Response::fixed(b"ok"));
        sim.get("https://files.test/x").expect("GET starts");
        let got = sim.run_get(Duration::from_secs(600)).expect("GET ended");
        assert_eq!(got, Ok((200, 2)), "{engine:?}");
    }
}

/// The server changes its keys every 512 KiB (rustls's KeyUpdate, asking for one back):
/// each engine follows and the 4 MiB arrive byte-identical.
#[test]
fn server_key_updates_over_both() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let behaviour = TlsBehaviour {
        key_updates_every: Some(512 * 1024),
        ..TlsBehaviour::default()
    };
    let body = pseudo_random(4 << 20, 13);
    for engine in TlsEngine::ALL {
        let (got, sim) = fetch(engine, &ca, &cert, behaviour, &body);
        assert_eq!(got, Ok((200, body.len() as u64)), "{engine:?}");
        assert!(sim.peer.tls[0].key_updates >= 7, "{engine:?}");
    }
}

#[test]
fn sni_without_a_trailing_dot_and_none_for_an_address_over_rustls() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test", "10.0.0.1"], &[]);
    for (url, want) in [
        ("https://files.test./x", Some("files.test")),
        ("https://10.0.0.1/x", None),
    ] {
        let tls = TlsSetup::trusting_with(&[&ca.der], TlsEngine::Rustls);
        let mut sim = Sim::<4>::https(tls, &cert, TlsBehaviour::default());
        sim.peer.tls[0].route("/x", Response::fixed(b"ok"));
        sim.get(url).expect("GET starts");
        let got = sim.run_get(Duration::from_secs(600)).expect("GET ended");
        assert_eq!(got, Ok((200, 2)), "{url}");
        let hello = &sim.peer.tls[0].client_hellos[0];
        assert_eq!(server_name(hello).as_deref(), want, "{url}");
    }
}

/// A server that accepts only what `edit` leaves it: the rustls engine fetches the body
/// exactly; the embedded engine gives `embedded` (or fetches too, with `None`).
fn rustls_only(edit: impl Fn(&mut TlsBehaviour), embedded: Option<TlsFailure>) -> Sim<4> {
    let ca = Issuer::root("tcplink test CA");
    let intermediate = ca.intermediate("tcplink intermediate");
    let cert = intermediate.server(&["files.test"], &[&intermediate]);
    let mut behaviour = TlsBehaviour::default();
    edit(&mut behaviour);
    let body = pseudo_random(1 << 20, 9);
    let (got, sim) = fetch(TlsEngine::Rustls, &ca, &cert, behaviour, &body);
    assert_eq!(got, Ok((200, body.len() as u64)));
    if let Some(failure) = embedded {
        let (got, _) = fetch(TlsEngine::Embedded, &ca, &cert, behaviour, &body);
        assert_eq!(got, REFUSED(failure));
    }
    sim
}

#[test]
fn a_tls12_only_server_over_rustls_and_the_embedded_engines_refusal() {
    let sim = rustls_only(|b| b.tls12_only = true, Some(TlsFailure::ProtocolVersion));
    // A TLS 1.2 handshake: no key_share, no supported_versions answer needed.
    assert_eq!(sim.peer.tls[0].requests, ["GET /x HTTP/1.1"]);
    let error = HttpError::Tls(TlsFailure::ProtocolVersion);
    assert!(
        error.to_string().contains("no TLS version in common"),
        "{error}"
    );
}

#[test]
fn a_chacha20_only_server_over_rustls_and_the_embedded_engines_refusal() {
    rustls_only(
        |b| b.suites = Some(&[CipherSuite::TLS13_CHACHA20_POLY1305_SHA256]),
        Some(TlsFailure::NoCommonParameters),
    );
}

#[test]
fn an_aes256_only_server_over_rustls_and_the_embedded_engines_refusal() {
    rustls_only(
        |b| b.suites = Some(&[CipherSuite::TLS13_AES_256_GCM_SHA384]),
        Some(TlsFailure::NoCommonParameters),
    );
}

#[test]
fn an_x25519_only_server_over_rustls() {
    let sim = rustls_only(|b| b.groups = Some(&[NamedGroup::X25519]), None);
    let hello = &sim.peer.tls[0].client_hellos[0];
    assert_eq!(key_share_groups(hello), [NamedGroup::X25519]);
}

/// The server takes only P-384, which the rustls engine offers but sends no key share for
/// (its first share is X25519): the server answers with a HelloRetryRequest, the engine
/// retries with P-384 and the body arrives exactly.
#[test]
fn a_hello_retry_request_over_rustls() {
    let sim = rustls_only(|b| b.groups = Some(&[NamedGroup::secp384r1]), None);
    let hello = &sim.peer.tls[0].client_hellos[0];
    let shares = key_share_groups(hello);
    assert!(!shares.is_empty(), "a TLS 1.3 ClientHello");
    assert!(
        !shares.contains(&NamedGroup::secp384r1),
        "the first ClientHello must not already fit: {shares:?}"
    );
}
