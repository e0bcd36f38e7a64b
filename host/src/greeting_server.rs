//! The seed's tcp_server.py on kernel sockets, one thread per connection: the baseline the
//! smoltcp greeting server is benchmarked against.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::protocol::{self, EXIT, RECV_SIZE, WELCOME};

/// The accept queue length. std fixes it at 128, which the load generator's up to 1024
/// simultaneous connects overflow, and then the baseline measures SYN retransmission timers.
const BACKLOG: i32 = 1024;
/// Connection threads need little stack; a small one lets thousands of clients be served.
const CONN_STACK: usize = 128 * 1024;

/// A bound greeting server, not yet accepting.
pub struct GreetingServer {
    listener: TcpListener,
    delay: Duration,
    log: bool,
}

impl GreetingServer {
    /// Binds `addr` (port 0 picks a free port). `delay` is the seed's `time.sleep` after each
    /// received message; `Duration::ZERO` for benchmarks.
    pub fn bind(addr: SocketAddr, delay: Duration) -> io::Result<GreetingServer> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // As the seed does, so a restart can rebind while old connections are in TIME_WAIT.
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        let listener: TcpListener = socket.into();
        Ok(GreetingServer {
            listener,
            delay,
            log: true,
        })
    }

    /// Turns the seed's log lines on stdout on (the default) or off (for in-process benchmarks).
    pub fn with_log(mut self, log: bool) -> Self {
        self.log = log;
        self
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves forever: prints `Waiting for connection...`, then accepts and serves each
    /// connection on its own thread.
    pub fn run(self) -> io::Result<()> {
        self.serve(&AtomicBool::new(false))
    }

    /// Serves on a background thread until the handle is stopped or dropped.
    pub fn spawn(self) -> io::Result<GreetingServerHandle> {
        let addr = self.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("greeting-accept".into())
            .spawn(move || self.serve(&flag))?;
        Ok(GreetingServerHandle {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    fn serve(self, stop: &AtomicBool) -> io::Result<()> {
        log_line(self.log, "Waiting for connection...");
        loop {
            let accepted = self.listener.accept();
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let (stream, peer) = match accepted {
                Ok(c) => c,
                // A client that gave up before accept, or a momentary fd shortage: keep serving.
                Err(e) if transient_accept_error(&e) => {
                    eprintln!("accept failed: {e}");
                    thread::sleep(Duration::from_millis(10));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let (delay, log) = (self.delay, self.log);
            let spawned = thread::Builder::new()
                .name("greeting-conn".into())
                .stack_size(CONN_STACK)
                .spawn(move || handle(stream, peer, delay, log));
            if let Err(e) = spawned {
                eprintln!("cannot start a thread for {peer}: {e}");
            }
        }
    }
}

/// Stops the background server when dropped.
pub struct GreetingServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl GreetingServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting (connections being served finish on their own) and returns the accept
    /// loop's result.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> io::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stop.store(true, Ordering::SeqCst);
        // accept() has no timeout: wake it with a connection of our own (to loopback when the
        // server listens on the unspecified address).
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("greeting server thread panicked")))
    }
}

impl Drop for GreetingServerHandle {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

fn transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    ) || matches!(
        e.raw_os_error(),
        Some(23 /* ENFILE */) | Some(24 /* EMFILE */)
    )
}

/// Prints one log line; a closed stdout must not kill the server, so errors are ignored.
fn log_line(enabled: bool, line: &str) {
    if enabled {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// A peer as the log lines name it: the seed's `IP:PORT` for IPv4 (also an IPv4 client of a
/// dual-stack `[::]` listener, which the kernel hands over as `::ffff:a.b.c.d`), and
/// `[IP]:PORT` for IPv6, as the device's greeting server prints it.
fn peer_name(peer: SocketAddr) -> String {
    match peer.ip().to_canonical() {
        IpAddr::V4(ip) => format!("{ip}:{}", peer.port()),
        IpAddr::V6(ip) => format!("[{ip}]:{}", peer.port()),
    }
}

/// The seed's `tcplink(sock, addr)`: Welcome, then `Hello, X!` per received chunk until `exit`
/// or the end of the stream.
fn handle(mut stream: TcpStream, peer: SocketAddr, delay: Duration, log: bool) {
    let who = peer_name(peer);
    log_line(log, &format!("Accept new connection from {who}..."));
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; RECV_SIZE];
    if stream.write_all(WELCOME).is_ok() {
        loop {
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if !delay.is_zero() {
                thread::sleep(delay);
            }
            let data = &buf[..n];
            if data.is_empty() || data == EXIT {
                break;
            }
            if stream.write_all(&protocol::reply(data)).is_err() {
                break;
            }
        }
    }
    // Like the seed's sock.close(): a FIN, or an RST if the client sent more after `exit`.
    drop(stream);
    log_line(log, &format!("Connection from {who} close."));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_named_as_the_device_names_them() {
        let name = |s: &str| peer_name(s.parse().unwrap());
        assert_eq!(name("192.168.69.1:50136"), "192.168.69.1:50136");
        assert_eq!(name("[::ffff:192.168.69.1]:50136"), "192.168.69.1:50136");
        assert_eq!(name("[fd00:69::1]:50136"), "[fd00:69::1]:50136");
        assert_eq!(name("[::1]:9"), "[::1]:9");
    }
}
