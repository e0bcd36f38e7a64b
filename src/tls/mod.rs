//! HTTPS: TLS 1.3 (embedded-tls) under the GET client, with no heap and no blocking.
//!
//! This is the engine for platforms without an allocator (the boards). A host with a heap
//! can put rustls behind the same [`Secure`] seam instead: the crate `tcplink-rustls` (TLS
//! 1.2 and 1.3, more groups and suites), which verifies with the same webpki rules and reports
//! the same [`TlsFailure`]s through [`cas_may_sign`] and [`webpki_failure`].
//!
//! embedded-tls has no sans-IO interface, and its blocking handshake cannot resume after
//! `WouldBlock`; its async one can. So the whole TLS side is one long-lived async task
//! ([`TlsStorage::split`]) that the platform pins in memory it owns and that [`TlsLayer`]
//! polls with a no-op waker on every [`App::poll`](crate::App::poll). The task reads and
//! writes two small fixed pipes of ciphertext that the layer fills from and drains to the TCP
//! socket (the task sees `Pending` when a pipe is empty or full), and two pipes of plaintext
//! that the GET client reads and writes through the [`Secure`] seam.
//!
//! * Cipher suite TLS_AES_128_GCM_SHA256, key exchange P-256, server certificates ECDSA
//!   P-256 (P-384 with `tls-web`), RSA when the platform gives a [`SignatureCheck`] for it.
//! * Verification is on unless [`Verify::Insecure`] is chosen: rustls-webpki (no heap,
//!   `src/tls/verify.rs`) builds the path from the leaf through the intermediates, in any
//!   order, to one of the trust anchors and enforces RFC 5280 (basicConstraints and
//!   pathLenConstraint, name constraints, extendedKeyUsage serverAuth, validity dates, DNS
//!   and IP subjectAltNames), plus keyCertSign on CAs that have a keyUsage extension; its
//!   signatures go through the core's ECDSA and the platform's [`SignatureCheck`].
//! * The build uses embedded-tls 0.19.0 patched in `third_party/embedded-tls` (the crate
//!   `tcplink-embedded-tls`, an ordinary dependency, so dependents get it too): a server
//!   KeyUpdate changes the read keys (the client owes one back only before its next
//!   application data, and it sends none after the request); a handshake message after the
//!   handshake other than NewSessionTicket or KeyUpdate, or a record with no content type, is
//!   [`TlsFailure::Protocol`] (0.19.0 panicked on both, and refused KeyUpdates); handshake
//!   messages the server splits over records are reassembled, up to [`HANDSHAKE_MAX`]
//!   bytes (`TlsStorage`'s `HS`), beyond it [`TlsFailure::HandshakeTooLarge`] (0.19.0
//!   failed any split message as a protocol error).

mod asn1;
mod cert;
mod oid;
mod pipe;
mod signature;
mod verify;

use core::cell::RefCell;
use core::convert::Infallible;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use embedded_tls::alert::AlertDescription;
use embedded_tls::MaxFragmentLength;
use embedded_tls::{
    Aes128GcmSha256, CryptoProvider, CryptoRngCore, TlsConfig, TlsConnection, TlsContext, TlsError,
};
use heapless::String;
use pki_types::ServerName;
use smoltcp::socket::tcp;

use crate::http::{peer_finished, recv_from_socket, send_to_socket, HttpError, Secure, TlsFailure};
use pipe::Pipe;
pub use signature::{Ecdsa, PublicKey, SignatureAlgorithm, SignatureCheck, SignatureError};
pub use verify::{cas_may_sign, failure_of as webpki_failure, UnixClock};
use verify::{StrictVerifier, MAX_HOST};

/// The receive record buffer that holds any TLS record (2^14 bytes of data plus overhead).
pub const RECORD_RX: usize = 16_640;
/// A transmit record buffer large enough for the ClientHello and a request.
pub const RECORD_TX: usize = 1024;

/// The longest server handshake message (4-byte header included) that may be split over
/// several records (RFC 8446 §5.1): 24 KiB, so a Certificate message of ~20 KB (a leaf and
/// six RSA-4096 intermediates, or a leaf with 600 names) still passes, several times a public
/// CA's chain (2 to 6 KB). The default of [`TlsStorage`]'s `HS`. A message that lies whole in
/// one record needs none of it; a longer split one is [`TlsFailure::HandshakeTooLarge`]. The
/// buffer is in the TLS task (so on the stack where a board pins the task, not static RAM).
pub const HANDSHAKE_MAX: usize = 24 * 1024;

/// Ciphertext pipe sizes (socket ↔ task) and plaintext pipe sizes (task ↔ client).
const NET_IN: usize = 4096;
const NET_OUT: usize = 2048;
const PLAIN_IN: usize = 4096;
const PLAIN_OUT: usize = 2048;

/// Most rounds of socket → task → socket in one [`TlsLayer`] pump.
const MAX_PUMP_ROUNDS: usize = 64;

/// How the server is authenticated.
#[derive(Clone, Copy)]
pub enum Verify<'a> {
    /// Check the chain against these trust anchors (DER CA certificates; the one whose
    /// subject issued the chain's top is used) and the host name; validity dates when
    /// `clock` tells the time.
    Anchors {
        /// Trusted CA certificates, DER.
        anchors: &'a [&'a [u8]],
        /// Wall-clock time for validity dates, if the platform has one.
        clock: Option<UnixClock>,
        /// Signature algorithms beyond the core's ECDSA, checked by the platform (RSA on a
        /// host with a heap); `None` on a board.
        more: Option<&'a dyn SignatureCheck>,
    },
    /// No verification at all: anyone on the path can read and change the data. Only ever
    /// by the user's explicit choice (`--insecure`).
    Insecure,
}

/// Where the session is, shared by the task and the layer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No session.
    Idle,
    /// Waiting for the task to begin the handshake, or in it.
    Handshake,
    /// Application data flows.
    Open,
    /// The server sent `close_notify`.
    Closed,
    /// The session failed.
    Failed(TlsFailure),
}

/// The state the task and the layer share: the pipes and the session's phase.
pub struct Wire {
    /// Bumped by every start and stop; a task's session ends when it changes.
    session: u32,
    /// A session was asked for and the task has not taken it yet.
    start: bool,
    host: String<MAX_HOST>,
    phase: Phase,
    net_in: Pipe<NET_IN>,
    net_out: Pipe<NET_OUT>,
    /// The server sent FIN: no more ciphertext comes.
    net_eof: bool,
    plain_in: Pipe<PLAIN_IN>,
    plain_out: Pipe<PLAIN_OUT>,
}

impl Wire {
    const fn new() -> Self {
        Self {
            session: 0,
            start: false,
            host: String::new(),
            phase: Phase::Idle,
            net_in: Pipe::new(),
            net_out: Pipe::new(),
            net_eof: false,
            plain_in: Pipe::new(),
            plain_out: Pipe::new(),
        }
    }

    /// Empties the pipes and ends the current session.
    fn reset(&mut self) {
        self.session = self.session.wrapping_add(1);
        self.start = false;
        self.phase = Phase::Idle;
        self.net_in.clear();
        self.net_out.clear();
        self.net_eof = false;
        self.plain_in.clear();
        self.plain_out.clear();
    }
}

/// The TLS memory a platform owns: the record buffers (`RX` receives a whole record:
/// [`RECORD_RX`], or 768 with a max_fragment_length of 512; `TX` sends) and the pipes.
/// `HS` bounds a handshake message split over records ([`HANDSHAKE_MAX`]); its buffer is
/// part of the task [`split`](Self::split) returns, not of this storage.
pub struct TlsStorage<
    const RX: usize = RECORD_RX,
    const TX: usize = RECORD_TX,
    const HS: usize = HANDSHAKE_MAX,
> {
    record_rx: [u8; RX],
    record_tx: [u8; TX],
    wire: RefCell<Wire>,
}

impl<const RX: usize, const TX: usize, const HS: usize> TlsStorage<RX, TX, HS> {
    /// Empty storage; `const` so it can sit in a `static`.
    pub const fn new() -> Self {
        Self {
            record_rx: [0; RX],
            record_tx: [0; TX],
            wire: RefCell::new(Wire::new()),
        }
    }

    /// The shared wire and the TLS task. Pin the task where it stays (`core::pin::pin!`,
    /// or a static) and give both to [`TlsLayer::new`]. `rng` must be a cryptographic
    /// random source (a TRNG on a board, the OS on a host).
    pub fn split<'a, R: CryptoRngCore + 'a>(
        &'a mut self,
        rng: R,
        verify: Verify<'a>,
    ) -> (&'a RefCell<Wire>, impl Future<Output = Infallible> + 'a) {
        let Self {
            record_rx,
            record_tx,
            wire,
        } = self;
        let wire = &*wire;
        (wire, task::<R, HS>(wire, record_rx, record_tx, rng, verify))
    }
}

impl<const RX: usize, const TX: usize, const HS: usize> Default for TlsStorage<RX, TX, HS> {
    fn default() -> Self {
        Self::new()
    }
}

/// The GET client's [`Secure`] layer: drives the TLS task `F` over the client's socket.
pub struct TlsLayer<'a, F> {
    wire: &'a RefCell<Wire>,
    task: Pin<&'a mut F>,
}

impl<'a, F: Future<Output = Infallible>> TlsLayer<'a, F> {
    /// The layer over `wire`, running `task` (both from [`TlsStorage::split`]).
    pub fn new(wire: &'a RefCell<Wire>, task: Pin<&'a mut F>) -> Self {
        Self { wire, task }
    }

    /// Polls the task once; it never finishes.
    fn run_task(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        let _ = self.task.as_mut().poll(&mut cx);
    }
}

impl<F: Future<Output = Infallible>> Secure for TlsLayer<'_, F> {
    fn available(&self) -> bool {
        true
    }

    fn start(&mut self, host: &str) {
        let mut wire = self.wire.borrow_mut();
        wire.reset();
        wire.host.clear();
        // An IPv6 literal is checked against IP SANs without the URL's brackets.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if wire.host.push_str(host).is_err() {
            wire.phase = Phase::Failed(TlsFailure::NameMismatch);
            return;
        }
        wire.start = true;
        wire.phase = Phase::Handshake;
        drop(wire);
        // The task takes the session and queues its ClientHello.
        self.run_task();
    }

    fn stop(&mut self) {
        self.wire.borrow_mut().reset();
        // The task sees its session end and goes back to waiting.
        self.run_task();
    }

    fn pump(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        let mut moved_any = false;
        for _ in 0..MAX_PUMP_ROUNDS {
            let mut moved = false;
            {
                let mut wire = self.wire.borrow_mut();
                if wire.phase == Phase::Idle {
                    return moved_any;
                }
                let net_in = &mut wire.net_in;
                moved |= recv_from_socket(socket, &mut |data| net_in.push(data));
                if peer_finished(socket) && !wire.net_eof {
                    wire.net_eof = true;
                    moved = true;
                }
            }
            let before = self.progress();
            self.run_task();
            moved |= self.progress() != before;
            {
                let mut wire = self.wire.borrow_mut();
                let sent = send_to_socket(socket, wire.net_out.data());
                wire.net_out.consume(sent);
                moved |= sent > 0;
            }
            moved_any |= moved;
            if !moved {
                break;
            }
        }
        moved_any
    }

    fn is_open(&self) -> bool {
        matches!(self.wire.borrow().phase, Phase::Open | Phase::Closed)
    }

    fn send_space(&self) -> usize {
        self.wire.borrow().plain_out.free()
    }

    fn send(&mut self, data: &[u8]) -> usize {
        self.wire.borrow_mut().plain_out.push(data)
    }

    fn recv(&mut self, read: &mut dyn FnMut(&[u8]) -> usize) -> usize {
        let mut wire = self.wire.borrow_mut();
        if wire.plain_in.is_empty() {
            return 0;
        }
        let used = read(wire.plain_in.data());
        wire.plain_in.consume(used);
        used
    }

    fn is_closed(&self) -> bool {
        let wire = self.wire.borrow();
        wire.phase == Phase::Closed && wire.plain_in.is_empty()
    }

    fn failure(&self) -> Option<HttpError> {
        let wire = self.wire.borrow();
        match wire.phase {
            Phase::Failed(failure) if wire.plain_in.is_empty() => Some(HttpError::Tls(failure)),
            _ => None,
        }
    }
}

impl<F> TlsLayer<'_, F> {
    /// A fingerprint of the pipes, to see whether polling the task did anything.
    fn progress(&self) -> (usize, usize, usize, usize, bool) {
        let wire = self.wire.borrow();
        let done = matches!(wire.phase, Phase::Open | Phase::Closed | Phase::Failed(_));
        (
            wire.net_in.len(),
            wire.net_out.len(),
            wire.plain_in.len(),
            wire.plain_out.len(),
            done,
        )
    }
}

/// The TLS task: waits for a session, runs it, reports how it ended; forever.
async fn task<R: CryptoRngCore, const HS: usize>(
    wire: &RefCell<Wire>,
    record_rx: &mut [u8],
    record_tx: &mut [u8],
    mut rng: R,
    verify: Verify<'_>,
) -> Infallible {
    // Handshake messages split over records are gathered here.
    let mut handshake = [0u8; HS];
    loop {
        let (id, host) = poll_fn(|_| {
            let mut w = wire.borrow_mut();
            if w.start {
                w.start = false;
                Poll::Ready((w.session, w.host.clone()))
            } else {
                Poll::Pending
            }
        })
        .await;
        let io = PipeIo { wire, session: id };
        let buffers = (&mut *record_rx, &mut *record_tx, &mut handshake[..]);
        let result = session(io, &host, buffers, &mut rng, verify).await;
        let mut w = wire.borrow_mut();
        if w.session == id {
            w.phase = match result {
                Ok(()) => Phase::Closed,
                Err(failure) => Phase::Failed(failure),
            };
        }
    }
}

/// One TLS session: handshake, the request out, the response in until `close_notify`.
async fn session<R: CryptoRngCore>(
    io: PipeIo<'_>,
    host: &str,
    (record_rx, record_tx, handshake): (&mut [u8], &mut [u8], &mut [u8]),
    rng: &mut R,
    verify: Verify<'_>,
) -> Result<(), TlsFailure> {
    let wire = io.wire;
    let id = io.session;
    // RFC 6066 §3: the server name is a DNS host name without a trailing dot, and an address
    // literal is never sent (the certificate is still checked for it: an IP SAN).
    let name = host.strip_suffix('.').unwrap_or(host);
    // (pki-types' address parser, which webpki links anyway, rather than core's.)
    let sni = !matches!(ServerName::try_from(name), Ok(ServerName::IpAddress(_)));
    let verifier = match verify {
        Verify::Anchors {
            anchors,
            clock,
            more,
        } => Some(StrictVerifier::new(anchors, clock, more, name)),
        Verify::Insecure => None,
    };
    let mut config = TlsConfig::new();
    // X25519's key share first (the group curl/OpenSSL, nginx, Go and rustls prefer, and a
    // cheaper key pair than P-256's on a small CPU); a P-256-only server asks for P-256 by a
    // HelloRetryRequest, one round trip more.
    #[cfg(feature = "x25519")]
    {
        config = config.with_x25519();
    }
    if sni {
        config = config.with_server_name(name);
    }
    // RSA is offered only when the platform checks it (or nothing is checked): a server with
    // an RSA certificate then picks RSA-PSS instead of failing the handshake.
    if verifier.as_ref().is_none_or(StrictVerifier::offers_rsa) {
        config = config.enable_rsa_signatures();
    }
    if let Some(length) = fragment_length(record_rx.len()) {
        // A small receive buffer asks the server for small records (RFC 6066); servers that
        // ignore it send records too large: `TlsFailure::RecordTooLarge`.
        config = config.with_max_fragment_length(length);
    }
    let mut connection: TlsConnection<'_, PipeIo<'_>, Aes128GcmSha256> =
        TlsConnection::new(io, record_rx, record_tx).with_handshake_buffer(handshake);
    let mut provider = Provider { rng, verifier };
    let opened = connection
        .open(TlsContext::new(&config, &mut provider))
        .await;
    if let Err(error) = opened {
        let verified = provider.verifier.as_ref().and_then(|v| v.failure);
        return Err(verified.unwrap_or_else(|| failure(error, wire, false)));
    }
    {
        let mut w = wire.borrow_mut();
        if w.session != id {
            return Ok(());
        }
        w.phase = Phase::Open;
    }
    // The request: the client queues it whole once the session is open. Only then does
    // the task read, as a read waits for the server and nothing else gets written meanwhile.
    poll_fn(|_| {
        let w = wire.borrow();
        if w.session != id || !w.plain_out.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    let mut chunk = [0u8; 256];
    loop {
        let n = wire.borrow_mut().plain_out.pop_into(&mut chunk);
        if n == 0 {
            break;
        }
        connection
            .write(&chunk[..n])
            .await
            .map_err(|e| failure(e, wire, false))?;
    }
    connection
        .flush()
        .await
        .map_err(|e| failure(e, wire, false))?;
    loop {
        // Room for plaintext, then the next record.
        poll_fn(|_| {
            let w = wire.borrow();
            if w.session != id || w.plain_in.free() > 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let mut buffer = match connection.read_buffered().await {
            Ok(buffer) => buffer,
            Err(TlsError::ConnectionClosed) => return Ok(()),
            Err(error) => return Err(failure(error, wire, true)),
        };
        let mut w = wire.borrow_mut();
        let free = w.plain_in.free();
        let data = buffer.pop(free);
        w.plain_in.push(data);
    }
}

/// The largest max_fragment_length whose records fit a receive buffer of `rx` bytes (data
/// plus 256 bytes of TLS overhead), or `None` when any record fits.
fn fragment_length(rx: usize) -> Option<MaxFragmentLength> {
    const OVERHEAD: usize = 256;
    match rx {
        RECORD_RX.. => None,
        n if n >= 4096 + OVERHEAD => Some(MaxFragmentLength::Bits12),
        n if n >= 2048 + OVERHEAD => Some(MaxFragmentLength::Bits11),
        n if n >= 1024 + OVERHEAD => Some(MaxFragmentLength::Bits10),
        _ => Some(MaxFragmentLength::Bits9),
    }
}

/// The typed failure for an embedded-tls error; `reading` after the handshake.
fn failure(error: TlsError, wire: &RefCell<Wire>, reading: bool) -> TlsFailure {
    let eof = wire.borrow().net_eof;
    match error {
        TlsError::IoError | TlsError::Io(_) if eof => TlsFailure::Truncated,
        TlsError::IoError | TlsError::Io(_) if reading => TlsFailure::Truncated,
        TlsError::HandshakeAborted(_, AlertDescription::ProtocolVersion)
        | TlsError::InvalidSupportedVersions => TlsFailure::ProtocolVersion,
        TlsError::HandshakeAborted(_, AlertDescription::HandshakeFailure)
        | TlsError::HandshakeAborted(_, AlertDescription::InsufficientSecurity)
        | TlsError::InvalidCipherSuite
        | TlsError::InvalidKeyShare => TlsFailure::NoCommonParameters,
        TlsError::HandshakeAborted(_, description) => TlsFailure::Alert(description as u8),
        TlsError::InsufficientSpace => TlsFailure::RecordTooLarge,
        TlsError::HandshakeTooLarge => TlsFailure::HandshakeTooLarge,
        TlsError::BadHelloRetryRequest(_) => TlsFailure::BadHelloRetry,
        TlsError::Unimplemented => TlsFailure::Unimplemented,
        TlsError::InvalidSignatureScheme => TlsFailure::UnsupportedAlgorithm,
        _ => TlsFailure::Protocol,
    }
}

/// The crypto embedded-tls uses: the platform's RNG and our verifier (none: insecure).
struct Provider<'v, 'r, R> {
    rng: &'r mut R,
    verifier: Option<StrictVerifier<'v>>,
}

impl<R: CryptoRngCore> CryptoProvider for Provider<'_, '_, R> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(
        &mut self,
    ) -> Result<&mut impl embedded_tls::TlsVerifier<Self::CipherSuite>, TlsError> {
        // `Err` makes embedded-tls skip verification: only for `Verify::Insecure`.
        self.verifier.as_mut().ok_or(TlsError::Unimplemented)
    }
}

/// The task's side of the ciphertext pipes, as the async byte stream embedded-tls wants.
struct PipeIo<'a> {
    wire: &'a RefCell<Wire>,
    /// The session this stream belongs to; once it ends, reads and writes fail.
    session: u32,
}

impl embedded_io::ErrorType for PipeIo<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for PipeIo<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let mut wire = self.wire.borrow_mut();
            if wire.session != self.session {
                Poll::Ready(Err(embedded_io::ErrorKind::ConnectionAborted))
            } else if !wire.net_in.is_empty() {
                Poll::Ready(Ok(wire.net_in.pop_into(buf)))
            } else if wire.net_eof {
                Poll::Ready(Ok(0))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

impl embedded_io_async::Write for PipeIo<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let mut wire = self.wire.borrow_mut();
            if wire.session != self.session {
                Poll::Ready(Err(embedded_io::ErrorKind::ConnectionAborted))
            } else if buf.is_empty() || wire.net_out.free() > 0 {
                Poll::Ready(Ok(wire.net_out.push(buf)))
            } else {
                Poll::Pending
            }
        })
        .await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        // The layer drains the pipe to the socket on every pump.
        Ok(())
    }
}
