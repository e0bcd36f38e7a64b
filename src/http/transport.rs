//! The byte transport the GET client reads and writes: the TCP socket itself, or a
//! [`Secure`] layer (TLS) running over it.
//!
//! The client's state machine (DNS, connect, head, body, redirect) is the same for both; only
//! this seam knows whether the bytes are plain or encrypted.

use smoltcp::socket::tcp::{self, State as TcpState};

use super::HttpError;

/// A secure layer (TLS) between the GET client and its TCP socket, owned by the platform.
///
/// The layer keeps its own fixed buffers: ciphertext moves between them and the socket in
/// [`pump`](Self::pump); plaintext moves between them and the client through
/// [`send`](Self::send) and [`recv`](Self::recv). Object safe, so the client can hold a
/// `&mut dyn Secure` whatever concrete (and unnameable) task type the layer drives.
pub trait Secure {
    /// Whether this layer can run TLS at all ([`NoTls`] cannot).
    fn available(&self) -> bool;
    /// Begins a session with `host` (the name the certificate must carry) on a socket that
    /// has just connected; any earlier session is dropped.
    fn start(&mut self, host: &str);
    /// Abandons the session (the connection is being reset).
    fn stop(&mut self);
    /// Moves ciphertext between the socket and the layer and runs the TLS work that is
    /// ready. Returns whether anything moved.
    fn pump(&mut self, socket: &mut tcp::Socket<'_>) -> bool;
    /// Whether the handshake is done and application data may flow.
    fn is_open(&self) -> bool;
    /// Plaintext bytes [`send`](Self::send) accepts now.
    fn send_space(&self) -> usize;
    /// Queues plaintext for encryption; returns how much was taken.
    fn send(&mut self, data: &[u8]) -> usize;
    /// Offers the received plaintext to `read`, which returns how much it used.
    fn recv(&mut self, read: &mut dyn FnMut(&[u8]) -> usize) -> usize;
    /// The peer ended the session cleanly (TLS `close_notify`) and all plaintext was read.
    fn is_closed(&self) -> bool;
    /// Why the session failed, once all plaintext before the failure was read.
    fn failure(&self) -> Option<HttpError>;
}

/// Whether the peer of `socket` ended its stream (FIN) and every byte before the FIN was
/// read: no more ciphertext can come. For a [`Secure`] layer's [`pump`](Secure::pump).
pub fn peer_finished(socket: &tcp::Socket<'_>) -> bool {
    !socket.can_recv()
        && matches!(
            socket.state(),
            TcpState::CloseWait | TcpState::LastAck | TcpState::Closing | TcpState::TimeWait
        )
}

/// Offers what `socket` received to `take`, which returns how much it used, until it uses
/// none or nothing is left: a [`Secure`] layer's ciphertext in. Returns whether anything
/// moved.
pub fn recv_from_socket(
    socket: &mut tcp::Socket<'_>,
    take: &mut dyn FnMut(&[u8]) -> usize,
) -> bool {
    let mut moved = false;
    while socket.can_recv() {
        let n = socket
            .recv(|data| {
                let n = take(data);
                (n, n)
            })
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        moved = true;
    }
    moved
}

/// Queues as much of `data` on `socket` as it takes: a [`Secure`] layer's ciphertext out.
/// Returns how many bytes were taken (the rest stays with the layer).
pub fn send_to_socket(socket: &mut tcp::Socket<'_>, data: &[u8]) -> usize {
    let mut sent = 0;
    while socket.can_send() && sent < data.len() {
        let n = socket.send_slice(&data[sent..]).unwrap_or(0);
        if n == 0 {
            break;
        }
        sent += n;
    }
    sent
}

/// The layer of a client without TLS: `https://` fails with
/// [`UrlError::TlsUnsupported`](crate::url::UrlError::TlsUnsupported).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTls;

impl Secure for NoTls {
    fn available(&self) -> bool {
        false
    }
    fn start(&mut self, _host: &str) {}
    fn stop(&mut self) {}
    fn pump(&mut self, _socket: &mut tcp::Socket<'_>) -> bool {
        false
    }
    fn is_open(&self) -> bool {
        false
    }
    fn send_space(&self) -> usize {
        0
    }
    fn send(&mut self, _data: &[u8]) -> usize {
        0
    }
    fn recv(&mut self, _read: &mut dyn FnMut(&[u8]) -> usize) -> usize {
        0
    }
    fn is_closed(&self) -> bool {
        false
    }
    fn failure(&self) -> Option<HttpError> {
        None
    }
}

impl<T: Secure + ?Sized> Secure for &mut T {
    fn available(&self) -> bool {
        (**self).available()
    }
    fn start(&mut self, host: &str) {
        (**self).start(host)
    }
    fn stop(&mut self) {
        (**self).stop()
    }
    fn pump(&mut self, socket: &mut tcp::Socket<'_>) -> bool {
        (**self).pump(socket)
    }
    fn is_open(&self) -> bool {
        (**self).is_open()
    }
    fn send_space(&self) -> usize {
        (**self).send_space()
    }
    fn send(&mut self, data: &[u8]) -> usize {
        (**self).send(data)
    }
    fn recv(&mut self, read: &mut dyn FnMut(&[u8]) -> usize) -> usize {
        (**self).recv(read)
    }
    fn is_closed(&self) -> bool {
        (**self).is_closed()
    }
    fn failure(&self) -> Option<HttpError> {
        (**self).failure()
    }
}

/// Whether the connection can carry the request yet.
pub(super) enum Ready {
    /// Still connecting (TCP, or the TLS handshake).
    Wait,
    /// The request may be written.
    Go,
    /// The connection failed.
    Failed(HttpError),
}

/// How the response stream stands once nothing more can be read.
pub(super) enum End {
    /// More may come.
    Open,
    /// The server ended the stream cleanly (FIN, or TLS `close_notify`).
    Closed,
    /// The stream broke: a reset, or a TLS failure.
    Failed(HttpError),
}

/// One connection's byte stream: the socket, through the secure layer when the URL is
/// `https://`.
pub(super) struct Transport<'a, 'b> {
    socket: &'a mut tcp::Socket<'b>,
    secure: Option<&'a mut dyn Secure>,
}

impl<'a, 'b> Transport<'a, 'b> {
    /// The stream of `socket`, through `secure` if given.
    pub(super) fn new(socket: &'a mut tcp::Socket<'b>, secure: Option<&'a mut dyn Secure>) -> Self {
        Self { socket, secure }
    }

    /// Runs the secure layer (nothing for plain TCP); returns whether anything moved.
    pub(super) fn pump(&mut self) -> bool {
        match &mut self.secure {
            Some(secure) => secure.pump(self.socket),
            None => false,
        }
    }

    /// Whether the request can be written: TCP connected (and, for TLS, handshake done).
    pub(super) fn ready(&self) -> Ready {
        if self.socket.state() == TcpState::Closed {
            return Ready::Failed(HttpError::ConnectionRefused);
        }
        match &self.secure {
            None if self.socket.may_send() => Ready::Go,
            None => Ready::Wait,
            Some(secure) if secure.is_open() => Ready::Go,
            Some(secure) => match secure.failure() {
                Some(error) => Ready::Failed(error),
                None => Ready::Wait,
            },
        }
    }

    /// Bytes [`send`](Self::send) takes now.
    pub(super) fn send_space(&self) -> usize {
        match &self.secure {
            Some(secure) => secure.send_space(),
            None => self.socket.send_capacity() - self.socket.send_queue(),
        }
    }

    /// Queues request bytes; returns how many were taken.
    pub(super) fn send(&mut self, data: &[u8]) -> usize {
        match &mut self.secure {
            Some(secure) => secure.send(data),
            None => self.socket.send_slice(data).unwrap_or(0),
        }
    }

    /// Offers received bytes to `read`, which returns how many it used, until it uses none
    /// or nothing is left; returns the total used.
    pub(super) fn recv(&mut self, read: &mut dyn FnMut(&[u8]) -> usize) -> usize {
        let mut total = 0;
        loop {
            let used = match &mut self.secure {
                Some(secure) => secure.recv(read),
                None => self
                    .socket
                    .recv(|data| {
                        let used = if data.is_empty() { 0 } else { read(data) };
                        (used, used)
                    })
                    .unwrap_or(0),
            };
            if used == 0 {
                return total;
            }
            total += used;
            // The layer may have made room for more (TLS decrypts the next record).
            self.pump();
        }
    }

    /// How the stream stands, once everything received so far was read.
    pub(super) fn end(&self) -> End {
        if self.socket.state() == TcpState::Closed && self.secure.is_none() {
            return End::Failed(HttpError::Reset);
        }
        match &self.secure {
            None if !self.socket.may_recv() && !self.socket.can_recv() => End::Closed,
            None => End::Open,
            Some(secure) => {
                if let Some(error) = secure.failure() {
                    End::Failed(error)
                } else if secure.is_closed() {
                    End::Closed
                } else if self.socket.state() == TcpState::Closed {
                    End::Failed(HttpError::Reset)
                } else {
                    End::Open
                }
            }
        }
    }
}
