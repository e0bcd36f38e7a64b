//! tcplink patch (new file): HelloRetryRequest (RFC 8446 §4.1.4) and X25519 key shares.
//!
//! A rustls server in memory (no socket) asks for the group the client offered but did not
//! share, and the handshake must complete over the rewritten transcript; forged server
//! bytes check the cookie's echo and the refusals.
use embedded_io::Write as _;
use std::collections::VecDeque;
use std::io::Read as _;
use std::sync::Arc;

use embedded_tls::alert::AlertDescription;
use embedded_tls::blocking::*;
use rand::rngs::OsRng;

mod tlsserver;

const X25519: u16 = 0x001d;
const P256: u16 = 0x0017;
const P384: u16 = 0x0018;

/// The client's transport: what it writes goes to `server` (a rustls server in memory) or,
/// without one, is only recorded; what it reads is the server's output, or `script`.
struct Wire {
    server: Option<rustls::ServerConnection>,
    to_client: VecDeque<u8>,
    written: Vec<u8>,
}

impl embedded_io::ErrorType for Wire {
    type Error = std::io::Error;
}

impl embedded_io::Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.to_client.len());
        for b in &mut buf[..n] {
            *b = self.to_client.pop_front().unwrap();
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(n)
    }
}

impl embedded_io::Write for Wire {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.written.extend_from_slice(buf);
        if let Some(server) = self.server.as_mut() {
            let mut input = buf;
            while !input.is_empty() {
                server.read_tls(&mut input)?;
                // A refusal is the server's alert, which goes out below.
                if server.process_new_packets().is_err() {
                    break;
                }
            }
            let mut out = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut out)?;
            }
            self.to_client.extend(out);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn server(groups: &[&'static rustls::SupportedKxGroup]) -> rustls::ServerConnection {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let certs = tlsserver::load_certs(&dir.join("server-cert.pem"));
    let key = tlsserver::load_private_key(&dir.join("server-key.pem"));
    let config = rustls::ServerConfig::builder()
        .with_cipher_suites(rustls::ALL_CIPHER_SUITES)
        .with_kx_groups(groups)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    rustls::ServerConnection::new(Arc::new(config)).unwrap()
}

/// The client's handshake records (content type 22) on the wire, bodies without headers.
fn client_hellos(written: &[u8]) -> Vec<&[u8]> {
    let mut hellos = Vec::new();
    let mut rest = written;
    while rest.len() >= 5 {
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        if rest[0] == 22 {
            hellos.push(&rest[5..5 + len]);
        }
        rest = &rest[5 + len..];
    }
    hellos
}

/// A ClientHello's random and its extensions (type, data), in order.
fn hello_parts(hello: &[u8]) -> ([u8; 32], Vec<(u16, &[u8])>) {
    assert_eq!(hello[0], 1, "a ClientHello");
    let body = &hello[4..];
    let random: [u8; 32] = body[2..34].try_into().unwrap();
    let mut at = 34;
    at += 1 + body[at] as usize; // session id
    at += 2 + u16::from_be_bytes([body[at], body[at + 1]]) as usize; // suites
    at += 1 + body[at] as usize; // compression
    let end = at + 2 + u16::from_be_bytes([body[at], body[at + 1]]) as usize;
    at += 2;
    let mut extensions = Vec::new();
    while at < end {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        extensions.push((kind, &body[at + 4..at + 4 + len]));
        at += 4 + len;
    }
    (random, extensions)
}

fn extension<'h>(extensions: &[(u16, &'h [u8])], kind: u16) -> Option<&'h [u8]> {
    extensions.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d)
}

/// The groups of a ClientHello's key shares.
fn share_groups(extensions: &[(u16, &[u8])]) -> Vec<u16> {
    let data = extension(extensions, 51).expect("key_share");
    let mut at = 2;
    let mut groups = Vec::new();
    while at < data.len() {
        groups.push(u16::from_be_bytes([data[at], data[at + 1]]));
        at += 4 + u16::from_be_bytes([data[at + 2], data[at + 3]]) as usize;
    }
    groups
}

/// Opens a session with `config` over `wire`; the connection's result and the wire.
fn open(mut wire: Wire, config: &TlsConfig<'_>) -> (Result<(), TlsError>, Wire) {
    let mut rx = [0; 16640];
    let mut tx = [0; 4096];
    let result = {
        let mut tls: TlsConnection<&mut Wire, Aes128GcmSha256> =
            TlsConnection::new(&mut wire, &mut rx, &mut tx);
        tls.open(TlsContext::new(
            config,
            UnsecureProvider::new::<Aes128GcmSha256>(OsRng),
        ))
        .and_then(|()| {
            tls.write_all(b"ping")?;
            tls.flush()
        })
    };
    (result, wire)
}

fn to_server(groups: &[&'static rustls::SupportedKxGroup]) -> Wire {
    Wire {
        server: Some(server(groups)),
        to_client: VecDeque::new(),
        written: Vec::new(),
    }
}

/// The application data the rustls server received.
fn received(wire: &mut Wire) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = wire.server.as_mut().unwrap().reader().read_to_end(&mut got);
    got
}

#[test]
fn a_p256_only_server_asks_for_p256_by_hello_retry_request() {
    let config = TlsConfig::new().with_server_name("localhost").with_x25519();
    let (result, mut wire) = open(to_server(&[&rustls::kx_group::SECP256R1]), &config);
    result.expect("handshake after a HelloRetryRequest");
    assert_eq!(received(&mut wire), b"ping");
    let hellos = client_hellos(&wire.written);
    assert_eq!(hellos.len(), 2, "two ClientHellos");
    let (first_random, first) = hello_parts(hellos[0]);
    let (second_random, second) = hello_parts(hellos[1]);
    assert_eq!(share_groups(&first), [X25519]);
    assert_eq!(share_groups(&second), [P256]);
    assert_eq!(
        first_random, second_random,
        "the same random (RFC 8446 §4.1.2)"
    );
    // supported_groups: X25519, then P-256, in both.
    let groups = [0, 4, 0, 0x1d, 0, 0x17];
    assert_eq!(extension(&first, 10), Some(&groups[..]));
    assert_eq!(extension(&second, 10), Some(&groups[..]));
    assert_eq!(extension(&second, 44), None, "rustls sends no cookie");
}

#[test]
fn an_x25519_only_server_takes_the_first_key_share() {
    let config = TlsConfig::new().with_server_name("localhost").with_x25519();
    let (result, mut wire) = open(to_server(&[&rustls::kx_group::X25519]), &config);
    result.expect("handshake over X25519");
    assert_eq!(received(&mut wire), b"ping");
    assert_eq!(
        client_hellos(&wire.written).len(),
        1,
        "no HelloRetryRequest"
    );
}

#[test]
fn without_x25519_the_client_shares_p256_alone() {
    let config = TlsConfig::new().with_server_name("localhost");
    let (result, mut wire) = open(to_server(&[&rustls::kx_group::SECP256R1]), &config);
    result.expect("handshake over P-256");
    assert_eq!(received(&mut wire), b"ping");
    let hellos = client_hellos(&wire.written);
    assert_eq!(hellos.len(), 1);
    let (_, extensions) = hello_parts(hellos[0]);
    assert_eq!(share_groups(&extensions), [P256]);
    assert_eq!(extension(&extensions, 10), Some(&[0, 2, 0, 0x17][..]));

    // An X25519-only server then shares no group with it.
    let (result, _) = open(to_server(&[&rustls::kx_group::X25519]), &config);
    assert!(
        matches!(result, Err(TlsError::HandshakeAborted(_, _))),
        "{result:?}"
    );
}

/// A HelloRetryRequest record: TLS 1.3, AES-128-GCM, with a key_share of `group` and
/// `cookie` when given.
fn hello_retry_request(group: Option<u16>, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut extensions = vec![0, 43, 0, 2, 3, 4];
    if let Some(group) = group {
        extensions.extend_from_slice(&[0, 51, 0, 2]);
        extensions.extend_from_slice(&group.to_be_bytes());
    }
    if let Some(cookie) = cookie {
        extensions.extend_from_slice(&[0, 44]);
        extensions.extend_from_slice(&(cookie.len() as u16 + 2).to_be_bytes());
        extensions.extend_from_slice(&(cookie.len() as u16).to_be_bytes());
        extensions.extend_from_slice(cookie);
    }
    let mut body = vec![3, 3];
    body.extend_from_slice(&[
        0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8,
        0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8,
        0x33, 0x9C,
    ]);
    body.extend_from_slice(&[0, 0x13, 0x01, 0]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(&extensions);
    let mut message = vec![2, 0];
    message.extend_from_slice(&(body.len() as u16).to_be_bytes());
    message.extend_from_slice(&body);
    let mut record = vec![22, 3, 3];
    record.extend_from_slice(&(message.len() as u16).to_be_bytes());
    record.extend_from_slice(&message);
    record
}

fn scripted(records: &[Vec<u8>]) -> Wire {
    Wire {
        server: None,
        to_client: records.concat().into(),
        written: Vec::new(),
    }
}

/// Opens with X25519 offered first against forged server bytes.
fn open_scripted(records: &[Vec<u8>]) -> (Result<(), TlsError>, Wire) {
    let config = TlsConfig::new().with_server_name("localhost").with_x25519();
    open(scripted(records), &config)
}

/// The plaintext alert record the client sent last.
fn last_alert(written: &[u8]) -> Option<[u8; 2]> {
    let mut rest = written;
    let mut alert = None;
    while rest.len() >= 5 {
        let len = u16::from_be_bytes([rest[3], rest[4]]) as usize;
        if rest[0] == 21 && len == 2 {
            alert = Some([rest[5], rest[6]]);
        }
        rest = &rest[5 + len..];
    }
    alert
}

#[test]
fn a_cookie_is_echoed_with_the_same_key_share() {
    let cookie = b"state the server keeps in the client";
    let (result, wire) = open_scripted(&[hello_retry_request(None, Some(cookie))]);
    // The script ends after the HelloRetryRequest.
    assert!(matches!(result, Err(TlsError::Io(_))), "{result:?}");
    let hellos = client_hellos(&wire.written);
    assert_eq!(hellos.len(), 2);
    let (_, first) = hello_parts(hellos[0]);
    let (_, second) = hello_parts(hellos[1]);
    let mut echoed = (cookie.len() as u16).to_be_bytes().to_vec();
    echoed.extend_from_slice(cookie);
    assert_eq!(extension(&second, 44), Some(&echoed[..]));
    assert_eq!(
        extension(&first, 51),
        extension(&second, 51),
        "the same key share"
    );
    // Else the same extensions, in the same order.
    let kinds = |e: &[(u16, &[u8])]| {
        e.iter()
            .map(|(k, _)| *k)
            .filter(|k| *k != 44)
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&first), kinds(&second));
}

#[test]
fn a_cookie_and_a_group_together() {
    let (result, wire) = open_scripted(&[hello_retry_request(Some(P256), Some(b"c"))]);
    assert!(matches!(result, Err(TlsError::Io(_))), "{result:?}");
    let hellos = client_hellos(&wire.written);
    let (_, second) = hello_parts(hellos[1]);
    assert_eq!(share_groups(&second), [P256]);
    assert_eq!(extension(&second, 44), Some(&[0, 1, b'c'][..]));
}

#[test]
fn a_hello_retry_request_for_the_shared_group_is_refused() {
    let (result, wire) = open_scripted(&[hello_retry_request(Some(X25519), None)]);
    assert!(
        matches!(
            result,
            Err(TlsError::BadHelloRetryRequest(
                AlertDescription::IllegalParameter
            ))
        ),
        "{result:?}"
    );
    assert_eq!(
        last_alert(&wire.written),
        Some([2, 47]),
        "illegal_parameter"
    );
    assert_eq!(client_hellos(&wire.written).len(), 1);
}

#[test]
fn a_hello_retry_request_for_a_group_not_offered_is_refused() {
    for group in [P384, 0x6399, 0x0100] {
        let (result, wire) = open_scripted(&[hello_retry_request(Some(group), None)]);
        assert!(
            matches!(
                result,
                Err(TlsError::BadHelloRetryRequest(
                    AlertDescription::IllegalParameter
                ))
            ),
            "{group:04x}: {result:?}"
        );
        assert_eq!(last_alert(&wire.written), Some([2, 47]));
    }
}

#[test]
fn a_hello_retry_request_asking_for_no_change_is_refused() {
    let (result, _) = open_scripted(&[hello_retry_request(None, None)]);
    assert!(
        matches!(
            result,
            Err(TlsError::BadHelloRetryRequest(
                AlertDescription::IllegalParameter
            ))
        ),
        "{result:?}"
    );
}

#[test]
fn a_second_hello_retry_request_is_refused() {
    let (result, wire) = open_scripted(&[
        hello_retry_request(Some(P256), None),
        hello_retry_request(None, Some(b"again")),
    ]);
    assert!(
        matches!(
            result,
            Err(TlsError::BadHelloRetryRequest(
                AlertDescription::UnexpectedMessage
            ))
        ),
        "{result:?}"
    );
    assert_eq!(
        last_alert(&wire.written),
        Some([2, 10]),
        "unexpected_message"
    );
    assert_eq!(client_hellos(&wire.written).len(), 2);
}

#[test]
fn a_change_cipher_spec_after_the_hello_retry_request_is_ignored() {
    let (result, wire) = open_scripted(&[
        hello_retry_request(Some(P256), None),
        vec![20, 3, 3, 0, 1, 1],
        hello_retry_request(Some(P256), None),
    ]);
    // Past the ChangeCipherSpec, the next message is read: here a second HelloRetryRequest.
    assert!(
        matches!(
            result,
            Err(TlsError::BadHelloRetryRequest(
                AlertDescription::UnexpectedMessage
            ))
        ),
        "{result:?}"
    );
    assert_eq!(client_hellos(&wire.written).len(), 2);
}
