//! The embedded-tls fixes tcplink carries, seen from a crate that depends on tcplink with no
//! `[patch]` section (third_party/README.md). Against embedded-tls 0.19.0 from crates.io the
//! first test ends the GET with `TlsFailure::Unimplemented` and the other two panic.

use smoltcp::time::Duration;
use tcplink::http::{HttpConfig, HttpError, TlsFailure};
use tcplink_testkit::{
    pseudo_random, sha256, DeviceSetup, Forgery, Issuer, Response, Sim, TlsBehaviour, TlsSetup,
    PEER_IP,
};

/// A device trusting a fresh CA, a rustls peer serving `https://files.test/x` (`body`, then
/// close_notify) with `behaviour`; the GET's result.
fn fetch(behaviour: TlsBehaviour, body: &[u8]) -> (Sim<4>, Result<(u16, u64), HttpError>) {
    let ca = Issuer::root("tcplink dependent CA");
    let cert = ca.server(&["files.test"], &[]);
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        tls: Some(TlsSetup::trusting(&[&ca.der])),
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 16);
    sim.peer.serve_tls(443, &cert, behaviour);
    sim.peer.serve_dns(&[("files.test", PEER_IP)]);
    sim.peer.tls[0].route("/x", Response::until_close(body));
    sim.get("https://files.test/x").expect("GET starts");
    let result = sim.run_get(Duration::from_secs(600)).expect("GET ended");
    (sim, result)
}

/// A server that ends its response with `inner` (a TLSInnerPlaintext) sealed under its keys,
/// after 40,000 bytes of the body.
fn forged(inner: &'static [u8]) -> Result<(u16, u64), HttpError> {
    let then: &'static [&'static [u8]] = Box::leak(Box::new([inner]));
    let behaviour = TlsBehaviour {
        forge: Some(Forgery {
            after: 40_000,
            then,
        }),
        ..TlsBehaviour::default()
    };
    fetch(behaviour, &pseudo_random(100_000, 5)).1
}

/// The server changes its keys every 256 KiB (RFC 8446 §4.6.3): the 1 MiB arrive
/// byte-identical across the four KeyUpdates.
#[test]
fn a_server_key_update_mid_body_is_followed() {
    let body = pseudo_random(1 << 20, 2);
    let behaviour = TlsBehaviour {
        key_updates_every: Some(256 << 10),
        ..TlsBehaviour::default()
    };
    let (sim, result) = fetch(behaviour, &body);
    assert_eq!(result, Ok((200, body.len() as u64)));
    assert_eq!(sim.events.body_sha256(), sha256(&body));
    assert_eq!(sim.peer.tls[0].key_updates, 4);
    assert!(sim.peer.tls[0].errors.is_empty());
}

/// A handshake message after the handshake (a CertificateRequest: empty context, no
/// extensions; content type 22): a protocol error, not a panic.
#[test]
fn a_handshake_message_after_the_handshake_is_a_protocol_error() {
    assert_eq!(
        forged(&[13, 0, 0, 3, 0, 0, 0, 22]),
        Err(HttpError::Tls(TlsFailure::Protocol))
    );
}

/// A record whose plaintext is empty (no content type at all), or only zero padding: a
/// protocol error, not a panic.
#[test]
fn a_record_without_a_content_type_is_a_protocol_error() {
    assert_eq!(forged(&[]), Err(HttpError::Tls(TlsFailure::Protocol)));
    assert_eq!(
        forged(&[0, 0, 0]),
        Err(HttpError::Tls(TlsFailure::Protocol))
    );
}

/// The forging itself is right: a forged close_notify is taken as the server's own, so the
/// tests above reach the code that reads what they forge.
#[test]
fn a_forged_close_notify_is_the_servers_own() {
    assert_eq!(forged(&[1, 0, 21]), Ok((200, 100_000)));
}
