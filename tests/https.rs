//! The GET client over TLS 1.3 (the `tls` feature) against a rustls server on the peer, over
//! the in-memory link on simulated time, with a CA each test makes for itself.

use smoltcp::time::Duration;
use tcplink::http::{HttpConfig, HttpError, TlsFailure};
use tcplink_testkit::{
    pseudo_random, sha256, DeviceSetup, Issuer, Response, ServerCert, Sim, TlsBehaviour,
    TlsSetup, Validity, PEER_IP,
};

/// A device trusting `anchors`, a peer serving TLS with `cert` on 443, and DNS for
/// `files.test`.
fn tls_sim(anchors: &[&[u8]], cert: &ServerCert, behaviour: TlsBehaviour) -> Sim<4> {
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP],
        tls: Some(TlsSetup::trusting(anchors)),
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 16);
    sim.peer.serve_tls(443, cert, behaviour);
    sim.peer.serve_dns(&[("files.test", PEER_IP), ("other.test", PEER_IP)]);
    sim
}

fn fetch(sim: &mut Sim<4>, url: &str) -> Result<(u16, u64), HttpError> {
    sim.get(url).expect("GET starts");
    sim.run_get(Duration::from_secs(600)).expect("GET ended")
}

#[test]
fn small_body_over_tls() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
    let body = pseudo_random(100_000, 3);
    sim.peer.tls[0].route("/x", Response::fixed(&body));
    let result = fetch(&mut sim, "https://files.test/x");
    assert_eq!(result, Ok((200, body.len() as u64)));
    assert_eq!(sim.events.body_sha256(), sha256(&body));
    assert_eq!(sim.peer.tls[0].requests, ["GET /x HTTP/1.1"]);
}

#[test]
fn wrong_ca_is_unknown_ca() {
    let ca = Issuer::root("tcplink test CA");
    let other = Issuer::root("some other CA");
    let cert = ca.server(&["files.test"], &[]);
    let mut sim = tls_sim(&[&other.der], &cert, TlsBehaviour::default());
    sim.peer.tls[0].route("/x", Response::fixed(b"secret"));
    assert_eq!(
        fetch(&mut sim, "https://files.test/x"),
        Err(HttpError::Tls(TlsFailure::UnknownCa))
    );
    assert!(sim.peer.tls[0].requests.is_empty());
}

#[test]
fn ten_mib_arrive_byte_identical_in_every_framing() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let body = pseudo_random(10 << 20, 7);
    let want = sha256(&body);
    for (name, response) in [
        ("fixed", Response::fixed(&body)),
        ("chunked", Response::chunked(&body, 3000)),
        ("close_notify", Response::until_close(&body)),
    ] {
        let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
        sim.peer.tls[0].route("/big", response);
        let result = fetch(&mut sim, "https://files.test/big");
        assert_eq!(result, Ok((200, body.len() as u64)), "{name}");
        assert_eq!(sim.events.body_sha256(), want, "{name}");
    }
}

#[test]
fn read_until_close_without_close_notify_is_truncation() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let behaviour = TlsBehaviour {
        close_notify: false,
        ..TlsBehaviour::default()
    };
    let mut sim = tls_sim(&[&ca.der], &cert, behaviour);
    sim.peer.tls[0].route("/x", Response::until_close(&pseudo_random(50_000, 1)));
    let error = fetch(&mut sim, "https://files.test/x").unwrap_err();
    assert_eq!(error, HttpError::Tls(TlsFailure::Truncated));
    assert_eq!(
        error.to_string(),
        "TLS: connection closed without close_notify (truncated)"
    );
    // With a length, the body is complete before the FIN: no truncation to report.
    let mut sim = tls_sim(&[&ca.der], &cert, behaviour);
    sim.peer.tls[0].route("/x", Response::fixed(b"whole"));
    assert_eq!(fetch(&mut sim, "https://files.test/x"), Ok((200, 5)));
}

#[test]
fn name_mismatch_is_its_own_error() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["other.test"], &[]);
    let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
    sim.peer.tls[0].route("/x", Response::fixed(b"secret"));
    let error = fetch(&mut sim, "https://files.test/x").unwrap_err();
    assert_eq!(error, HttpError::Tls(TlsFailure::NameMismatch));
    assert_eq!(error.to_string(), "TLS: certificate does not name this host");
    assert!(sim.peer.tls[0].requests.is_empty(), "no request may leave");
}

#[test]
fn every_san_counts_dns_and_ip() {
    let ca = Issuer::root("tcplink test CA");
    // The name sought is the fifth DNS SAN (embedded-tls's own check reads only three),
    // and the address is an IP SAN.
    let names = ["a.test", "b.test", "c.test", "d.test", "files.test", "10.0.0.1"];
    let cert = ca.server(&names, &[]);
    for url in ["https://files.test/x", "https://10.0.0.1/x"] {
        let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
        sim.peer.tls[0].route("/x", Response::fixed(b"ok"));
        assert_eq!(fetch(&mut sim, url), Ok((200, 2)), "{url}");
    }
    // An address that is only a DNS name in the certificate does not match.
    let cert = ca.server(&["files.test"], &[]);
    let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
    assert_eq!(
        fetch(&mut sim, "https://10.0.0.1/x"),
        Err(HttpError::Tls(TlsFailure::NameMismatch))
    );
}

#[test]
fn chain_through_an_intermediate_and_the_right_one_of_several_anchors() {
    let decoy = Issuer::root("decoy CA");
    let ca = Issuer::root("tcplink test CA");
    let intermediate = ca.intermediate("tcplink intermediate");
    let cert = intermediate.server(&["files.test"], &[&intermediate]);
    let mut sim = tls_sim(&[&decoy.der, &ca.der], &cert, TlsBehaviour::default());
    sim.peer.tls[0].route("/x", Response::fixed(b"ok"));
    assert_eq!(fetch(&mut sim, "https://files.test/x"), Ok((200, 2)));
}

/// An ordinary server certificate (CA:FALSE) used to sign a certificate for another name:
/// embedded-tls's own verifier accepts this chain; `openssl verify` and ours refuse it.
#[test]
fn leaf_signed_chain_is_refused() {
    let ca = Issuer::root("tcplink test CA");
    let ordinary = ca.leaf(&["other.test"], Default::default());
    let cert = ordinary.server(&["files.test"], &[&ordinary]);
    let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
    sim.peer.tls[0].route("/x", Response::fixed(b"secret"));
    let error = fetch(&mut sim, "https://files.test/x").unwrap_err();
    assert_eq!(error, HttpError::Tls(TlsFailure::NotCa));
    assert_eq!(
        error.to_string(),
        "TLS: bad certificate chain: a non-CA certificate signed another"
    );
    assert!(sim.peer.tls[0].requests.is_empty());
}

#[test]
fn expired_and_not_yet_valid_with_a_clock() {
    let ca = Issuer::root("tcplink test CA");
    for (validity, want) in [
        (
            Validity {
                from_days: -30,
                until_days: -1,
            },
            TlsFailure::Expired,
        ),
        (
            Validity {
                from_days: 2,
                until_days: 30,
            },
            TlsFailure::NotYetValid,
        ),
    ] {
        let cert = ca.server_valid(&["files.test"], validity, &[]);
        let mut sim = tls_sim(&[&ca.der], &cert, TlsBehaviour::default());
        sim.peer.tls[0].route("/x", Response::fixed(b"old"));
        assert_eq!(
            fetch(&mut sim, "https://files.test/x"),
            Err(HttpError::Tls(want))
        );
    }
}

#[test]
fn tls12_only_server_is_named() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let behaviour = TlsBehaviour {
        tls12_only: true,
        ..TlsBehaviour::default()
    };
    let mut sim = tls_sim(&[&ca.der], &cert, behaviour);
    let error = fetch(&mut sim, "https://files.test/x").unwrap_err();
    assert_eq!(error, HttpError::Tls(TlsFailure::ProtocolVersion));
    assert!(error.to_string().contains("does not speak TLS 1.3"), "{error}");
}

/// embedded-tls cannot take a KeyUpdate: the GET fails with a typed error, no panic.
#[test]
fn server_key_update_is_a_typed_error() {
    let ca = Issuer::root("tcplink test CA");
    let cert = ca.server(&["files.test"], &[]);
    let behaviour = TlsBehaviour {
        key_update_after: Some(40_000),
        ..TlsBehaviour::default()
    };
    let mut sim = tls_sim(&[&ca.der], &cert, behaviour);
    sim.peer.tls[0].route("/x", Response::fixed(&pseudo_random(100_000, 2)));
    assert_eq!(
        fetch(&mut sim, "https://files.test/x"),
        Err(HttpError::Tls(TlsFailure::Unimplemented))
    );
}
