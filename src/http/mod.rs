//! The HTTP/1.1 GET client: the seed's `http_get.py` for a device.
//!
//! One request at a time, through fixed buffers: the URL (`URL` bytes), the response head
//! (`HEAD` bytes) and the TCP socket's buffers. The body is never stored: it streams from the
//! socket's receive buffer to the platform's [`BodySink`],
//! whatever its size. Host names are resolved with smoltcp's DNS socket (AAAA and A, in the
//! order [`HttpClient`] documents); literal addresses of either family skip DNS. Redirects to
//! `http://` are followed, across families too; every failure is an [`HttpError`].

mod body;
mod client;
mod error;
mod family;
mod head;
mod transport;

pub use body::{BodyDecoder, Framing, MAX_LINE, MAX_TRAILERS};
pub use client::{HttpClient, HttpConfig, HttpEvent, HttpStorage};
pub use error::{CodingName, ConnectAttempt, ConnectError, DnsServers, HttpError, TlsFailure};
pub use head::{parse as parse_head, unfold as unfold_head, ResponseHead, DEFAULT_HEADERS};
pub use transport::{peer_finished, recv_from_socket, send_to_socket, NoTls, Secure};

/// Where the GET client's body goes: the platform's handler implements it beside
/// [`Handler<HttpEvent>`](crate::Handler) (a file, a hash, a buffer).
pub trait BodySink {
    /// The next bytes of the current GET's body, in order. An error fails the GET with
    /// [`HttpError::Sink`], so no byte is silently lost.
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError>;
}

/// Refuses every body: a handler that does not store bodies fails its GETs.
impl BodySink for crate::Ignore {
    fn body(&mut self, _: &[u8]) -> Result<(), SinkError> {
        Err(SinkError)
    }
}

/// The body sink refused data; the GET fails with [`HttpError::Sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkError;

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("tcplink/", env!("CARGO_PKG_VERSION"));
