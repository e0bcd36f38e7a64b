//! A scripted HTTP server on the peer host: each path answers with prepared bytes, sent as
//! fast or as slowly as the test wants, then closed, reset or left hanging.

use std::collections::HashMap;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::State;
use smoltcp::time::{Duration, Instant};

use tcplink::stack::Stack;

use crate::leak;

/// What the server does after the response bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Close politely (FIN).
    Close,
    /// Reset (RST).
    Reset,
    /// Keep the connection open and say nothing more.
    Hang,
}

/// One prepared response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Exactly the bytes to send.
    pub bytes: Vec<u8>,
    /// At most this many bytes per write (1 = one byte per segment).
    pub per_write: usize,
    /// Pause between writes.
    pub gap: Duration,
    /// After the bytes.
    pub end: End,
}

impl Response {
    /// These exact bytes, as fast as the window allows, then close.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            per_write: usize::MAX,
            gap: Duration::ZERO,
            end: End::Close,
        }
    }

    /// `200 OK` with `Content-Length`.
    pub fn fixed(body: &[u8]) -> Self {
        let mut bytes = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        Self::raw(bytes)
    }

    /// `200 OK`, `Transfer-Encoding: chunked` in chunks of `chunk` bytes, with an extension
    /// on the first chunk and a trailer.
    pub fn chunked(body: &[u8], chunk: usize) -> Self {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        for (i, part) in body.chunks(chunk).enumerate() {
            let ext = if i == 0 { ";name=value" } else { "" };
            bytes.extend_from_slice(format!("{:x}{ext}\r\n", part.len()).as_bytes());
            bytes.extend_from_slice(part);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\nX-Checksum: none\r\n\r\n");
        Self::raw(bytes)
    }

    /// `200 OK` with neither length nor chunking: the body runs until the server closes.
    pub fn until_close(body: &[u8]) -> Self {
        let mut bytes = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        bytes.extend_from_slice(body);
        Self::raw(bytes)
    }

    /// A redirect with `status` to `location`.
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::raw(format!(
            "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
    }

    /// Send at most `per_write` bytes at a time, `gap` apart.
    pub fn trickle(mut self, per_write: usize, gap: Duration) -> Self {
        self.per_write = per_write.max(1);
        self.gap = gap;
        self
    }

    /// Send only the first `len` bytes, then `end`.
    pub fn cut(mut self, len: usize, end: End) -> Self {
        self.bytes.truncate(len);
        self.end = end;
        self
    }

    /// What to do after the bytes.
    pub fn then(mut self, end: End) -> Self {
        self.end = end;
        self
    }
}

/// One connection being served.
struct Conn {
    handle: SocketHandle,
    request: Vec<u8>,
    response: Option<(Response, usize)>,
    next_write: Instant,
    ended: bool,
}

/// Serves prepared responses on one port, `sockets` connections at a time.
pub struct HttpServer {
    port: u16,
    routes: HashMap<String, Response>,
    conns: Vec<Conn>,
    /// Every request line received, in order (e.g. `GET /x HTTP/1.1`).
    pub requests: Vec<String>,
    /// The full head of every request received.
    pub request_heads: Vec<Vec<u8>>,
}

impl HttpServer {
    /// A server on `port` with `sockets` listening sockets in `stack`.
    pub fn new(stack: &mut Stack<'static>, port: u16, sockets: usize) -> Self {
        let conns = (0..sockets)
            .map(|_| {
                let handle = stack.add_tcp(leak(tcplink::stack::TcpBuffers::<65536, 65536>::new()));
                let socket = stack.tcp(handle);
                socket.set_nagle_enabled(false);
                socket.listen(port).expect("listen");
                Conn {
                    handle,
                    request: Vec::new(),
                    response: None,
                    next_write: Instant::ZERO,
                    ended: false,
                }
            })
            .collect();
        Self {
            port,
            routes: HashMap::new(),
            conns,
            requests: Vec::new(),
            request_heads: Vec::new(),
        }
    }

    /// Answers GETs of `path` with `response`.
    pub fn route(&mut self, path: &str, response: Response) {
        self.routes.insert(path.to_string(), response);
    }

    /// Serves every connection; returns the next time it needs to run.
    pub fn poll(&mut self, stack: &mut Stack<'static>, now: Instant) -> Option<Instant> {
        let mut next = None;
        for conn in &mut self.conns {
            let socket = stack.tcp(conn.handle);
            if matches!(socket.state(), State::Closed | State::TimeWait) && conn.response.is_some()
            {
                // Ready for the next client.
                *conn = Conn {
                    handle: conn.handle,
                    request: Vec::new(),
                    response: None,
                    next_write: Instant::ZERO,
                    ended: false,
                };
                socket.abort();
                let _ = socket.listen(self.port);
                continue;
            }
            if conn.response.is_none() {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
                    conn.request.extend_from_slice(&buf[..n]);
                }
                if let Some(end) = find(&conn.request, b"\r\n\r\n") {
                    let head = conn.request[..end].to_vec();
                    let line =
                        String::from_utf8_lossy(head.split(|&b| b == b'\r').next().unwrap_or(b""))
                            .into_owned();
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    let response = self
                        .routes
                        .get(&path)
                        .cloned()
                        .unwrap_or_else(|| Response::raw("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"));
                    self.requests.push(line);
                    self.request_heads.push(head);
                    conn.response = Some((response, 0));
                    conn.next_write = now;
                }
            }
            if let Some((response, sent)) = &mut conn.response {
                if *sent < response.bytes.len() && now >= conn.next_write && socket.can_send() {
                    let end = response
                        .bytes
                        .len()
                        .min(sent.saturating_add(response.per_write));
                    *sent += socket.send_slice(&response.bytes[*sent..end]).unwrap_or(0);
                    conn.next_write = now + response.gap;
                }
                if *sent < response.bytes.len() {
                    if response.gap > Duration::ZERO {
                        next = crate::earliest(next, Some(conn.next_write));
                    }
                } else if !conn.ended {
                    conn.ended = true;
                    match response.end {
                        End::Close => socket.close(),
                        End::Reset => socket.abort(),
                        End::Hang => {}
                    }
                }
            }
        }
        next
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
