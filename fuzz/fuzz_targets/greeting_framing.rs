//! Arbitrary bytes sent to the greeting server through a real socket pair on the in-memory
//! link: the server never panics, and its replies are `Welcome` then `Hello, X!` for messages
//! that are exactly the input with framing removed (up to an `exit`).
//!
//! The device socket is sized like the board's (1 KiB in, 256 B out), so replies stream.
//!
//! Built from the core's own pieces on the stack rather than the test kit's `Sim`, which leaks
//! its link on purpose (fine for a test, not for millions of fuzz runs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smoltcp::iface::SocketStorage;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, Ipv4Address};
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::link::Link;
use tcplink::stack::tcp_is_free;
use tcplink::{App, Ignore, Stack, StackConfig, TcpBuffers};
use tcplink_testkit::greeting_echo;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > 4096 {
        return;
    }
    let link: Box<Link<2, 32>> = Box::default();
    let (mut dev_port, mut peer_port) = (link.port(0), link.port(1));
    let mut now = Instant::ZERO;

    let mut dev_storage = [SocketStorage::EMPTY; 1];
    let mut dev_buffers = Box::new([const { TcpBuffers::<1024, 256>::new() }; 1]);
    let dev_config = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
    let mut dev_stack = Stack::new(&dev_config, &mut dev_port, &mut dev_storage, now);
    let server =
        GreetingServer::<1>::new(GreetingConfig::default(), &mut dev_stack, &mut dev_buffers);
    let mut app = App::new(dev_stack, server);

    let mut peer_storage = [SocketStorage::EMPTY; 1];
    let mut peer_buffers = Box::new(TcpBuffers::<8192, 8192>::new());
    let peer_config = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24);
    let mut peer = Stack::new(&peer_config, &mut peer_port, &mut peer_storage, now);
    let handle = peer.add_tcp(&mut peer_buffers);
    let remote = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), 9999);
    peer.connect(handle, remote, 49152).unwrap();

    let (mut sent, mut closed_at) = (0, None);
    let mut received = Vec::new();
    // Bounded: 20,000 rounds of at least 1 ms of simulated time each.
    for _ in 0..20_000 {
        app.poll(now, &mut dev_port, &mut Ignore);
        peer.poll(now, &mut peer_port);
        let socket = peer.tcp(handle);
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = socket.recv_slice(&mut buf) {
            received.extend_from_slice(&buf[..n]);
        }
        if received.len() >= 7 && sent < data.len() && socket.may_send() {
            sent += socket.send_slice(&data[sent..]).unwrap_or(0);
        }
        if sent == data.len() && closed_at.is_none() {
            closed_at = Some(now);
        }
        if closed_at.is_some_and(|at| now >= at + Duration::from_secs(1)) {
            socket.close();
        }
        peer.poll(now, &mut peer_port);
        if tcp_is_free(peer.sockets().get::<tcp::Socket>(handle)) && closed_at.is_some() {
            break;
        }
        if link.in_flight() == 0 {
            now += Duration::from_millis(1);
        }
    }
    let echoed =
        greeting_echo(data, &received).expect("replies are Welcome then Hello, X! for the input");
    let unframed = data.iter().filter(|&&b| b != b'\n' && b != b'\r').count();
    // Everything is answered unless an `exit` message closed the session early.
    if !data.windows(4).any(|w| w == b"exit") {
        assert_eq!(echoed, unframed, "{received:?}");
    }
});
