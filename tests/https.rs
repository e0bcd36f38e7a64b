//! The GET client over TLS 1.3 (the `tls` feature) against a rustls server on the peer, over
//! the in-memory link on simulated time, with a CA each test makes for itself.

use smoltcp::time::Duration;
use tcplink::http::{HttpConfig, HttpError, TlsFailure};
use tcplink_testkit::{
    pseudo_random, sha256, DeviceSetup, Issuer, Response, ServerCert, Sim, TlsBehaviour,
    TlsSetup, PEER_IP,
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
