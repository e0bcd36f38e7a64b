//! A small DNS responder on the peer host (UDP port 53, over IPv4 and IPv6): A and AAAA
//! records from a table, no answer (NOERROR) for a known name without a record of the type
//! asked, NXDOMAIN for an unknown name, or silence to test timeouts.

use std::collections::HashMap;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::wire::{IpAddress, Ipv4Address, Ipv6Address};

use tcplink::stack::Stack;

use crate::leak_vec;

/// DNS record types.
pub const TYPE_A: u16 = 1;
/// DNS record types.
pub const TYPE_AAAA: u16 = 28;

/// Answers A and AAAA queries from tables.
pub struct DnsServer {
    handle: SocketHandle,
    /// Name (lower case, no trailing dot) to IPv4 address.
    pub records: HashMap<String, Ipv4Address>,
    /// Name (lower case, no trailing dot) to IPv6 address.
    pub records_v6: HashMap<String, Ipv6Address>,
    /// Drop every query (to test DNS timeouts).
    pub silent: bool,
    /// Every name asked for.
    pub queries: Vec<String>,
    /// The type of every query ([`TYPE_A`], [`TYPE_AAAA`]), in the same order.
    pub query_types: Vec<u16>,
}

impl DnsServer {
    /// A responder bound to port 53 in `stack`.
    pub fn new(stack: &mut Stack<'static>) -> Self {
        let buffer = || {
            udp::PacketBuffer::new(
                &mut leak_vec(vec![udp::PacketMetadata::EMPTY; 16])[..],
                &mut leak_vec(vec![0u8; 8192])[..],
            )
        };
        let (rx, tx) = (buffer(), buffer());
        let mut socket = udp::Socket::new(rx, tx);
        socket.bind(53).expect("bind 53");
        Self {
            handle: stack.add_socket(socket),
            records: HashMap::new(),
            records_v6: HashMap::new(),
            silent: false,
            queries: Vec::new(),
            query_types: Vec::new(),
        }
    }

    /// Adds the record for `addr` to `name`: A or AAAA by its family.
    pub fn add(&mut self, name: &str, addr: IpAddress) {
        match addr {
            IpAddress::Ipv4(v4) => self.records.insert(name.to_string(), v4).map(drop),
            IpAddress::Ipv6(v6) => self.records_v6.insert(name.to_string(), v6).map(drop),
        };
    }

    /// Answers every query that has arrived.
    pub fn poll(&mut self, stack: &mut Stack<'static>) {
        let socket = stack.sockets_mut().get_mut::<udp::Socket>(self.handle);
        while let Ok((query, meta)) = socket.recv() {
            let query = query.to_vec();
            let Some((name, qtype, question_end)) = question(&query) else {
                continue;
            };
            self.queries.push(name.clone());
            self.query_types.push(qtype);
            if self.silent {
                continue;
            }
            let known = self.records.contains_key(&name) || self.records_v6.contains_key(&name);
            let data: Option<Vec<u8>> = match qtype {
                TYPE_A => self.records.get(&name).map(|a| a.octets().to_vec()),
                TYPE_AAAA => self.records_v6.get(&name).map(|a| a.octets().to_vec()),
                _ => None,
            };
            let reply = answer(&query, question_end, known, qtype, data);
            let _ = socket.send_slice(&reply, meta.endpoint);
        }
    }
}

/// The queried name, its type, and where the question ends.
fn question(packet: &[u8]) -> Option<(String, u16, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *packet.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_lowercase());
        at += len;
    }
    // QTYPE and QCLASS.
    packet.get(at + 3)?;
    let qtype = u16::from_be_bytes([packet[at], packet[at + 1]]);
    Some((labels.join("."), qtype, at + 4))
}

/// The reply: one record of `qtype` with `data` if there is one; else no answer, NOERROR
/// for a `known` name and NXDOMAIN for an unknown one.
fn answer(
    query: &[u8],
    question_end: usize,
    known: bool,
    qtype: u16,
    data: Option<Vec<u8>>,
) -> Vec<u8> {
    let mut reply = query[..question_end].to_vec();
    // QR=1, opcode 0, RD copied, RA=1; RCODE 3 (NXDOMAIN) when unknown.
    reply[2] = 0x80 | (query[2] & 0x01);
    reply[3] = if known { 0x80 } else { 0x83 };
    reply[6..8].copy_from_slice(&u16::from(data.is_some()).to_be_bytes());
    reply[8..12].fill(0);
    if let Some(data) = data {
        reply.extend_from_slice(&[0xc0, 0x0c]);
        reply.extend_from_slice(&qtype.to_be_bytes());
        reply.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        reply.extend_from_slice(&(data.len() as u16).to_be_bytes());
        reply.extend_from_slice(&data);
    }
    reply
}
