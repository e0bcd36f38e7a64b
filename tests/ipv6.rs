//! IPv6 next to IPv4 over the in-memory link (issue 15): the peer is dual-stack (10.0.0.1 and
//! fd00::1), the device has 10.0.0.2 and fd00::2. The seed's greeting, GETs by literal and by
//! AAAA name, the family order and fallback, the pool-full refusal, ping of both families,
//! the early repeat of a lost neighbour solicitation, and SLAAC from a router advertisement.

use smoltcp::iface::SocketHandle;
use smoltcp::phy::{ChecksumCapabilities, Device as _, RxToken as _, TxToken as _};
use smoltcp::socket::icmp;
use smoltcp::time::Duration;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv4Packet, Icmpv4Repr,
    Icmpv6Packet, Icmpv6Repr, IpAddress, IpCidr, IpEndpoint, IpProtocol, Ipv4Address, Ipv6Address,
    Ipv6Packet, Ipv6Repr, NdiscPrefixInfoFlags, NdiscPrefixInformation, NdiscRepr,
    NdiscRouterFlags,
};
use tcplink::greeting::{CloseReason, GreetingConfig, GreetingEvent};
use tcplink::http::{ConnectAttempt, ConnectError, HttpConfig, HttpError};
use tcplink_testkit::{
    leak_vec, pseudo_random, sha256, Client, DeviceSetup, Outcome, Recorded, Response, Sim, Step,
    DEVICE_IP, DEVICE_IP6, PEER_IP, PEER_IP6, PEER_MAC, TYPE_A, TYPE_AAAA,
};

const SEED: [&str; 4] = ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"];

/// Nobody on the link has these addresses: frames to them go nowhere.
const DEAD: Ipv4Address = Ipv4Address::new(10, 0, 0, 9);
const DEAD6: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 9);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A dual-stack device with the GET client and the greeting server; the peer serves HTTP on
/// port 80 (both families) and DNS: `both.test` has A and AAAA, `v4.test` A only,
/// `v6.test` AAAA only.
fn http_sim() -> Sim<4> {
    let setup = DeviceSetup {
        greeting: Some(GreetingConfig::default()),
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP6.into()],
        ipv6: true,
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 16);
    sim.peer.serve_http(80, 2);
    let dns = sim.peer.serve_dns(&[
        ("both.test", IpAddress::from(PEER_IP)),
        ("both.test", PEER_IP6.into()),
        ("v4.test", PEER_IP.into()),
        ("v6.test", PEER_IP6.into()),
    ]);
    dns.add("dead6.test", DEAD6.into());
    dns.add("dead6.test", PEER_IP.into());
    dns.add("dead.test", DEAD6.into());
    dns.add("dead.test", DEAD.into());
    sim
}

fn fetch(sim: &mut Sim<4>, url: &str) -> Result<(u16, u64), HttpError> {
    sim.events.list.clear();
    sim.get(url).expect("GET starts");
    sim.run_get(secs(600)).expect("GET ended")
}

fn connected(sim: &Sim<4>) -> Vec<IpEndpoint> {
    sim.event_list()
        .into_iter()
        .filter_map(|e| match e {
            Recorded::Connected(remote) => Some(remote),
            _ => None,
        })
        .collect()
}

fn resolved(sim: &Sim<4>) -> Vec<IpAddress> {
    sim.event_list()
        .into_iter()
        .filter_map(|e| match e {
            Recorded::Resolved(addr) => Some(addr),
            _ => None,
        })
        .collect()
}

fn dns_types(sim: &Sim<4>) -> Vec<u16> {
    sim.peer.dns.as_ref().unwrap().query_types.clone()
}

#[test]
fn seed_transcript_over_ipv6_with_bracketed_log_lines() {
    let mut sim = Sim::<4>::greeting_v6(GreetingConfig::default(), 1);
    let c = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));

    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    assert_eq!(client.transcript_strings(), SEED);
    assert_eq!(client.received, SEED.concat().as_bytes());
    assert!(client.server_closed, "the server closed after exit");

    let peer = IpEndpoint::new(PEER_IP6.into(), client.local_port);
    assert_eq!(
        sim.event_list(),
        [
            Recorded::Greeting(GreetingEvent::Accepted { peer }),
            Recorded::Greeting(GreetingEvent::Closed {
                peer,
                reason: CloseReason::Exit
            }),
        ]
    );
    let lines: Vec<String> = sim.event_list().iter().map(line).collect();
    assert_eq!(
        lines,
        [
            format!(
                "Accept new connection from [fd00::1]:{}...",
                client.local_port
            ),
            format!("Connection from [fd00::1]:{} close.", client.local_port),
        ]
    );
}

fn line(event: &Recorded) -> String {
    match event {
        Recorded::Greeting(g) => g.to_string(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn one_port_serves_both_families_at_once() {
    let mut sim = Sim::<4>::greeting_v6(GreetingConfig::default(), 2);
    let v6 = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.device_addr = DEVICE_IP.into();
    let v4 = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));
    for c in [v6, v4] {
        assert_eq!(sim.peer.client(c).transcript_strings(), SEED);
    }
    let lines: Vec<String> = sim.event_list().iter().map(line).collect();
    let (p6, p4) = (
        sim.peer.client(v6).local_port,
        sim.peer.client(v4).local_port,
    );
    for want in [
        format!("Accept new connection from [fd00::1]:{p6}..."),
        format!("Accept new connection from 10.0.0.1:{p4}..."),
        format!("Connection from [fd00::1]:{p6} close."),
        format!("Connection from 10.0.0.1:{p4} close."),
    ] {
        assert!(lines.contains(&want), "{want} not in {lines:?}");
    }
}

#[test]
fn full_pool_refuses_ipv6_clients_at_once_and_frees_for_later_ones() {
    const N: usize = 4;
    let mut sim = Sim::<N>::greeting_v6(GreetingConfig::default(), N + 2);
    let holding: Vec<usize> = (0..N)
        .map(|i| {
            sim.start(Client::new(vec![
                Step::Recv,
                Step::Send(format!("client{i}").into_bytes()),
                Step::Recv,
                Step::Pause(secs(2)),
                Step::Send(b"exit".to_vec()),
                Step::Close,
            ]))
        })
        .collect();
    let refused_at = sim.now;
    let extra = sim.start(Client::seed(&["Alice"]));
    sim.run_until(secs(1), |sim| sim.peer.client(extra).finished());
    let extra_client = sim.peer.client(extra);
    assert_eq!(extra_client.outcome(), Some(Outcome::Refused));
    let (when, _) = extra_client.finished.unwrap();
    assert!(when - refused_at < Duration::from_millis(10));

    sim.run_clients(secs(10));
    for (i, &c) in holding.iter().enumerate() {
        assert_eq!(
            sim.peer.client(c).transcript_strings(),
            ["Welcome".to_string(), format!("Hello, client{i}!")]
        );
    }
    let later = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));
    assert_eq!(sim.peer.client(later).transcript_strings(), SEED);
}

#[test]
fn a_get_by_ipv6_literal_is_byte_identical_and_says_host_in_brackets() {
    let body = pseudo_random(1 << 20, 61);
    let mut sim = http_sim();
    sim.peer.serve_http(8080, 1);
    sim.peer.http[1].route("/x", Response::chunked(&body, 3000));
    let result = fetch(&mut sim, "http://[fd00::1]:8080/x");
    assert_eq!(result, Ok((200, body.len() as u64)));
    assert_eq!(sim.events.body_sha256(), sha256(&body));
    let head = String::from_utf8(sim.peer.http[1].request_heads[0].clone()).unwrap();
    assert!(head.contains("\r\nHost: [fd00::1]:8080\r\n"), "{head}");
    assert_eq!(connected(&sim), [IpEndpoint::new(PEER_IP6.into(), 8080)]);
    assert!(dns_types(&sim).is_empty(), "a literal needs no DNS");
}

#[test]
fn a_name_with_both_families_is_fetched_over_ipv6_first() {
    let body = pseudo_random(300_000, 62);
    let mut sim = http_sim();
    sim.peer.http[0].route("/f", Response::fixed(&body));
    assert_eq!(
        fetch(&mut sim, "http://both.test/f"),
        Ok((200, body.len() as u64))
    );
    assert_eq!(sim.events.body, body);
    assert_eq!(dns_types(&sim), [TYPE_AAAA], "AAAA answered: no A asked");
    assert_eq!(resolved(&sim), [IpAddress::from(PEER_IP6)]);
    assert_eq!(connected(&sim), [IpEndpoint::new(PEER_IP6.into(), 80)]);
    let head = String::from_utf8(sim.peer.http[0].request_heads[0].clone()).unwrap();
    assert!(head.contains("\r\nHost: both.test\r\n"), "{head}");
}

#[test]
fn a_name_with_aaaa_only_and_one_with_a_only_are_both_fetched() {
    let mut sim = http_sim();
    sim.peer.http[0].route("/f", Response::fixed(b"hello"));
    assert_eq!(fetch(&mut sim, "http://v6.test/f"), Ok((200, 5)));
    assert_eq!(connected(&sim), [IpEndpoint::new(PEER_IP6.into(), 80)]);
    // No AAAA record: the A lookup follows at once.
    assert_eq!(fetch(&mut sim, "http://v4.test/f"), Ok((200, 5)));
    assert_eq!(connected(&sim), [IpEndpoint::new(PEER_IP.into(), 80)]);
    assert_eq!(dns_types(&sim), [TYPE_AAAA, TYPE_AAAA, TYPE_A]);
}

#[test]
fn without_an_ipv6_address_a_name_is_looked_up_by_a_alone() {
    // Link-local only: IPv6 reaches no server off the link, so A alone is asked.
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 8);
    sim.peer.serve_http(80, 1);
    sim.peer.http[0].route("/f", Response::fixed(b"hello"));
    sim.peer.serve_dns(&[
        ("both.test", IpAddress::from(PEER_IP)),
        ("both.test", PEER_IP6.into()),
    ]);
    assert_eq!(fetch(&mut sim, "http://both.test/f"), Ok((200, 5)));
    assert_eq!(dns_types(&sim), [TYPE_A]);
    assert_eq!(connected(&sim), [IpEndpoint::new(PEER_IP.into(), 80)]);
}

#[test]
fn an_unreachable_aaaa_falls_back_to_a_within_the_connect_budget() {
    let mut sim = http_sim();
    sim.peer.http[0].route("/f", Response::fixed(b"hello"));
    let start = sim.now;
    assert_eq!(fetch(&mut sim, "http://dead6.test/f"), Ok((200, 5)));
    assert_eq!(sim.events.body, b"hello");
    assert_eq!(resolved(&sim), [IpAddress::from(DEAD6), PEER_IP.into()]);
    assert_eq!(connected(&sim), [IpEndpoint::new(PEER_IP.into(), 80)]);
    assert_eq!(dns_types(&sim), [TYPE_AAAA, TYPE_A]);
    // IPv6 had half the connect budget, then IPv4 connected as soon as ARP could ask:
    // smoltcp sends one neighbour request a second, whatever the address, and its last
    // solicitation for fd00::9 went out as the attempt ended.
    let took = sim.now - start;
    let half = HttpConfig::default().connect_timeout / 2;
    assert!(took >= half && took <= half + secs(1), "took {took}");
}

#[test]
fn when_both_families_fail_the_error_names_both_attempts() {
    let mut sim = http_sim();
    let start = sim.now;
    let error = fetch(&mut sim, "http://dead.test/f").unwrap_err();
    assert_eq!(
        error,
        HttpError::ConnectFailed {
            v6: ConnectAttempt {
                addr: DEAD6.into(),
                error: ConnectError::NoNeighborReply(DEAD6.into()),
            },
            v4: ConnectAttempt {
                addr: DEAD.into(),
                error: ConnectError::NoNeighborReply(DEAD.into()),
            },
        }
    );
    assert_eq!(
        error.to_string(),
        "could not connect over IPv6 (fd00::9: no neighbour advertisement from fd00::9) \
         nor over IPv4 (10.0.0.9: no ARP reply from 10.0.0.9)"
    );
    // Both attempts together took the connect budget, no more.
    let took = sim.now - start;
    let budget = HttpConfig::default().connect_timeout;
    assert!(took >= budget && took < budget + secs(1), "took {took}");
    // A single family's failure keeps its own error.
    let error = fetch(&mut sim, "http://[fd00::9]/f").unwrap_err();
    assert_eq!(error, HttpError::NoNeighborReply(DEAD6.into()));
    assert_eq!(error.to_string(), "no neighbour advertisement from fd00::9");
    // And the device is not stuck: the next GET over IPv6 works.
    sim.peer.http[0].route("/f", Response::fixed(b"hello"));
    assert_eq!(fetch(&mut sim, "http://[fd00::1]/f"), Ok((200, 5)));
}

#[test]
fn redirects_cross_families() {
    let mut sim = http_sim();
    sim.peer.http[0].route("/old", Response::redirect(302, "http://10.0.0.1/new"));
    sim.peer.http[0].route("/new", Response::redirect(301, "http://[fd00::1]/last"));
    sim.peer.http[0].route("/last", Response::fixed(b"there"));
    assert_eq!(fetch(&mut sim, "http://v6.test/old"), Ok((200, 5)));
    assert_eq!(sim.events.body, b"there");
    assert_eq!(
        connected(&sim),
        [
            IpEndpoint::new(PEER_IP6.into(), 80),
            IpEndpoint::new(PEER_IP.into(), 80),
            IpEndpoint::new(PEER_IP6.into(), 80),
        ]
    );
}

/// An ICMP socket on the peer for echo requests with identifier `ident`.
fn pinger(sim: &mut Sim<4>, ident: u16) -> SocketHandle {
    let buffer = || {
        icmp::PacketBuffer::new(
            &mut leak_vec(vec![icmp::PacketMetadata::EMPTY; 4])[..],
            &mut leak_vec(vec![0u8; 1024])[..],
        )
    };
    let mut socket = icmp::Socket::new(buffer(), buffer());
    socket.bind(icmp::Endpoint::Ident(ident)).unwrap();
    sim.peer.stack.add_socket(socket)
}

/// The peer pings `target` once; returns the reply's source and its ICMP bytes.
fn ping(
    sim: &mut Sim<4>,
    handle: SocketHandle,
    target: IpAddress,
    seq_no: u16,
) -> (IpAddress, Vec<u8>) {
    let data = b"tcplink ping payload";
    let caps = ChecksumCapabilities::default();
    let mut request = vec![0u8; 8 + data.len()];
    match target {
        IpAddress::Ipv4(_) => {
            let repr = Icmpv4Repr::EchoRequest {
                ident: 0x22b,
                seq_no,
                data,
            };
            repr.emit(&mut Icmpv4Packet::new_unchecked(&mut request[..]), &caps);
        }
        IpAddress::Ipv6(dst) => {
            let repr = Icmpv6Repr::EchoRequest {
                ident: 0x22b,
                seq_no,
                data,
            };
            repr.emit(
                &PEER_IP6,
                &dst,
                &mut Icmpv6Packet::new_unchecked(&mut request[..]),
                &caps,
            );
        }
    }
    let socket = sim.peer.stack.sockets_mut().get_mut::<icmp::Socket>(handle);
    socket.send_slice(&request, target).unwrap();
    let mut reply = None;
    sim.run_until(secs(2), |sim| {
        let socket = sim.peer.stack.sockets().get::<icmp::Socket>(handle);
        socket.can_recv()
    });
    let socket = sim.peer.stack.sockets_mut().get_mut::<icmp::Socket>(handle);
    if let Ok((bytes, from)) = socket.recv() {
        reply = Some((from, bytes.to_vec()));
    }
    reply.expect("an echo reply within 2 s")
}

#[test]
fn the_device_answers_ping_over_both_families() {
    let mut sim = http_sim();
    let handle = pinger(&mut sim, 0x22b);
    let caps = ChecksumCapabilities::default();

    let (from, bytes) = ping(&mut sim, handle, DEVICE_IP.into(), 1);
    assert_eq!(from, IpAddress::from(DEVICE_IP));
    let packet = Icmpv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        Icmpv4Repr::parse(&packet, &caps).unwrap(),
        Icmpv4Repr::EchoReply {
            ident: 0x22b,
            seq_no: 1,
            data: b"tcplink ping payload"
        }
    );

    let (from, bytes) = ping(&mut sim, handle, DEVICE_IP6.into(), 2);
    assert_eq!(from, IpAddress::from(DEVICE_IP6));
    let packet = Icmpv6Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        Icmpv6Repr::parse(&DEVICE_IP6, &PEER_IP6, &packet, &caps).unwrap(),
        Icmpv6Repr::EchoReply {
            ident: 0x22b,
            seq_no: 2,
            data: b"tcplink ping payload"
        }
    );
}

/// Whether `frame` is an IPv6 neighbour solicitation for `target`.
fn solicits(frame: &[u8], target: Ipv6Address) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    if eth.ethertype() != EthernetProtocol::Ipv6 {
        return false;
    }
    let Ok(ip) = Ipv6Packet::new_checked(eth.payload()) else {
        return false;
    };
    let Ok(icmp) = Icmpv6Packet::new_checked(ip.payload()) else {
        return false;
    };
    ip.next_header() == IpProtocol::Icmpv6
        && matches!(
            Icmpv6Repr::parse(&ip.src_addr(), &ip.dst_addr(), &icmp, &ChecksumCapabilities::default()),
            Ok(Icmpv6Repr::Ndisc(NdiscRepr::NeighborSolicit { target_addr, .. })) if target_addr == target
        )
}

#[test]
fn a_lost_first_neighbour_solicitation_is_repeated_within_tens_of_milliseconds() {
    let mut sim = http_sim();
    sim.peer.http[0].route("/f", Response::fixed(b"hello"));
    let start = sim.now;
    sim.get("http://[fd00::1]/f").unwrap();
    // The device's first round connects, which solicits the peer's link-layer address; the
    // peer never sees that solicitation.
    sim.device
        .app
        .poll(sim.now, &mut sim.device.port, &mut sim.events);
    let mut peer_end = sim.link.port(1);
    let (rx, _) = peer_end.receive(sim.now).expect("the device sent a frame");
    assert!(rx.consume(|frame| solicits(frame, PEER_IP6)));
    assert_eq!(
        sim.link.in_flight(),
        0,
        "the solicitation was the only frame"
    );
    assert_eq!(sim.run_get(secs(5)), Some(Ok((200, 5))));
    let connected_at = sim
        .events
        .list
        .iter()
        .find_map(|(at, e)| matches!(e, Recorded::Connected(_)).then_some(*at))
        .expect("connected");
    // The first repeat, 20 ms on, is answered; smoltcp alone would ask again after 1 s.
    let took = connected_at - start;
    assert!(
        took >= Duration::from_millis(20) && took <= Duration::from_millis(40),
        "connected after {took}"
    );
}

/// The peer's link-local address (EUI-64 from its MAC 02:00:00:00:00:01).
const PEER_LINK_LOCAL: Ipv6Address = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1);
/// The prefix the peer advertises, and the device's SLAAC address in it (EUI-64).
const PREFIX: Ipv6Address = Ipv6Address::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0);
const DEVICE_SLAAC: Ipv6Address = Ipv6Address::new(0x2001, 0xdb8, 1, 0, 0, 0xff, 0xfe00, 2);

/// The peer, as a router, advertises `PREFIX`/64 (autonomous) and itself as default router
/// to all nodes.
fn advertise(sim: &mut Sim<4>) {
    let ra = NdiscRepr::RouterAdvert {
        hop_limit: 64,
        flags: NdiscRouterFlags::empty(),
        router_lifetime: secs(1800),
        reachable_time: Duration::ZERO,
        retrans_time: Duration::ZERO,
        lladdr: Some(EthernetAddress(PEER_MAC).into()),
        mtu: None,
        prefix_info: Some(NdiscPrefixInformation {
            prefix_len: 64,
            flags: NdiscPrefixInfoFlags::ON_LINK | NdiscPrefixInfoFlags::ADDRCONF,
            valid_lifetime: secs(86400),
            preferred_lifetime: secs(14400),
            prefix: PREFIX,
        }),
    };
    let icmp = Icmpv6Repr::Ndisc(ra);
    let ip = Ipv6Repr {
        src_addr: PEER_LINK_LOCAL,
        dst_addr: Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp.buffer_len(),
        hop_limit: 255,
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress(PEER_MAC),
        dst_addr: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        ethertype: EthernetProtocol::Ipv6,
    };
    let len = eth.buffer_len() + ip.buffer_len() + icmp.buffer_len();
    let mut peer_end = sim.link.port(1);
    let tx = peer_end.transmit(sim.now).expect("room on the link");
    tx.consume(len, |frame| {
        let mut frame = EthernetFrame::new_unchecked(frame);
        eth.emit(&mut frame);
        let mut packet = Ipv6Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet);
        icmp.emit(
            &ip.src_addr,
            &ip.dst_addr,
            &mut Icmpv6Packet::new_unchecked(packet.payload_mut()),
            &ChecksumCapabilities::default(),
        );
    });
}

#[test]
fn slaac_gives_an_address_and_a_default_route_from_the_router_advertisement() {
    let setup = DeviceSetup {
        greeting: Some(GreetingConfig::default()),
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        slaac: true,
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 8);
    // The peer is on the advertised prefix, and owns an address beyond it (reached through
    // the router, which is the peer itself).
    let beyond = Ipv6Address::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);
    sim.peer.stack.iface_mut().update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(
                Ipv6Address::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1).into(),
                64,
            ))
            .unwrap();
        addrs.push(IpCidr::new(beyond.into(), 64)).unwrap();
    });
    sim.peer.serve_http(80, 1);
    sim.peer.http[0].route("/f", Response::fixed(b"routed"));
    sim.peer.serve_dns(&[
        ("beyond.test", IpAddress::from(beyond)),
        ("beyond.test", PEER_IP.into()),
    ]);
    let stack = sim.device.app.stack();
    let link_local = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 2);
    assert_eq!(
        stack
            .ipv6_addresses()
            .map(|c| c.address())
            .collect::<Vec<_>>(),
        [link_local],
        "link-local from the MAC, always"
    );
    assert_eq!(stack.global_ipv6(), None);

    sim.advance(Duration::from_millis(100));
    advertise(&mut sim);
    sim.advance(Duration::from_millis(100));
    let stack = sim.device.app.stack();
    assert_eq!(
        stack
            .ipv6_addresses()
            .map(|c| (c.address(), c.prefix_len()))
            .collect::<Vec<_>>(),
        [(link_local, 64), (DEVICE_SLAAC, 64)]
    );
    assert_eq!(stack.global_ipv6(), Some(DEVICE_SLAAC));
    assert_eq!(stack.ipv6_router(), Some(PEER_LINK_LOCAL));

    // A client reaches the greeting server on the SLAAC address.
    sim.device_addr = DEVICE_SLAAC.into();
    let c = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));
    assert_eq!(sim.peer.client(c).transcript_strings(), SEED);
    // A GET off the prefix goes through the advertised router; the name's AAAA is tried
    // first, now that the device has a global address.
    assert_eq!(fetch(&mut sim, "http://beyond.test/f"), Ok((200, 6)));
    assert_eq!(connected(&sim), [IpEndpoint::new(beyond.into(), 80)]);
    assert_eq!(sim.events.body, b"routed");
}

#[test]
fn all_three_router_solicitations_go_out_while_nothing_else_runs() {
    // No application: nothing but SLAAC needs a timer. The simulated clock jumps from one
    // deadline to the next, as a platform sleeps.
    let setup = DeviceSetup {
        slaac: true,
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 8);
    sim.advance(secs(30));
    // Router solicitations are the only frames the device sends.
    assert_eq!(sim.link.stats(0).sent, 3, "solicitations at 0, 4 and 8 s");
}

#[test]
fn unanswered_router_solicitations_leave_no_deadline_in_the_past() {
    // SLAAC on, no router on the link, and a connection waiting (for an ARP answer that never
    // comes) so the interface has a timer. smoltcp 0.14 alone reports 12 s as the deadline
    // forever once its third solicitation goes unanswered: a platform would spin.
    let setup = DeviceSetup {
        http: Some(HttpConfig::default().with_connect_timeout(secs(60))),
        dns: vec![PEER_IP.into()],
        slaac: true,
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 8);
    let start = sim.now;
    sim.get("http://10.0.0.9/").unwrap();
    for at in [1, 5, 9, 12, 13, 20, 30, 59] {
        sim.advance(start + secs(at) - sim.now);
        let next = sim
            .device
            .app
            .poll(sim.now, &mut sim.device.port, &mut sim.events);
        assert!(
            next.is_some_and(|next| next > sim.now),
            "at {}: next poll {next:?}",
            sim.now
        );
    }
    // The addresses stayed, and the GET still ends as it should.
    let stack = sim.device.app.stack();
    assert_eq!(stack.ipv4(), Some(DEVICE_IP));
    assert_eq!(stack.ipv6_addresses().count(), 1, "link-local");
    assert_eq!(
        sim.run_get(secs(5)),
        Some(Err(HttpError::NoNeighborReply(DEAD.into())))
    );
    // And the device still answers ping.
    let handle = pinger(&mut sim, 0x22b);
    let (from, _) = ping(&mut sim, handle, DEVICE_IP.into(), 1);
    assert_eq!(from, IpAddress::from(DEVICE_IP));
}
