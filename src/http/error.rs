//! Every way a GET can fail, as one typed error.

use core::fmt;

use smoltcp::wire::Ipv4Address;

use crate::url::UrlError;

/// Why a GET failed. Each variant is one distinct cause; `Display` says it for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    /// The interface had no IPv4 address (no DHCP lease) within the connect timeout.
    NoAddress,
    /// The server refused the connection (RST to our SYN).
    ConnectionRefused,
    /// No connection within the connect timeout (the next hop answered ARP, or was known).
    ConnectTimeout,
    /// The server is off the local subnet and there is no gateway.
    NoRoute(Ipv4Address),
    /// The next hop (server or gateway) never answered ARP within the connect timeout.
    NoArpReply(Ipv4Address),
    /// The URL names this device's own address.
    OwnAddress(Ipv4Address),
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
}

impl From<UrlError> for HttpError {
    fn from(error: UrlError) -> Self {
        Self::Url(error)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(error) => error.fmt(f),
            Self::Busy => f.write_str("a GET is already running"),
            Self::NoClient => f.write_str("this app has no GET client"),
            Self::Cancelled => f.write_str("GET cancelled"),
            Self::NoDnsServer => f.write_str("host name needs DNS but no DNS server is configured"),
            Self::DnsNotFound => f.write_str("DNS: no such host name"),
            Self::DnsTimeout { tried } => write!(f, "DNS: no answer from {tried} (timed out)"),
            Self::NoAddress => f.write_str("no IPv4 address (no DHCP lease)"),
            Self::ConnectionRefused => f.write_str("connection refused"),
            Self::ConnectTimeout => f.write_str("connect timed out"),
            Self::NoRoute(addr) => write!(f, "no route to {addr} (not on the subnet, no gateway)"),
            Self::NoArpReply(addr) => write!(f, "no ARP reply from {addr}"),
            Self::OwnAddress(addr) => write!(f, "{addr} is this device's own address"),
            Self::RequestTooLarge => f.write_str("request does not fit the transmit buffer"),
            Self::HeadTooLarge { limit } => write!(f, "response head larger than {limit} bytes"),
            Self::TooManyHeaders { limit } => write!(f, "response has more than {limit} headers"),
            Self::LocationTooLong { limit } => {
                write!(
                    f,
                    "redirect Location longer than {limit} bytes (the URL limit)"
                )
            }
            Self::UnsupportedTransferCoding(coding) => {
                write!(
                    f,
                    "unsupported Transfer-Encoding {coding:?} (only chunked is decoded)"
                )
            }
            Self::BadStatusLine => f.write_str("malformed HTTP status line"),
            Self::BadHeader => f.write_str("malformed HTTP header"),
            Self::BadContentLength => f.write_str("invalid Content-Length"),
            Self::AmbiguousLength => {
                f.write_str("both Content-Length and Transfer-Encoding: body length is ambiguous")
            }
            Self::NoResponse => f.write_str("connection closed before the response head"),
            Self::TruncatedBody { expected, received } => write!(
                f,
                "body truncated: {received} of {expected} bytes before the connection closed"
            ),
            Self::BadChunk => f.write_str("malformed chunked body"),
            Self::TruncatedChunked => f.write_str("chunked body truncated before its last chunk"),
            Self::Reset => f.write_str("connection reset by the server"),
            Self::IdleTimeout => f.write_str("server went silent (idle timeout)"),
            Self::RedirectLoop => f.write_str("redirect loop"),
            Self::TooManyRedirects => f.write_str("too many redirects"),
            Self::MissingLocation => f.write_str("redirect without a Location header"),
            Self::Sink => f.write_str("the body sink refused the data"),
        }
    }
}

/// The DNS servers a lookup asked, for the error that says so.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DnsServers {
    servers: [Ipv4Address; DnsServers::MAX],
    len: u8,
}

impl DnsServers {
    /// Most DNS servers the client knows.
    pub const MAX: usize = 4;

    /// No servers.
    pub const fn new() -> Self {
        Self {
            servers: [Ipv4Address::UNSPECIFIED; Self::MAX],
            len: 0,
        }
    }

    /// Adds `server`; beyond [`MAX`](Self::MAX) it is ignored.
    pub fn push(&mut self, server: Ipv4Address) {
        if let Some(slot) = self.servers.get_mut(usize::from(self.len)) {
            *slot = server;
            self.len += 1;
        }
    }

    /// The servers, in order.
    pub fn as_slice(&self) -> &[Ipv4Address] {
        &self.servers[..usize::from(self.len)]
    }
}

impl Default for DnsServers {
    fn default() -> Self {
        Self::new()
    }
}

impl From<&[Ipv4Address]> for DnsServers {
    fn from(servers: &[Ipv4Address]) -> Self {
        let mut list = Self::new();
        servers.iter().for_each(|&s| list.push(s));
        list
    }
}

/// `10.0.0.9, 10.0.0.1`.
impl fmt::Display for DnsServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, server) in self.as_slice().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{server}")?;
        }
        Ok(())
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
impl fmt::Display for CodingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{FFFD}")?;
            }
        }
        Ok(())
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
