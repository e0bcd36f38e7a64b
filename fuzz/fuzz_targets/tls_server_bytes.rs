//! Arbitrary server bytes after the device's ClientHello, through a real socket pair on the
//! in-memory link into the HTTPS client (embedded-tls under our TLS layer): nothing may
//! panic or hang, and the GET must end in an error — without the server's keys no byte
//! string is a valid TLS 1.3 session, so success would be a bug.
//!
//! The device's random source is seeded (deterministic runs). Built from the core's pieces on
//! the stack, like `greeting_framing`, not the test kit's leaking `Sim`.
#![no_main]

use std::cell::Cell;

use libfuzzer_sys::fuzz_target;
use smoltcp::iface::SocketStorage;
use smoltcp::time::{Duration, Instant};
use tcplink::http::{BodySink, HttpClient, HttpConfig, HttpEvent, HttpStorage, SinkError};
use tcplink::link::Link;
use tcplink::tls::{TlsLayer, TlsStorage, Verify};
use tcplink::{App, Handler, Stack, StackConfig, TcpBuffers};
use tcplink_testkit::rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

/// How the GET ended (`Some(true)`: success, which would be a bug); bodies are refused.
struct Ending<'a>(&'a Cell<Option<bool>>);

impl Handler<HttpEvent<'_>> for Ending<'_> {
    fn event(&mut self, event: HttpEvent<'_>) {
        match event {
            HttpEvent::Done { .. } => self.0.set(Some(true)),
            HttpEvent::Failed(_) => self.0.set(Some(false)),
            _ => {}
        }
    }
}

impl BodySink for Ending<'_> {
    fn body(&mut self, _: &[u8]) -> Result<(), SinkError> {
        Err(SinkError)
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() > 32 * 1024 {
        return;
    }
    let link: Box<Link<2, 64>> = Box::default();
    let (mut dev_port, mut peer_port) = (link.port(0), link.port(1));
    let mut now = Instant::ZERO;

    let mut dev_storage = [SocketStorage::EMPTY; 2];
    let mut http_storage = Box::new(HttpStorage::<4096, 1024>::new());
    let dev_config = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
    let mut dev_stack = Stack::new(&dev_config, &mut dev_port, &mut dev_storage, now);
    let mut tls_storage = Box::new(TlsStorage::<16_640, 1024>::new());
    let anchors: [&[u8]; 0] = [];
    let verify = Verify::Anchors {
        anchors: &anchors,
        clock: None,
        more: None,
    };
    let (wire, task) = tls_storage.split(ChaCha20Rng::seed_from_u64(7), verify);
    let task = std::pin::pin!(task);
    let mut layer = TlsLayer::new(wire, task);
    let client: HttpClient<2048, 256> = HttpClient::new(
        HttpConfig::default(),
        &mut dev_stack,
        &mut http_storage,
        &[],
    );
    let mut app = App::new(dev_stack, client.with_secure(&mut layer));

    let mut peer_storage = [SocketStorage::EMPTY; 1];
    let mut peer_buffers = Box::new(TcpBuffers::<8192, 65536>::new());
    let peer_config = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24);
    let mut peer = Stack::new(&peer_config, &mut peer_port, &mut peer_storage, now);
    let handle = peer.add_tcp(&mut peer_buffers);
    peer.tcp(handle).listen(443).unwrap();

    app.services_mut().get("https://10.0.0.1/", now).unwrap();
    let ended: Cell<Option<bool>> = Cell::new(None);
    let (mut heard, mut sent) = (false, 0);
    // Bounded: 20,000 rounds of at least 1 ms of simulated time each (the idle timeout is 30 s).
    for _ in 0..20_000 {
        app.poll(now, &mut dev_port, &mut Ending(&ended));
        peer.poll(now, &mut peer_port);
        let socket = peer.tcp(handle);
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
            heard |= n > 0;
        }
        if heard && sent < data.len() && socket.may_send() {
            sent += socket.send_slice(&data[sent..]).unwrap_or(0);
        }
        if heard && sent == data.len() && socket.may_send() {
            socket.close();
        }
        peer.poll(now, &mut peer_port);
        if ended.get().is_some() {
            break;
        }
        if link.in_flight() == 0 {
            now += Duration::from_millis(1);
        }
    }
    assert_eq!(
        ended.get(),
        Some(false),
        "the GET must end, and not in success"
    );
});
