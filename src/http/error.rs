//! Every way a GET can fail, as one typed error.

use core::fmt;

use crate::text::{self, Render, TextOut};

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
    /// No DNS answer within the DNS timeout.
    DnsTimeout,
    /// The interface had no IPv4 address (no DHCP lease) within the connect timeout.
    NoAddress,
    /// The server refused the connection (RST to our SYN).
    ConnectionRefused,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// The request does not fit the socket's transmit buffer.
    RequestTooLarge,
    /// The response head is larger than the head buffer.
    HeadTooLarge,
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

impl Render for HttpError {
    fn render(&self, out: &mut dyn TextOut) {
        match self {
            Self::Url(error) => error.render(out),
            Self::Busy => out.put("a GET is already running"),
            Self::NoClient => out.put("this app has no GET client"),
            Self::Cancelled => out.put("GET cancelled"),
            Self::NoDnsServer => out.put("host name needs DNS but no DNS server is configured"),
            Self::DnsNotFound => out.put("DNS: no such host name"),
            Self::DnsTimeout => out.put("DNS: no answer (timed out)"),
            Self::NoAddress => out.put("no IPv4 address (no DHCP lease)"),
            Self::ConnectionRefused => out.put("connection refused"),
            Self::ConnectTimeout => out.put("connect timed out"),
            Self::RequestTooLarge => out.put("request does not fit the transmit buffer"),
            Self::HeadTooLarge => out.put("response head larger than the head buffer"),
            Self::BadStatusLine => out.put("malformed HTTP status line"),
            Self::BadHeader => out.put("malformed HTTP header"),
            Self::BadContentLength => out.put("invalid Content-Length"),
            Self::AmbiguousLength => {
                out.put("both Content-Length and Transfer-Encoding: body length is ambiguous")
            }
            Self::NoResponse => out.put("connection closed before the response head"),
            Self::TruncatedBody { expected, received } => {
                out.put("body truncated: ");
                out.decimal(*received);
                out.put(" of ");
                out.decimal(*expected);
                out.put(" bytes before the connection closed");
            }
            Self::BadChunk => out.put("malformed chunked body"),
            Self::TruncatedChunked => out.put("chunked body truncated before its last chunk"),
            Self::Reset => out.put("connection reset by the server"),
            Self::IdleTimeout => out.put("server went silent (idle timeout)"),
            Self::RedirectLoop => out.put("redirect loop"),
            Self::TooManyRedirects => out.put("too many redirects"),
            Self::MissingLocation => out.put("redirect without a Location header"),
            Self::Sink => out.put("the body sink refused the data"),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}
