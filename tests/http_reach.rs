//! Reaching the server: several DNS servers, and each way a server can be out of reach,
//! told apart instead of a bare timeout.

use smoltcp::phy::{Device as _, RxToken as _};
use smoltcp::time::Duration;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Ipv4Address,
};
use tcplink::http::{DnsServers, HttpConfig, HttpError};
use tcplink::url::UrlError;
use tcplink_testkit::{DeviceSetup, Recorded, Response, Sim, DEVICE_IP, PEER_IP};

/// Nobody on the link has this address: frames to it go nowhere.
const DEAD: Ipv4Address = Ipv4Address::new(10, 0, 0, 9);

fn new_sim(dns: Vec<Ipv4Address>) -> Sim<1> {
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        dns: dns.into_iter().map(Into::into).collect(),
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<1>::new(&setup, 8);
    sim.peer.serve_http(80, 1);
    sim.peer.http[0].route("/", Response::fixed(b"hello"));
    sim.peer.serve_dns(&[("files.test", PEER_IP)]);
    sim
}

fn fetch(sim: &mut Sim<1>, url: &str) -> Result<(u16, u64), HttpError> {
    // Only this GET's events: the outcome is the last one recorded.
    sim.events.list.clear();
    sim.get(url)?;
    sim.run_get(Duration::from_secs(120)).expect("GET ended")
}

#[test]
fn a_dead_first_dns_server_falls_over_to_the_second_within_the_budget() {
    let mut sim = new_sim(vec![DEAD, PEER_IP]);
    let start = sim.now;
    assert_eq!(fetch(&mut sim, "http://files.test/"), Ok((200, 5)));
    assert_eq!(sim.events.body, b"hello");
    assert_eq!(sim.peer.dns.as_ref().unwrap().queries, ["files.test"]);
    // The first server had its share of the 5 s budget, no more.
    let resolved_at = sim
        .events
        .list
        .iter()
        .find_map(|(at, e)| matches!(e, Recorded::Resolved(_)).then_some(*at))
        .expect("resolved");
    assert!(resolved_at - start >= Duration::from_millis(2500));
    assert!(resolved_at - start < HttpConfig::default().dns_timeout);
}

#[test]
fn when_every_dns_server_is_silent_the_error_names_them() {
    let mut sim = new_sim(vec![DEAD, PEER_IP]);
    sim.peer.dns.as_mut().unwrap().silent = true;
    let start = sim.now;
    let error = fetch(&mut sim, "http://files.test/").unwrap_err();
    assert_eq!(
        error,
        HttpError::DnsTimeout {
            tried: DnsServers::from(&[DEAD.into(), PEER_IP.into()][..])
        }
    );
    assert_eq!(
        error.to_string(),
        "DNS: no answer from 10.0.0.9, 10.0.0.1 (timed out)"
    );
    assert_eq!(sim.now - start, HttpConfig::default().dns_timeout);
    assert!(!sim.peer.dns.as_ref().unwrap().queries.is_empty());
}

#[test]
fn an_address_off_the_subnet_without_a_gateway_has_no_route_at_once() {
    let mut sim = new_sim(vec![PEER_IP]);
    let start = sim.now;
    let error = fetch(&mut sim, "http://10.1.2.3/").unwrap_err();
    assert_eq!(
        error,
        HttpError::NoRoute(Ipv4Address::new(10, 1, 2, 3).into())
    );
    assert_eq!(
        error.to_string(),
        "no route to 10.1.2.3 (not on the subnet, no gateway)"
    );
    assert!(sim.now - start < Duration::from_millis(10));
}

#[test]
fn a_silent_next_hop_is_no_arp_reply() {
    let mut sim = new_sim(vec![PEER_IP]);
    let error = fetch(&mut sim, "http://10.0.0.7/").unwrap_err();
    assert_eq!(
        error,
        HttpError::NoNeighborReply(Ipv4Address::new(10, 0, 0, 7).into())
    );
    assert_eq!(error.to_string(), "no ARP reply from 10.0.0.7");
    // The next GET to the live peer is not confused by the earlier watch.
    assert_eq!(fetch(&mut sim, "http://10.0.0.1/"), Ok((200, 5)));
}

/// Whether `frame` is an ARP request for `target`.
fn asks_for(frame: &[u8], target: Ipv4Address) -> bool {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return false;
    };
    let arp = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
    eth.ethertype() == EthernetProtocol::Arp
        && matches!(arp, Ok(ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            target_protocol_addr,
            ..
        }) if target_protocol_addr == target)
}

#[test]
fn a_lost_first_arp_request_is_repeated_within_tens_of_milliseconds() {
    let mut sim = new_sim(vec![PEER_IP]);
    let start = sim.now;
    sim.get("http://10.0.0.1/").unwrap();
    // The device's first round connects, which asks for the peer's address; the peer never
    // sees that request (as a TAP's host side drops its answer while the link comes up).
    sim.device
        .app
        .poll(sim.now, &mut sim.device.port, &mut sim.events);
    let mut peer_end = sim.link.port(1);
    let (rx, _) = peer_end.receive(sim.now).expect("the device sent a frame");
    assert!(rx.consume(|frame| asks_for(frame, PEER_IP)));
    assert_eq!(sim.link.in_flight(), 0, "the request was the only frame");
    assert_eq!(sim.run_get(Duration::from_secs(5)), Some(Ok((200, 5))));
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

#[test]
fn a_known_neighbour_that_drops_the_syn_is_a_plain_connect_timeout() {
    let mut sim = new_sim(vec![PEER_IP]);
    // The peer answered ARP (the first GET fills the neighbour cache), then the link goes
    // dead: no ARP is asked, the SYNs are lost.
    assert_eq!(fetch(&mut sim, "http://10.0.0.1/"), Ok((200, 5)));
    sim.device.port.set_drop_chance(100);
    assert_eq!(
        fetch(&mut sim, "http://10.0.0.1/"),
        Err(HttpError::ConnectTimeout)
    );
}

#[test]
fn this_devices_own_address_is_named() {
    let mut sim = new_sim(vec![PEER_IP]);
    let error = fetch(&mut sim, &format!("http://{DEVICE_IP}/")).unwrap_err();
    assert_eq!(error, HttpError::OwnAddress(DEVICE_IP.into()));
    assert_eq!(error.to_string(), "10.0.0.2 is this device's own address");
}

#[test]
fn an_ipv6_literal_off_link_without_a_router_has_no_route_at_once() {
    // The device has its link-local address only, and no router advertised itself.
    let mut sim = new_sim(vec![PEER_IP]);
    let start = sim.now;
    let error = fetch(&mut sim, "http://[2001:db8::1]:8080/x").unwrap_err();
    let addr = "2001:db8::1".parse::<smoltcp::wire::Ipv6Address>().unwrap();
    assert_eq!(error, HttpError::NoRoute(addr.into()));
    assert_eq!(
        error.to_string(),
        "no route to 2001:db8::1 (not on the subnet, no gateway)"
    );
    assert!(sim.now - start < Duration::from_millis(10));
    // A malformed literal is still a URL error, at once.
    assert_eq!(
        sim.get("http://[2001:db8::1/x"),
        Err(HttpError::Url(UrlError::Malformed))
    );
}
