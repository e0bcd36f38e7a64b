//! The HTTP/1.1 GET client: the seed's `http_get.py` for a device.
//!
//! One request at a time, through fixed buffers: the URL (`URL` bytes), the response head
//! (`HEAD` bytes) and the TCP socket's buffers. The body is never stored: it streams from the
//! socket's receive buffer to the platform's [`Handler::body`](crate::app::Handler::body) sink,
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
pub use transport::{NoTls, Secure};

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("tcplink/", env!("CARGO_PKG_VERSION"));
