//! Every way a GET can fail, as one typed error.

use core::fmt;

use smoltcp::wire::{IpAddress, Ipv4Address};

use crate::text::{self, Render, TextOut};

use crate::url::UrlError;

/// Why a GET failed. Each variant is one distinct cause; `Display` says it for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum HttpError {
    /// The URL (given or from a redirect) cannot be fetched.
    Url(UrlError),
    /// A GET is already running.
    Busy,
    /// The app was built without a GET client.
    NoClient,
    /// The platform cancelled the GET.
    Cancelled,
    /// The host name needs DNS, but no DNS server is configured.
    NoDnsServer,
    /// The DNS server answered that the name does not exist (or refused to answer).
    DnsNotFound,
    /// No DNS answer within the DNS timeout from any of the servers asked.
    DnsTimeout {
        /// The servers asked, in order.
        tried: DnsServers,
    },
    /// The interface had no address to connect from (no DHCP lease, no IPv6 address beyond
    /// the link-local one) within the connect timeout.
    NoAddress,
    /// The server refused the connection (RST to our SYN).
    ConnectionRefused,
    /// No connection within the connect timeout (the next hop answered, or was known).
    ConnectTimeout,
    /// The server is off the local subnets and there is no gateway (IPv6: no router learned
    /// from advertisements) of its family.
    NoRoute(IpAddress),
    /// The next hop (server or gateway) never answered ARP, or IPv6 neighbour solicitations,
    /// within the connect timeout.
    NoNeighborReply(IpAddress),
    /// The URL names this device's own address.
    OwnAddress(IpAddress),
    /// A name with addresses of both families: the connection failed over each (the first
    /// family within half the connect timeout, the other within the rest). Only with
    /// `ipv6`: without it there is one family and one attempt.
    #[cfg(feature = "ipv6")]
    ConnectFailed {
        /// The IPv6 attempt.
        v6: ConnectAttempt,
        /// The IPv4 attempt.
        v4: ConnectAttempt,
    },
    /// The request does not fit the socket's transmit buffer.
    RequestTooLarge,
    /// The response head is larger than the head limit.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The response has more headers than the header limit.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// A redirect's `Location`, made absolute, is longer than the URL limit.
    LocationTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// `Transfer-Encoding` names a coding this client does not decode (only `chunked`).
    UnsupportedTransferCoding(CodingName),
    /// The status line is not `HTTP/1.x NNN reason`.
    BadStatusLine,
    /// A header line is malformed.
    BadHeader,
    /// `Content-Length` is not a number that fits in 64 bits, or two of them disagree.
    BadContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` were sent: the length is ambiguous.
    AmbiguousLength,
    /// The connection closed before the response head was complete.
    NoResponse,
    /// The connection closed before `Content-Length` bytes of body arrived.
    TruncatedBody {
        /// Bytes promised by `Content-Length`.
        expected: u64,
        /// Bytes that arrived.
        received: u64,
    },
    /// A chunk-size line (or chunk framing) of a chunked body is malformed.
    BadChunk,
    /// The connection closed before the last chunk of a chunked body.
    TruncatedChunked,
    /// The server reset the connection before the response was complete.
    Reset,
    /// Nothing arrived for the idle timeout.
    IdleTimeout,
    /// A redirect led back to a URL already visited.
    RedirectLoop,
    /// More redirects than the configured limit.
    TooManyRedirects,
    /// A redirect status without a `Location` header.
    MissingLocation,
    /// The body sink refused the data (e.g. disk full).
    Sink,
    /// The TLS session of an `https://` GET failed. Only with `tls`: without it nothing
    /// runs TLS, and the messages of [`TlsFailure`] stay out of a board's flash.
    #[cfg(feature = "tls")]
    Tls(TlsFailure),
}

/// Why a TLS session failed: each a distinct cause with its own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TlsFailure {
    /// The chain does not lead to any trusted certificate authority.
    UnknownCa,
    /// The certificate names (subjectAltName) do not include the host.
    NameMismatch,
    /// A certificate in the chain has expired.
    Expired,
    /// A certificate in the chain is not valid yet.
    NotYetValid,
    /// A certificate above the leaf is not a CA (no basicConstraints cA, or a keyUsage
    /// extension without keyCertSign).
    NotCa,
    /// The server's certificate is a CA certificate (basicConstraints cA), not a server's.
    CaAsLeaf,
    /// The server's certificate is not for TLS servers: its extendedKeyUsage lacks serverAuth
    /// (e.g. clientAuth only).
    NotForServers,
    /// A CA's pathLenConstraint is exceeded: more CAs below it than it allows.
    PathLength,
    /// A name in the chain lies outside a CA's name constraints.
    NameConstraints,
    /// The chain is too long or has too many candidate paths to check (webpki's limits).
    ChainTooComplex,
    /// A certificate in the chain is not signed by the next one.
    BadChain,
    /// The server's handshake signature does not verify with its certificate's key.
    BadSignature,
    /// A certificate could not be read (or has an unknown critical extension).
    BadCertificate,
    /// The server uses a key or signature algorithm this client cannot verify.
    UnsupportedAlgorithm,
    /// No TLS version in common with the server: a TLS 1.2-only server for the embedded
    /// engine (TLS 1.3 only), one older than TLS 1.2 for the rustls engine.
    ProtocolVersion,
    /// The server and this client share no cipher suite or key-exchange group.
    NoCommonParameters,
    /// The server aborted the handshake with this TLS alert.
    Alert(u8),
    /// The server's HelloRetryRequest cannot be answered (RFC 8446 §4.1.4): a second one, or
    /// one asking for a group this client did not offer or had already sent a key share of.
    BadHelloRetry,
    /// A handshake message split over records is longer than the buffer that gathers it
    /// (`tcplink::tls::HANDSHAKE_MAX` bytes by default, the `HS` of `TlsStorage`).
    HandshakeTooLarge,
    /// A TLS record is larger than the receive record buffer.
    RecordTooLarge,
    /// The server closed the connection without TLS `close_notify`: the data may be cut.
    Truncated,
    /// The server sent something this TLS client does not implement (a message or record
    /// type no server sends, e.g. an encrypted ChangeCipherSpec or an EndOfEarlyData).
    Unimplemented,
    /// The server broke the TLS protocol (bad record, bad MAC, unexpected message).
    Protocol,
}

impl Render for TlsFailure {
    fn render(&self, out: &mut dyn TextOut) {
        out.put("TLS: ");
        match self {
            Self::UnknownCa => out.put("certificate not issued by a trusted CA (unknown CA)"),
            Self::NameMismatch => out.put("certificate does not name this host"),
            Self::Expired => out.put("certificate has expired"),
            Self::NotYetValid => out.put("certificate is not valid yet"),
            Self::NotCa => out.put("bad certificate chain: a non-CA certificate signed another"),
            Self::CaAsLeaf => out.put("the server's certificate is a CA certificate"),
            Self::NotForServers => {
                out.put("certificate is not for TLS servers (extendedKeyUsage without serverAuth)")
            }
            Self::PathLength => {
                out.put("bad certificate chain: a CA's path length constraint is exceeded")
            }
            Self::NameConstraints => {
                out.put("bad certificate chain: a name is outside a CA's name constraints")
            }
            Self::ChainTooComplex => out.put("certificate chain too long or complex to check"),
            Self::BadChain => out.put("bad certificate chain: a signature does not verify"),
            Self::BadSignature => out.put("server's handshake signature does not verify"),
            Self::BadCertificate => out.put("malformed certificate"),
            Self::UnsupportedAlgorithm => out.put("unsupported key or signature algorithm"),
            Self::ProtocolVersion => out.put(
                "handshake failed: no TLS version in common with the server \
                 (the embedded engine speaks TLS 1.3 only)",
            ),
            #[cfg(feature = "x25519")]
            Self::NoCommonParameters => out.put(
                "handshake failed: no cipher suite or group in common with the server \
                 (the embedded engine has AES-128-GCM with X25519 or P-256)",
            ),
            #[cfg(not(feature = "x25519"))]
            Self::NoCommonParameters => out.put(
                "handshake failed: no cipher suite or group in common with the server \
                 (the embedded engine has AES-128-GCM with P-256)",
            ),
            Self::BadHelloRetry => out.put(
                "handshake failed: the server's HelloRetryRequest asks for a group not offered, or comes twice",
            ),
            Self::Alert(code) => {
                out.put("handshake failed: the server sent alert ");
                out.decimal(u64::from(*code));
            }
            Self::HandshakeTooLarge => out.put(
                "handshake message (e.g. the certificate chain) larger than the handshake buffer",
            ),
            Self::RecordTooLarge => out.put("record larger than the receive buffer"),
            Self::Truncated => out.put("connection closed without close_notify (truncated)"),
            Self::Unimplemented => {
                out.put("the server sent a message this client does not implement")
            }
            Self::Protocol => out.put("protocol error from the server"),
        }
    }
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

impl From<UrlError> for HttpError {
    fn from(error: UrlError) -> Self {
        Self::Url(error)
    }
}

impl Render for HttpError {
    fn render(&self, out: &mut dyn TextOut) {
        // Each arm gives its (last) text and one call writes it: a table of texts instead of
        // a call per arm.
        let text = match self {
            Self::Url(error) => return error.render(out),
            Self::Busy => "a GET is already running",
            Self::NoClient => "this app has no GET client",
            Self::Cancelled => "GET cancelled",
            Self::NoDnsServer => "host name needs DNS but no DNS server is configured",
            Self::DnsNotFound => "DNS: no such host name",
            Self::DnsTimeout { tried } => {
                out.put("DNS: no answer from ");
                tried.render(out);
                " (timed out)"
            }
            Self::NoAddress if cfg!(feature = "ipv6") => {
                "no IP address (no DHCP lease, no IPv6 address beyond link-local)"
            }
            Self::NoAddress => "no IPv4 address (no DHCP lease)",
            Self::ConnectionRefused => "connection refused",
            Self::ConnectTimeout => "connect timed out",
            Self::NoRoute(addr) => {
                out.put("no route to ");
                out.ip(*addr);
                " (not on the subnet, no gateway)"
            }
            Self::NoNeighborReply(addr) => return no_neighbor_reply(*addr, out),
            Self::OwnAddress(addr) => {
                out.ip(*addr);
                " is this device's own address"
            }
            #[cfg(feature = "ipv6")]
            Self::ConnectFailed { v6, v4 } => {
                out.put("could not connect over IPv6 (");
                v6.render(out);
                out.put(") nor over IPv4 (");
                v4.render(out);
                ")"
            }
            Self::RequestTooLarge => "request does not fit the transmit buffer",
            Self::HeadTooLarge { limit } => {
                out.put("response head larger than ");
                out.decimal(*limit as u64);
                " bytes"
            }
            Self::TooManyHeaders { limit } => {
                out.put("response has more than ");
                out.decimal(*limit as u64);
                " headers"
            }
            Self::LocationTooLong { limit } => {
                out.put("redirect Location longer than ");
                out.decimal(*limit as u64);
                " bytes (the URL limit)"
            }
            Self::UnsupportedTransferCoding(coding) => {
                out.put("unsupported Transfer-Encoding \"");
                coding.render(out);
                "\" (only chunked is decoded)"
            }
            Self::BadStatusLine => "malformed HTTP status line",
            Self::BadHeader => "malformed HTTP header",
            Self::BadContentLength => "invalid Content-Length",
            Self::AmbiguousLength => {
                "both Content-Length and Transfer-Encoding: body length is ambiguous"
            }
            Self::NoResponse => "connection closed before the response head",
            Self::TruncatedBody { expected, received } => {
                out.put("body truncated: ");
                out.decimal(*received);
                out.put(" of ");
                out.decimal(*expected);
                " bytes before the connection closed"
            }
            Self::BadChunk => "malformed chunked body",
            Self::TruncatedChunked => "chunked body truncated before its last chunk",
            Self::Reset => "connection reset by the server",
            Self::IdleTimeout => "server went silent (idle timeout)",
            Self::RedirectLoop => "redirect loop",
            Self::TooManyRedirects => "too many redirects",
            Self::MissingLocation => "redirect without a Location header",
            Self::Sink => "the body sink refused the data",
            #[cfg(feature = "tls")]
            Self::Tls(failure) => return failure.render(out),
        };
        out.put(text);
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// `no ARP reply from 10.0.0.7`, `no neighbour advertisement from fd00::7`.
fn no_neighbor_reply(addr: IpAddress, out: &mut dyn TextOut) {
    match addr {
        IpAddress::Ipv4(_) => out.put("no ARP reply from "),
        #[cfg(feature = "ipv6")]
        IpAddress::Ipv6(_) => out.put("no neighbour advertisement from "),
    }
    out.ip(addr);
}

/// One family's try at connecting, for [`HttpError::ConnectFailed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConnectAttempt {
    /// The server address tried.
    pub addr: IpAddress,
    /// Why it failed.
    pub error: ConnectError,
}

/// Why one connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConnectError {
    /// The device has no address of the server's family.
    NoAddress,
    /// The server refused (RST to our SYN).
    Refused,
    /// No connection in the attempt's time.
    Timeout,
    /// Off the subnets, no gateway of the family.
    NoRoute,
    /// This next hop never answered neighbour resolution.
    NoNeighborReply(IpAddress),
    /// The server address is the device's own.
    OwnAddress,
}

impl ConnectAttempt {
    /// The error a GET reports when this was its only attempt.
    pub fn alone(self) -> HttpError {
        match self.error {
            ConnectError::NoAddress => HttpError::NoAddress,
            ConnectError::Refused => HttpError::ConnectionRefused,
            ConnectError::Timeout => HttpError::ConnectTimeout,
            ConnectError::NoRoute => HttpError::NoRoute(self.addr),
            ConnectError::NoNeighborReply(hop) => HttpError::NoNeighborReply(hop),
            ConnectError::OwnAddress => HttpError::OwnAddress(self.addr),
        }
    }
}

/// `fd00::9: no neighbour advertisement from fd00::9`.
impl Render for ConnectAttempt {
    fn render(&self, out: &mut dyn TextOut) {
        out.ip(self.addr);
        out.put(": ");
        match self.error {
            ConnectError::NoAddress => out.put("no address of this family"),
            ConnectError::Refused => out.put("connection refused"),
            ConnectError::Timeout => out.put("connect timed out"),
            ConnectError::NoRoute => out.put("no route"),
            ConnectError::NoNeighborReply(hop) => no_neighbor_reply(hop, out),
            ConnectError::OwnAddress => out.put("this device's own address"),
        }
    }
}

impl fmt::Display for ConnectAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// The DNS servers a lookup asked, for the error that says so.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DnsServers {
    servers: [IpAddress; DnsServers::MAX],
    len: u8,
}

impl DnsServers {
    /// Most DNS servers the client knows.
    pub const MAX: usize = 4;

    /// No servers.
    pub const fn new() -> Self {
        Self {
            servers: [IpAddress::Ipv4(Ipv4Address::UNSPECIFIED); Self::MAX],
            len: 0,
        }
    }

    /// Adds `server`; beyond [`MAX`](Self::MAX) it is ignored.
    pub fn push(&mut self, server: IpAddress) {
        if let Some(slot) = self.servers.get_mut(usize::from(self.len)) {
            *slot = server;
            self.len += 1;
        }
    }

    /// The servers, in order.
    pub fn as_slice(&self) -> &[IpAddress] {
        &self.servers[..usize::from(self.len)]
    }
}

impl Default for DnsServers {
    fn default() -> Self {
        Self::new()
    }
}

impl From<&[IpAddress]> for DnsServers {
    fn from(servers: &[IpAddress]) -> Self {
        let mut list = Self::new();
        servers.iter().for_each(|&s| list.push(s));
        list
    }
}

/// `10.0.0.9, fd00::53`.
impl Render for DnsServers {
    fn render(&self, out: &mut dyn TextOut) {
        for (i, server) in self.as_slice().iter().enumerate() {
            if i > 0 {
                out.put(", ");
            }
            out.ip(*server);
        }
    }
}

impl fmt::Display for DnsServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

impl fmt::Debug for DnsServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for DnsServers {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{} DNS servers", self.len)
    }
}

/// The name of a transfer coding as the server sent it, cut to a fixed length.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodingName {
    bytes: [u8; CodingName::MAX],
    len: u8,
}

impl CodingName {
    /// Longest name kept; a longer one is cut (the error still says which coding it was).
    pub const MAX: usize = 24;

    /// The first [`MAX`](Self::MAX) bytes of `name`.
    pub fn new(name: &[u8]) -> Self {
        let mut bytes = [0; Self::MAX];
        let len = name.len().min(Self::MAX);
        bytes[..len].copy_from_slice(&name[..len]);
        Self {
            bytes,
            len: len as u8,
        }
    }

    /// The kept bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// The name, lossily as text.
impl Render for CodingName {
    fn render(&self, out: &mut dyn TextOut) {
        text::put_lossy(out, self.as_bytes());
    }
}

impl fmt::Display for CodingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// Quoted, as `{:?}` in messages shows it.
impl fmt::Debug for CodingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for CodingName {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "{=[u8]:a}", self.as_bytes())
    }
}
