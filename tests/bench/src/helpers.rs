//! Small programs the TAP figures run *inside* their namespaces (as hidden subcommands of
//! this binary, started with `ip netns exec`): a connect probe, a kernel-socket bulk writer,
//! and the plain smoltcp receiver that is figure 2's baseline.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant as StdInstant};

use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{wait as phy_wait, Medium, TunTapInterface};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Cidr};

/// Connects to `addr` until it accepts, at most `limit`.
pub fn probe(addr: SocketAddr, limit: Duration) -> Result<(), String> {
    let end = StdInstant::now() + limit;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(_) => return Ok(()),
            Err(e) if StdInstant::now() > end => {
                return Err(format!("{addr} not accepting after {limit:?}: {e}"))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Kernel TCP writer: connects (retrying while the receiver starts), writes `bytes` bytes,
/// half-closes, and waits for the receiver to close. Bounded by `limit`.
pub fn kernel_writer(addr: SocketAddr, bytes: u64, limit: Duration) -> Result<(), String> {
    let mut s = probe_connect(addr, limit)?;
    write_and_close(&mut s, b"", bytes, limit)
}

/// The same writer behind a minimal HTTP server: every request on `listen` gets a fixed
/// `Content-Length` head and `bytes` bytes, written exactly as [`kernel_writer`] writes them.
/// So a GET and the plain receiver read from the same sender. Serves one connection at a
/// time until `limit` has passed.
pub fn kernel_http(listen: SocketAddr, bytes: u64, limit: Duration) -> Result<(), String> {
    let listener = TcpListener::bind(listen).map_err(|e| format!("bind {listen}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let end = StdInstant::now() + limit;
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n");
    while StdInstant::now() < end {
        let mut s = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => return Err(format!("accept: {e}")),
        };
        s.set_nonblocking(false).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
        // The request head (any GET is answered alike), bounded.
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        // A failed transfer (a probe that connects and leaves) is not the server's problem.
        let _ = write_and_close(&mut s, head.as_bytes(), bytes, limit);
    }
    Ok(())
}

/// Writes `head` then `bytes` bytes in 64 KiB writes, half-closes, waits for the peer's close.
fn write_and_close(
    s: &mut TcpStream,
    head: &[u8],
    bytes: u64,
    limit: Duration,
) -> Result<(), String> {
    s.set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(limit)).map_err(|e| e.to_string())?;
    s.write_all(head).map_err(|e| format!("write: {e}"))?;
    let chunk = vec![0x5a; 64 * 1024];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        s.write_all(&chunk[..n])
            .map_err(|e| format!("write: {e}"))?;
        left -= n as u64;
    }
    s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    let mut sink = [0u8; 64];
    let _ = s.read(&mut sink);
    Ok(())
}

fn probe_connect(addr: SocketAddr, limit: Duration) -> Result<TcpStream, String> {
    let end = StdInstant::now() + limit;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => return Ok(s),
            Err(e) if StdInstant::now() > end => return Err(format!("connect {addr}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// What the receiver reports (one JSON line on stdout).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct RxReport {
    pub bytes: u64,
    /// From the connection's establishment to the last byte.
    pub secs: f64,
    pub polls: u64,
}

/// The plain smoltcp receiver, the way smoltcp's `examples/benchmark.rs` measures: one
/// interface on `phy::TunTapInterface`, one listening TCP socket with a `window`-byte
/// receive buffer, `iface.poll` then the socket, then `phy::wait` on the TAP until the
/// interface's next deadline. Counts bytes, copies nothing out.
pub fn smoltcp_rx(
    tap: &str,
    cidr: Ipv4Cidr,
    mac: EthernetAddress,
    port: u16,
    bytes: u64,
    window: usize,
    limit: Duration,
) -> Result<RxReport, String> {
    let mut device =
        TunTapInterface::new(tap, Medium::Ethernet).map_err(|e| format!("TAP {tap}: {e}"))?;
    let fd = device.as_raw_fd();
    let start = StdInstant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as i64);
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ethernet(mac)),
        &mut device,
        now(),
    );
    iface.update_ip_addrs(|a| {
        let _ = a.push(IpCidr::Ipv4(cidr));
    });
    let mut sockets = SocketSet::new(Vec::new());
    let handle = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; window]),
        tcp::SocketBuffer::new(vec![0; 1024]),
    ));
    sockets
        .get_mut::<tcp::Socket>(handle)
        .listen(port)
        .map_err(|e| format!("listen: {e}"))?;
    let (mut received, mut polls) = (0u64, 0u64);
    let mut since: Option<StdInstant> = None;
    loop {
        let t = now();
        iface.poll(t, &mut device, &mut sockets);
        polls += 1;
        let socket = sockets.get_mut::<tcp::Socket>(handle);
        if since.is_none() && socket.is_active() && socket.may_recv() {
            since = Some(StdInstant::now());
        }
        while let Ok(n @ 1..) = socket.recv(|b| (b.len(), b.len())) {
            received += n as u64;
        }
        if received >= bytes || (since.is_some() && !socket.may_recv()) {
            let secs = since.map_or(0.0, |s| s.elapsed().as_secs_f64());
            socket.close();
            // Let the FIN go out so the writer sees the close.
            for _ in 0..10 {
                iface.poll(now(), &mut device, &mut sockets);
                let _ = phy_wait(fd, Some(smoltcp::time::Duration::from_millis(5)));
            }
            return Ok(RxReport {
                bytes: received,
                secs,
                polls,
            });
        }
        if start.elapsed() > limit {
            return Err(format!("received {received} of {bytes} bytes in {limit:?}"));
        }
        let delay = iface
            .poll_delay(now(), &sockets)
            .unwrap_or(smoltcp::time::Duration::from_millis(100));
        phy_wait(fd, Some(delay)).map_err(|e| format!("wait: {e}"))?;
    }
}

/// Counts a GET's body and remembers how it ended.
#[derive(Default)]
struct Counter {
    body: u64,
    done: Option<Result<u64, String>>,
}

impl tcplink::Handler<tcplink::http::HttpEvent<'_>> for Counter {
    fn event(&mut self, event: tcplink::http::HttpEvent<'_>) {
        use tcplink::http::HttpEvent;
        match event {
            HttpEvent::Done { body_len, .. } => self.done = Some(Ok(body_len)),
            HttpEvent::Failed(e) => self.done = Some(Err(e.to_string())),
            _ => {}
        }
    }
}

impl tcplink::http::BodySink for Counter {
    fn body(&mut self, chunk: &[u8]) -> Result<(), tcplink::http::SinkError> {
        self.body += chunk.len() as u64;
        Ok(())
    }
}

/// Experiment for figure 2: the tcplink core's GET client (`App` + `HttpClient`, as
/// `tcplink-tap get` builds it) on smoltcp's `TunTapInterface`, driven by the same loop as
/// `tcplink-tap` (poll, then sleep on the TAP until the next deadline), into a counting
/// sink; `window` picks the client's receive buffer, the knob `tcplink-tap` fixes at 1 MiB.
pub fn tcplink_rx(
    tap: &str,
    cidr: Ipv4Cidr,
    mac: EthernetAddress,
    url: &str,
    window: usize,
    limit: Duration,
) -> Result<RxReport, String> {
    match window {
        65536 => tcplink_rx_with::<65536>(tap, cidr, mac, url, limit),
        262144 => tcplink_rx_with::<262144>(tap, cidr, mac, url, limit),
        1048576 => tcplink_rx_with::<1048576>(tap, cidr, mac, url, limit),
        w => Err(format!("window {w}: built for 65536, 262144 or 1048576")),
    }
}

fn tcplink_rx_with<const RX: usize>(
    tap: &str,
    cidr: Ipv4Cidr,
    mac: EthernetAddress,
    url: &str,
    limit: Duration,
) -> Result<RxReport, String> {
    use tcplink::http::{HttpClient, HttpConfig, HttpStorage};
    use tcplink::{App, Stack, StackConfig};

    let mut device =
        TunTapInterface::new(tap, Medium::Ethernet).map_err(|e| format!("TAP {tap}: {e}"))?;
    let fd = device.as_raw_fd();
    let start = StdInstant::now();
    let now = || Instant::from_micros(start.elapsed().as_micros() as i64);
    let mut config = StackConfig::unaddressed(mac.0).with_seed(u64::from(std::process::id()));
    config.ip = Some(cidr);
    let storage = tcplink_testkit::socket_storage(2);
    let mut stack = Stack::new(&config, &mut device, storage, now());
    let http_storage = tcplink_testkit::leak(HttpStorage::<RX, 1024>::new());
    // The head and URL sizes tcplink-tap uses (the core's defaults).
    let client: HttpClient<4096, 256> =
        HttpClient::new(HttpConfig::default(), &mut stack, http_storage, &[]);
    let mut app = App::new(stack, client);
    app.services_mut()
        .get(url, now())
        .map_err(|e| format!("GET {url}: {e}"))?;
    let mut counter = Counter::default();
    let t0 = StdInstant::now();
    let mut polls = 0u64;
    loop {
        let next = app.poll(now(), &mut device, &mut counter);
        polls += 1;
        if let Some(done) = counter.done.take() {
            let bytes = done?;
            return Ok(RxReport {
                bytes,
                secs: t0.elapsed().as_secs_f64(),
                polls,
            });
        }
        if start.elapsed() > limit {
            return Err(format!("{} body bytes in {limit:?}", counter.body));
        }
        let delay = next.map(|at| {
            let us = (at.total_micros() - now().total_micros()).max(0);
            smoltcp::time::Duration::from_micros(us as u64)
        });
        phy_wait(
            fd,
            Some(delay.unwrap_or(smoltcp::time::Duration::from_millis(100))),
        )
        .map_err(|e| format!("wait: {e}"))?;
    }
}
