//! The rustls TLS engine behind tcplink's HTTPS transport seam, for platforms with a heap.
//!
//! tcplink's GET client reads and writes one sans-IO TLS session interface,
//! [`Secure`]. The core's own engine, [`tcplink::tls::TlsLayer`], is
//! embedded-tls: no heap, TLS 1.3 with AES-128-GCM only, as a board needs. [`RustlsLayer`] is
//! the other engine, for hosts (tcplink-tap's default): rustls 0.23 through its *unbuffered*
//! API (`UnbufferedClientConnection::process_tls_records` and its `ConnectionState`s), so the
//! layer owns every byte buffer and the poll loop stays the core's.
//!
//! * TLS 1.3 and 1.2; key exchange X25519, P-256, P-384 (offered in that order, so a server
//!   without X25519 answers with a HelloRetryRequest); cipher suites AES-128-GCM,
//!   AES-256-GCM and ChaCha20-Poly1305 (ECDHE with ECDSA or RSA for TLS 1.2): rustls's `ring`
//!   provider. Handshake messages split over records are rustls's to join, up to
//!   [`NET_IN`] bytes of ciphertext in flight.
//! * Verification as the embedded engine does it: webpki (the same rustls-webpki the core
//!   links, here with ring's signature algorithms: ECDSA P-256/P-384, RSA PKCS#1 and PSS,
//!   Ed25519) builds the path from the leaf through the intermediates in any order to one of
//!   the trust anchors, with the core's extra RFC 5280 rule (keyCertSign on CAs with a
//!   keyUsage extension, [`tcplink::tls::cas_may_sign`]), and every failure is the core's
//!   [`TlsFailure`] for the same fault ([`tcplink::tls::webpki_failure`]). The handshake
//!   signature is checked by rustls's webpki helpers.
//! * Server names as RFC 6066 wants: no trailing dot; an IP literal is checked against IP
//!   subjectAltNames and never sent as SNI.
//! * No session resumption: each GET's handshake verifies the chain, as the embedded engine's
//!   does.
//!
//! Memory: four fixed buffers allocated once per layer (about 170 KiB, see the constants),
//! plus what rustls allocates per connection.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, UnbufferedClientConnection};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::time_provider::TimeProvider;
use rustls::unbuffered::{ConnectionState, EncryptError, UnbufferedStatus};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error, HandshakeType,
    PeerIncompatible, PeerMisbehaved, SignatureScheme,
};
use smoltcp::socket::tcp;
use tcplink::http::{
    peer_finished, recv_from_socket, send_to_socket, HttpError, Secure, TlsFailure,
};
use tcplink::tls::{UnixClock, Verify};

/// Ciphertext from the server not yet processed: at least one whole record (16 KiB plus
/// overhead), and room for a handshake message split over records, which rustls joins in
/// this buffer (a ~20 KB certificate chain in 512-byte records is about 21 KB). A handshake
/// that needs more is [`TlsFailure::HandshakeTooLarge`].
pub const NET_IN: usize = 80 * 1024;
/// Ciphertext for the server not yet taken by the socket (partial writes stay here).
pub const NET_OUT: usize = 36 * 1024;
/// Decrypted response bytes the client has not read yet: at least one whole record.
pub const PLAIN_IN: usize = 32 * 1024;
/// Request bytes not yet encrypted: the longest request tcplink-tap writes (an 8 KiB URL
/// and its headers).
pub const PLAIN_OUT: usize = 16 * 1024;

/// The most rustls may write in one step (a full record and its overhead): rustls is only
/// asked to go on while [`NET_OUT`] has this much room, so nothing it encodes is lost.
const OUT_RECORD: usize = 16 * 1024 + 1024;
/// Largest plaintext encrypted into one record.
const OUT_CHUNK: usize = 4096;
/// Most rounds of socket → rustls → socket in one pump.
const MAX_PUMP_ROUNDS: usize = 64;

/// A byte buffer of fixed capacity, filled at its end and drained from its front.
struct Buffer {
    bytes: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Buffer {
    fn new(capacity: usize) -> Self {
        Self {
            bytes: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes that can still be added (after moving the data to the front).
    fn free(&self) -> usize {
        self.bytes.len() - self.len()
    }

    fn data(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.end]
    }

    /// The free space after the data, all of [`free`](Self::free) of it.
    fn room(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.bytes.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.bytes[self.end..]
    }

    /// Takes `n` bytes written into [`room`](Self::room) as data.
    fn commit(&mut self, n: usize) {
        self.end += n;
    }

    /// Drops `n` bytes from the front.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.clear();
        }
    }

    /// Adds what fits of `data`; returns how much.
    fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.room()[..n].copy_from_slice(&data[..n]);
        self.commit(n);
        n
    }

    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Handshake,
    Open,
    /// The server sent `close_notify`.
    Closed,
    Failed(TlsFailure),
}

/// Why [`RustlsLayer::drive`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// rustls needs more ciphertext from the server.
    Input,
    /// A buffer of ours is full: the socket or the client has to take bytes first.
    Room,
    /// The session is over (closed or failed).
    Done,
}

/// The failure the verifier found, shared with the layer (rustls only hands back its own
/// error type, which names fewer causes).
type Verdict = Arc<Mutex<Option<TlsFailure>>>;

/// The GET client's [`Secure`] layer over rustls (see the crate documentation).
pub struct RustlsLayer {
    config: Arc<ClientConfig>,
    verdict: Verdict,
    conn: Option<UnbufferedClientConnection>,
    phase: Phase,
    net_in: Buffer,
    net_out: Buffer,
    plain_in: Buffer,
    plain_out: Buffer,
    /// The server sent FIN: no more ciphertext comes.
    net_eof: bool,
}

impl RustlsLayer {
    /// A layer that authenticates servers as `verify` says: the trust anchors (CA
    /// certificates, DER; any webpki cannot read is skipped, as the core does) and the clock
    /// for validity dates (without one, the host's), or no verification at all with
    /// [`Verify::Insecure`]. `Verify::Anchors`' `more` is not needed: ring checks RSA.
    pub fn new(verify: Verify<'_>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verdict = Verdict::default();
        let algorithms = provider.signature_verification_algorithms;
        let (anchors, clock) = match verify {
            Verify::Anchors { anchors, clock, .. } => (Some(trust_anchors(anchors)), clock),
            Verify::Insecure => (None, None),
        };
        let verifier = Arc::new(WebPkiVerifier {
            anchors,
            algorithms,
            verdict: verdict.clone(),
        });
        let builder = match clock {
            Some(clock) => {
                ClientConfig::builder_with_details(provider, Arc::new(PlatformClock(clock)))
            }
            None => ClientConfig::builder_with_provider(provider),
        };
        let mut config = builder
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("ring supports TLS 1.2 and 1.3")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        Self {
            config: Arc::new(config),
            verdict,
            conn: None,
            phase: Phase::Idle,
            net_in: Buffer::new(NET_IN),
            net_out: Buffer::new(NET_OUT),
            plain_in: Buffer::new(PLAIN_IN),
            plain_out: Buffer::new(PLAIN_OUT),
            net_eof: false,
        }
    }

    fn reset(&mut self) {
        self.conn = None;
        self.phase = Phase::Idle;
        self.net_in.clear();
        self.net_out.clear();
        self.plain_in.clear();
        self.plain_out.clear();
        self.net_eof = false;
        *lock(&self.verdict) = None;
    }

    /// Ends the session with `error` (the verifier's own finding first, if it made one).
    fn fail(&mut self, error: &Error) {
        let found = lock(&self.verdict).take();
        self.phase = Phase::Failed(found.unwrap_or_else(|| failure_of(error)));
    }

    /// Runs rustls over the ciphertext received so far until it needs more, a buffer is
    /// full or the session ends. Returns why it stopped and whether anything moved.
    fn drive(&mut self) -> (Stop, bool) {
        let mut moved = false;
        loop {
            if !matches!(self.phase, Phase::Handshake | Phase::Open) {
                return (Stop::Done, moved);
            }
            let Some(conn) = self.conn.as_mut() else {
                return (Stop::Done, moved);
            };
            if self.net_out.free() < OUT_RECORD {
                return (Stop::Room, moved);
            }
            let UnbufferedStatus { discard, state } =
                conn.process_tls_records(self.net_in.data_mut());
            let mut discard = discard;
            let step: Result<Option<Stop>, Error> = match state {
                Err(error) => Err(error),
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    let mut step = Ok(None);
                    while let Some(len) = traffic.peek_len() {
                        if len.get() > self.plain_in.free() {
                            step = Ok(Some(Stop::Room));
                            break;
                        }
                        match traffic.next_record() {
                            Some(Ok(record)) => {
                                discard += record.discard;
                                self.plain_in.push(record.payload);
                                moved = true;
                            }
                            Some(Err(error)) => {
                                step = Err(error);
                                break;
                            }
                            None => break,
                        }
                    }
                    step
                }
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    // Never too small: `OUT_RECORD` of room was checked above.
                    match data.encode(self.net_out.room()) {
                        Ok(n) => {
                            self.net_out.commit(n);
                            moved = true;
                            Ok(None)
                        }
                        Err(_) => Err(Error::General("handshake record too large".into())),
                    }
                }
                // The bytes are in our queue; the pump hands them to the socket.
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    data.done();
                    Ok(None)
                }
                Ok(ConnectionState::BlockedHandshake) => Ok(Some(Stop::Input)),
                Ok(ConnectionState::WriteTraffic(mut traffic)) => {
                    if self.phase == Phase::Handshake {
                        self.phase = Phase::Open;
                        moved = true;
                    }
                    if self.plain_out.is_empty() {
                        Ok(Some(Stop::Input))
                    } else {
                        let n = self.plain_out.len().min(OUT_CHUNK);
                        let plain = &self.plain_out.bytes[self.plain_out.start..][..n];
                        match traffic.encrypt(plain, self.net_out.room()) {
                            Ok(written) => {
                                self.net_out.commit(written);
                                self.plain_out.consume(n);
                                moved = true;
                                Ok(None)
                            }
                            Err(EncryptError::InsufficientSize(_)) => Ok(Some(Stop::Room)),
                            Err(error) => Err(Error::General(error.to_string())),
                        }
                    }
                }
                Ok(ConnectionState::PeerClosed | ConnectionState::Closed) => {
                    self.phase = Phase::Closed;
                    moved = true;
                    Ok(Some(Stop::Done))
                }
                // Early data is a server's; nothing else exists yet.
                Ok(_) => Err(Error::General("unexpected TLS state".into())),
            };
            if discard > 0 {
                self.net_in.consume(discard);
                moved = true;
            }
            match step {
                Ok(None) => {}
                Ok(Some(stop)) => return (stop, moved),
                Err(error) => {
                    self.fail(&error);
                    self.queue_alert();
                    return (Stop::Done, true);
                }
            }
        }
    }

    /// After an error, the fatal alert rustls queued for it (if any) goes into the outgoing
    /// queue, for the pump to hand to the socket before the connection closes: the server
    /// learns why, as from curl.
    fn queue_alert(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if let Ok(ConnectionState::EncodeTlsData(mut data)) =
            conn.process_tls_records(&mut []).state
        {
            // An alert record is a few dozen bytes; with no room it is dropped, as on a
            // full link.
            if let Ok(n) = data.encode(self.net_out.room()) {
                self.net_out.commit(n);
            }
        }
    }
}

impl Secure for RustlsLayer {
    fn available(&self) -> bool {
        true
    }

    fn start(&mut self, host: &str) {
        self.reset();
        // An IPv6 literal without the URL's brackets; a DNS name without its final dot
        // (RFC 6066 §3), which is also how its certificate names it.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = host.strip_suffix('.').unwrap_or(host);
        let Ok(name) = ServerName::try_from(host.to_owned()) else {
            self.phase = Phase::Failed(TlsFailure::NameMismatch);
            return;
        };
        match UnbufferedClientConnection::new(self.config.clone(), name) {
            Ok(conn) => {
                self.conn = Some(conn);
                self.phase = Phase::Handshake;
                // The ClientHello, queued for the first pump.
                self.drive();
            }
            Err(error) => self.fail(&error),
        }
    }

    fn stop(&mut self) {
        self.reset();
    }

    fn pump(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        if self.phase == Phase::Idle {
            return false;
        }
        let mut moved_any = false;
        for _ in 0..MAX_PUMP_ROUNDS {
            let mut moved = false;
            let net_in = &mut self.net_in;
            moved |= recv_from_socket(socket, &mut |data| net_in.push(data));
            if peer_finished(socket) && !self.net_eof {
                self.net_eof = true;
                moved = true;
            }
            let (stop, progressed) = self.drive();
            moved |= progressed;
            if stop == Stop::Input && self.net_in.free() == 0 {
                // rustls waits for the rest of a handshake message that cannot fit (after
                // the handshake no record is that large: rustls refuses one first).
                self.phase = Phase::Failed(if self.phase == Phase::Handshake {
                    TlsFailure::HandshakeTooLarge
                } else {
                    TlsFailure::Protocol
                });
                moved = true;
            } else if stop == Stop::Input && self.net_eof {
                // FIN before close_notify: whatever was cut, the data may be incomplete.
                self.phase = Phase::Failed(TlsFailure::Truncated);
                moved = true;
            }
            let sent = send_to_socket(socket, self.net_out.data());
            self.net_out.consume(sent);
            moved |= sent > 0;
            moved_any |= moved;
            if !moved {
                break;
            }
        }
        moved_any
    }

    fn is_open(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::Closed)
    }

    fn send_space(&self) -> usize {
        self.plain_out.free()
    }

    fn send(&mut self, data: &[u8]) -> usize {
        self.plain_out.push(data)
    }

    fn recv(&mut self, read: &mut dyn FnMut(&[u8]) -> usize) -> usize {
        if self.plain_in.is_empty() {
            return 0;
        }
        let used = read(self.plain_in.data());
        self.plain_in.consume(used);
        used
    }

    fn is_closed(&self) -> bool {
        self.phase == Phase::Closed && self.plain_in.is_empty()
    }

    fn failure(&self) -> Option<HttpError> {
        match self.phase {
            Phase::Failed(failure) if self.plain_in.is_empty() => Some(HttpError::Tls(failure)),
            _ => None,
        }
    }
}

fn lock(verdict: &Verdict) -> std::sync::MutexGuard<'_, Option<TlsFailure>> {
    verdict.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The anchors webpki can read, owned.
fn trust_anchors(anchors: &[&[u8]]) -> Vec<TrustAnchor<'static>> {
    anchors
        .iter()
        .filter_map(|der| {
            webpki::anchor_from_trusted_cert(&CertificateDer::from(*der))
                .ok()
                .map(|anchor| anchor.to_owned())
        })
        .collect()
}

/// The platform's wall clock as rustls's time source.
#[derive(Debug)]
struct PlatformClock(UnixClock);

impl TimeProvider for PlatformClock {
    fn current_time(&self) -> Option<UnixTime> {
        (self.0)().map(|secs| UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs)))
    }
}

/// The certificate verifier: webpki over ring's algorithms, with the core's rules and errors.
/// Without anchors ([`Verify::Insecure`], the user's explicit choice) any certificate passes
/// for any name; the handshake signature is still checked against the certificate sent.
#[derive(Debug)]
struct WebPkiVerifier {
    anchors: Option<Vec<TrustAnchor<'static>>>,
    algorithms: WebPkiSupportedAlgorithms,
    verdict: Verdict,
}

impl WebPkiVerifier {
    /// Checks the chain as the core's verifier does (`src/tls/verify.rs`).
    fn check(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), TlsFailure> {
        let Some(anchors) = &self.anchors else {
            return Ok(());
        };
        let leaf = webpki::EndEntityCert::try_from(leaf).map_err(|e| webpki_failure(&e))?;
        if anchors.is_empty() {
            return Err(TlsFailure::UnknownCa);
        }
        leaf.verify_for_usage(
            self.algorithms.all,
            anchors,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            Some(&tcplink::tls::cas_may_sign),
        )
        .map_err(|e| webpki_failure(&e))?;
        leaf.verify_is_valid_for_subject_name(name)
            .map_err(|e| webpki_failure(&e))
    }

    /// Keeps `failure` for the layer and gives rustls an error that sends a fitting alert.
    fn refuse(&self, failure: TlsFailure) -> Error {
        *lock(&self.verdict) = Some(failure);
        Error::InvalidCertificate(match failure {
            TlsFailure::UnknownCa => CertificateError::UnknownIssuer,
            TlsFailure::Expired => CertificateError::Expired,
            TlsFailure::NotYetValid => CertificateError::NotValidYet,
            TlsFailure::NameMismatch => CertificateError::NotValidForName,
            TlsFailure::BadChain | TlsFailure::BadSignature => CertificateError::BadSignature,
            TlsFailure::BadCertificate => CertificateError::BadEncoding,
            TlsFailure::NotForServers => CertificateError::InvalidPurpose,
            _ => CertificateError::ApplicationVerificationFailure,
        })
    }

    /// Records the failure of a handshake signature check.
    fn signature(
        &self,
        result: Result<HandshakeSignatureValid, Error>,
    ) -> Result<HandshakeSignatureValid, Error> {
        result.inspect_err(|error| *lock(&self.verdict) = Some(failure_of(error)))
    }
}

/// webpki's error as the core names it.
fn webpki_failure(error: &webpki::Error) -> TlsFailure {
    tcplink::tls::webpki_failure(error)
}

impl ServerCertVerifier for WebPkiVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.check(end_entity, intermediates, server_name, now)
            .map(|()| ServerCertVerified::assertion())
            .map_err(|failure| self.refuse(failure))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature(rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.algorithms,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.signature(rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.algorithms,
        ))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The typed failure for a rustls error the verifier did not explain itself.
fn failure_of(error: &Error) -> TlsFailure {
    match error {
        Error::AlertReceived(AlertDescription::ProtocolVersion) => TlsFailure::ProtocolVersion,
        Error::AlertReceived(
            AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity,
        ) => TlsFailure::NoCommonParameters,
        Error::AlertReceived(alert) => TlsFailure::Alert(u8::from(*alert)),
        Error::PeerIncompatible(incompatible) => match incompatible {
            PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SupportedVersionsExtensionRequired => TlsFailure::ProtocolVersion,
            PeerIncompatible::NoSignatureSchemesInCommon => TlsFailure::UnsupportedAlgorithm,
            _ => TlsFailure::NoCommonParameters,
        },
        // A HelloRetryRequest that asks for what we already sent or never offered, or comes
        // a second time.
        Error::PeerMisbehaved(
            PeerMisbehaved::IllegalHelloRetryRequestWithOfferedGroup
            | PeerMisbehaved::IllegalHelloRetryRequestWithUnofferedNamedGroup
            | PeerMisbehaved::IllegalHelloRetryRequestWithNoChanges
            | PeerMisbehaved::IllegalHelloRetryRequestWithEmptyCookie
            | PeerMisbehaved::IllegalHelloRetryRequestWithUnofferedCipherSuite
            | PeerMisbehaved::IllegalHelloRetryRequestWithUnsupportedVersion
            | PeerMisbehaved::IllegalHelloRetryRequestWithWrongSessionId,
        )
        | Error::InappropriateHandshakeMessage {
            got_type: HandshakeType::HelloRetryRequest,
            ..
        } => TlsFailure::BadHelloRetry,
        Error::InvalidCertificate(certificate) => certificate_failure(certificate),
        Error::NoCertificatesPresented => TlsFailure::BadCertificate,
        Error::UnsupportedNameType => TlsFailure::NameMismatch,
        _ => TlsFailure::Protocol,
    }
}

/// The typed failure for rustls's certificate error (what rustls's own helpers report, e.g.
/// for the handshake signature).
fn certificate_failure(error: &CertificateError) -> TlsFailure {
    match error {
        CertificateError::BadSignature => TlsFailure::BadSignature,
        #[allow(deprecated)]
        CertificateError::UnsupportedSignatureAlgorithm => TlsFailure::UnsupportedAlgorithm,
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            TlsFailure::UnsupportedAlgorithm
        }
        CertificateError::UnknownIssuer => TlsFailure::UnknownCa,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsFailure::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            TlsFailure::NotYetValid
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            TlsFailure::NameMismatch
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            TlsFailure::NotForServers
        }
        CertificateError::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(error) => webpki_failure(error),
            None => TlsFailure::BadCertificate,
        },
        _ => TlsFailure::BadCertificate,
    }
}

#[cfg(test)]
mod tests;
