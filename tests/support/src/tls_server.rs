//! A TLS server on the peer host (rustls over a smoltcp socket): the other side of the
//! device's `https://` GET. It answers each request with a prepared [`Response`] sent as
//! application data, then ends the session as the test wants.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{KeyLog, ServerConfig, ServerConnection};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Instant;
use tcplink::stack::Stack;

use crate::forge::{Forger, RecordCounter};
use crate::http_server::{End, Response};
use crate::leak;

/// Plaintext handed to rustls at a time (one full record).
const CHUNK: usize = 16 * 1024;
/// The inner content type of application data.
const APPLICATION_DATA: u8 = 23;

/// How the server behaves, beyond its certificate.
#[derive(Debug, Clone, Copy)]
pub struct TlsBehaviour {
    /// Speak TLS 1.2 only (the device, TLS 1.3 only, must say so).
    pub tls12_only: bool,
    /// End a session with `close_notify` before FIN (false: FIN alone, a truncation).
    pub close_notify: bool,
    /// Send a KeyUpdate (rustls asks for one back) each time this many more response bytes
    /// are out.
    pub key_updates_every: Option<usize>,
    /// End the response with records forged under the server's keys instead of rustls's.
    pub forge: Option<Forgery>,
    /// rustls's `ServerConfig::max_fragment_size`: records of at most this many bytes
    /// (rustls counts the 5-byte header in), so handshake messages span records, as from
    /// `openssl s_server -max_send_frag`. `None`: full 16 KiB records.
    pub max_fragment_size: Option<usize>,
    /// The only cipher suites the server accepts (`None`: ring's defaults, all of AES-128-GCM,
    /// AES-256-GCM and ChaCha20-Poly1305).
    pub suites: Option<&'static [rustls::CipherSuite]>,
    /// The only key-exchange groups the server accepts (`None`: X25519, P-256, P-384). A
    /// client whose first key share is not among them gets a HelloRetryRequest.
    pub groups: Option<&'static [rustls::NamedGroup]>,
}

/// Records no stock server sends, sealed as the server would (the test kit's `forge`), so
/// the device's record layer takes them as the server's. rustls sends the response up to
/// `after`; the rest goes out as forged application data, then the `then` records, then FIN
/// (or what the response's `End` says). One connection at a time: the secret used is the
/// last one the server logged, and no `key_updates_every` (it seals under the first
/// application traffic secret).
#[derive(Debug, Clone, Copy)]
pub struct Forgery {
    /// Response bytes rustls sends itself.
    pub after: usize,
    /// TLSInnerPlaintexts (content, content type, padding) to seal after the response.
    pub then: &'static [&'static [u8]],
}

impl Default for TlsBehaviour {
    fn default() -> Self {
        Self {
            tls12_only: false,
            close_notify: true,
            key_updates_every: None,
            forge: None,
            max_fragment_size: None,
            suites: None,
            groups: None,
        }
    }
}

/// One connection being served.
struct Conn {
    handle: SocketHandle,
    tls: Option<ServerConnection>,
    request: Vec<u8>,
    response: Option<(Response, usize)>,
    /// Response bytes out when the last KeyUpdate went.
    key_updated_at: usize,
    ended: bool,
    /// The server's output so far, by record.
    records: RecordCounter,
    /// Sealed records written before the application traffic keys took over.
    handshake_records: Option<u64>,
    /// Forged records not yet written.
    forged: Option<Vec<u8>>,
    /// The client's first bytes, until its first record (the ClientHello) is whole.
    hello: Vec<u8>,
}

/// A TLS server on one port of the peer.
pub struct TlsServer {
    port: u16,
    config: Arc<ServerConfig>,
    behaviour: TlsBehaviour,
    routes: HashMap<String, Response>,
    conns: Vec<Conn>,
    /// Every request line received, in order.
    pub requests: Vec<String>,
    /// Every TLS error the server saw (handshakes the device refused show up here).
    pub errors: Vec<String>,
    /// KeyUpdates sent, over all connections.
    pub key_updates: usize,
    /// The first record each client sent (its ClientHello, record header included), in
    /// order of connection.
    pub client_hellos: Vec<Vec<u8>>,
    secrets: Arc<ServerSecrets>,
}

/// The key log that gives a forger the server's application traffic secret.
#[derive(Debug, Default)]
struct ServerSecrets(Mutex<Option<Vec<u8>>>);

impl KeyLog for ServerSecrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        if label == "SERVER_TRAFFIC_SECRET_0" {
            *self.0.lock().expect("key log") = Some(secret.to_vec());
        }
    }
    fn will_log(&self, label: &str) -> bool {
        label == "SERVER_TRAFFIC_SECRET_0"
    }
}

/// The smoltcp socket as the byte stream rustls reads from (`WouldBlock` when empty), keeping
/// a copy of the client's first bytes until its first record is whole (`None` then).
struct SocketIo<'a, 'b>(&'a mut tcp::Socket<'b>, Option<&'a mut Vec<u8>>);

/// The smoltcp socket as the byte stream rustls writes to (`WouldBlock` when full), counting
/// the records that go out.
struct SocketOut<'a, 'b>(&'a mut tcp::Socket<'b>, &'a mut RecordCounter);

impl Write for SocketOut<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.send_slice(buf) {
            Ok(0) | Err(_) => Err(io::ErrorKind::WouldBlock.into()),
            Ok(n) => {
                self.1.feed(&buf[..n]);
                Ok(n)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for SocketIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.recv_slice(buf) {
            Ok(0) | Err(_) => Err(io::ErrorKind::WouldBlock.into()),
            Ok(n) => {
                if let Some(head) = self.1.as_mut() {
                    head.extend_from_slice(&buf[..n]);
                }
                Ok(n)
            }
        }
    }
}

impl TlsServer {
    /// A server on `port` with `sockets` listening sockets, presenting `chain` (leaf first)
    /// with the leaf's PKCS#8 `key`.
    pub fn new(
        stack: &mut Stack<'static>,
        port: u16,
        sockets: usize,
        chain: Vec<Vec<u8>>,
        key: Vec<u8>,
        behaviour: TlsBehaviour,
    ) -> Self {
        let mut provider = rustls::crypto::ring::default_provider();
        if let Some(suites) = behaviour.suites {
            provider
                .cipher_suites
                .retain(|s| suites.contains(&s.suite()));
        }
        if let Some(groups) = behaviour.groups {
            provider.kx_groups.retain(|g| groups.contains(&g.name()));
        }
        let provider = Arc::new(provider);
        let versions: &[&rustls::SupportedProtocolVersion] = if behaviour.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13]
        };
        let chain = chain.into_iter().map(CertificateDer::from).collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        let secrets = Arc::new(ServerSecrets::default());
        config.key_log = secrets.clone();
        config.max_fragment_size = behaviour.max_fragment_size;
        let conns = (0..sockets)
            .map(|_| {
                let handle = stack.add_tcp(leak(tcplink::stack::TcpBuffers::<65536, 65536>::new()));
                let socket = stack.tcp(handle);
                socket.set_nagle_enabled(false);
                socket.listen(port).expect("listen");
                Conn::new(handle)
            })
            .collect();
        Self {
            port,
            config: Arc::new(config),
            behaviour,
            routes: HashMap::new(),
            conns,
            requests: Vec::new(),
            errors: Vec::new(),
            key_updates: 0,
            client_hellos: Vec::new(),
            secrets,
        }
    }

    /// Answers GETs of `path` with `response`.
    pub fn route(&mut self, path: &str, response: Response) {
        self.routes.insert(path.to_string(), response);
    }

    /// Serves every connection.
    pub fn poll(&mut self, stack: &mut Stack<'static>, _now: Instant) {
        for conn in &mut self.conns {
            let socket = stack.tcp(conn.handle);
            if matches!(socket.state(), State::Closed | State::TimeWait) && conn.tls.is_some() {
                // Ready for the next client.
                *conn = Conn::new(conn.handle);
                socket.abort();
                let _ = socket.listen(self.port);
                continue;
            }
            if !socket.is_active() || conn.ended {
                continue;
            }
            if conn.tls.is_none() {
                if !socket.may_recv() {
                    continue;
                }
                conn.tls = Some(ServerConnection::new(self.config.clone()).expect("server"));
            }
            let Some(tls) = conn.tls.as_mut() else {
                continue;
            };
            // Ciphertext in.
            while socket.can_recv() {
                let hello_whole = first_record(&conn.hello).is_some();
                let head = (!hello_whole).then_some(&mut conn.hello);
                match tls.read_tls(&mut SocketIo(socket, head)) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if !hello_whole {
                    if let Some(record) = first_record(&conn.hello) {
                        self.client_hellos.push(record.to_vec());
                    }
                }
                if let Err(error) = tls.process_new_packets() {
                    self.errors.push(error.to_string());
                    let _ = tls.write_tls(&mut SocketOut(socket, &mut conn.records));
                    socket.close();
                    conn.ended = true;
                    break;
                }
            }
            if conn.ended {
                continue;
            }
            if conn.handshake_records.is_none() && !tls.is_handshaking() {
                // Nothing sealed under the application keys is out yet: rustls writes its
                // tickets and data only below.
                conn.handshake_records = Some(conn.records.sealed);
            }
            // The request.
            if conn.response.is_none() {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = tls.reader().read(&mut buf) {
                    conn.request.extend_from_slice(&buf[..n]);
                }
                if let Some(end) = find(&conn.request, b"\r\n\r\n") {
                    let head = &conn.request[..end];
                    let line =
                        String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or(b""))
                            .into_owned();
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    let response = self.routes.get(&path).cloned().unwrap_or_else(|| {
                        Response::raw("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found")
                    });
                    self.requests.push(line);
                    conn.response = Some((response, 0));
                }
            }
            // Ciphertext out, then more plaintext once rustls has sent what it holds.
            loop {
                if let Some(forged) = &mut conn.forged {
                    let n = socket.send_slice(forged).unwrap_or(0);
                    forged.drain(..n);
                    if !forged.is_empty() {
                        break;
                    }
                    conn.ended = true;
                    match conn.response.as_ref().map_or(End::Close, |(r, _)| r.end) {
                        End::Close => socket.close(),
                        End::Reset => socket.abort(),
                        End::Hang => {}
                    }
                    break;
                }
                while tls.wants_write() {
                    if tls
                        .write_tls(&mut SocketOut(socket, &mut conn.records))
                        .is_err()
                    {
                        break;
                    }
                }
                if tls.wants_write() {
                    break;
                }
                let Some((response, sent)) = &mut conn.response else {
                    break;
                };
                if *sent < response.bytes.len() {
                    if let Some(forgery) = self.behaviour.forge {
                        if *sent >= forgery.after {
                            let secret = self.secrets.0.lock().expect("key log").clone();
                            let secret = secret.expect("the server logged its traffic secret");
                            let before = conn.handshake_records.expect("handshake done");
                            let mut forger = Forger::new(&secret, conn.records.sealed - before);
                            let mut forged = Vec::new();
                            for chunk in response.bytes[*sent..].chunks(CHUNK) {
                                forged.extend(forger.seal(APPLICATION_DATA, chunk));
                            }
                            for inner in forgery.then {
                                forged.extend(forger.seal_inner(inner));
                            }
                            *sent = response.bytes.len();
                            conn.forged = Some(forged);
                            continue;
                        }
                    }
                    if let Some(every) = self.behaviour.key_updates_every {
                        if *sent >= conn.key_updated_at + every {
                            conn.key_updated_at = *sent;
                            self.key_updates += 1;
                            tls.refresh_traffic_keys().expect("key update");
                            continue;
                        }
                    }
                    let end = response
                        .bytes
                        .len()
                        .min(*sent + CHUNK.min(response.per_write));
                    let n = tls.writer().write(&response.bytes[*sent..end]).unwrap_or(0);
                    *sent += n;
                    continue;
                }
                if !conn.ended {
                    if response.end == End::Close && self.behaviour.close_notify {
                        // The alert must go out whole before FIN.
                        if socket.send_capacity() - socket.send_queue() < 128 {
                            break;
                        }
                        tls.send_close_notify();
                        while tls.wants_write() {
                            if tls
                                .write_tls(&mut SocketOut(socket, &mut conn.records))
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                    conn.ended = true;
                    match response.end {
                        End::Close => socket.close(),
                        End::Reset => socket.abort(),
                        End::Hang => {}
                    }
                }
                break;
            }
        }
    }
}

impl Conn {
    fn new(handle: SocketHandle) -> Self {
        Self {
            handle,
            tls: None,
            request: Vec::new(),
            response: None,
            key_updated_at: 0,
            ended: false,
            records: RecordCounter::default(),
            handshake_records: None,
            forged: None,
            hello: Vec::new(),
        }
    }
}

/// The first TLS record of `bytes` (header included), once it is whole.
fn first_record(bytes: &[u8]) -> Option<&[u8]> {
    let length = usize::from(u16::from_be_bytes([*bytes.get(3)?, *bytes.get(4)?]));
    bytes.get(..5 + length)
}

/// The data of extension `kind` in a ClientHello record (header included), or `None` without
/// it. Panics on a ClientHello it cannot read.
pub fn hello_extension(client_hello: &[u8], kind: u16) -> Option<&[u8]> {
    let mut at = 5 + 4 + 2 + 32; // record header, handshake header, version, random
    let skip = |at: &mut usize, width: usize| {
        let length = client_hello[*at..*at + width]
            .iter()
            .fold(0usize, |n, &b| (n << 8) | usize::from(b));
        *at += width + length;
    };
    assert_eq!(client_hello[5], 1, "not a ClientHello");
    skip(&mut at, 1); // session id
    skip(&mut at, 2); // cipher suites
    skip(&mut at, 1); // compression methods
    let end = at + 2 + usize::from(u16::from_be_bytes([client_hello[at], client_hello[at + 1]]));
    at += 2;
    while at < end {
        let found = u16::from_be_bytes([client_hello[at], client_hello[at + 1]]);
        let length = usize::from(u16::from_be_bytes([
            client_hello[at + 2],
            client_hello[at + 3],
        ]));
        if found == kind {
            return Some(&client_hello[at + 4..at + 4 + length]);
        }
        at += 4 + length;
    }
    None
}

/// The host name a ClientHello record (header included) sends in its server_name extension
/// (RFC 6066 §3), or `None` without one. Panics on a ClientHello it cannot read.
pub fn server_name(client_hello: &[u8]) -> Option<String> {
    let data = hello_extension(client_hello, 0)?;
    // server_name_list: its length, then one host_name (type 0) with its length.
    assert_eq!(data[2], 0, "a host_name entry");
    let name_length = usize::from(u16::from_be_bytes([data[3], data[4]]));
    Some(String::from_utf8(data[5..5 + name_length].to_vec()).expect("ASCII"))
}

/// The groups of the key shares a ClientHello record (header included) offers (RFC 8446
/// §4.2.8), in order; empty without the extension (TLS 1.2).
pub fn key_share_groups(client_hello: &[u8]) -> Vec<rustls::NamedGroup> {
    let Some(data) = hello_extension(client_hello, 51) else {
        return Vec::new();
    };
    let mut groups = Vec::new();
    let mut at = 2; // the list's length
    while at + 4 <= data.len() {
        groups.push(rustls::NamedGroup::from(u16::from_be_bytes([
            data[at],
            data[at + 1],
        ])));
        at += 4 + usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
    }
    groups
}

/// The groups a ClientHello record (header included) offers in supported_groups (RFC 8446
/// §4.2.7), in order. Panics on a ClientHello it cannot read or without the extension.
pub fn supported_groups(client_hello: &[u8]) -> Vec<rustls::NamedGroup> {
    let data = hello_extension(client_hello, 10).expect("a supported_groups extension");
    data[2..]
        .chunks(2)
        .map(|g| rustls::NamedGroup::from(u16::from_be_bytes([g[0], g[1]])))
        .collect()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
