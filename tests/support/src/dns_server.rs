//! A small DNS responder on the peer host (UDP port 53): A records from a table, NXDOMAIN for
//! anything else, or silence to test timeouts.

use std::collections::HashMap;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp;
use smoltcp::wire::Ipv4Address;

use tcplink::stack::Stack;

use crate::leak_vec;

/// Answers A queries from a table.
pub struct DnsServer {
    handle: SocketHandle,
    /// Name (lower case, no trailing dot) to address.
    pub records: HashMap<String, Ipv4Address>,
    /// Drop every query (to test DNS timeouts).
    pub silent: bool,
    /// Every name asked for.
    pub queries: Vec<String>,
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
            handle: stack.sockets.add(socket),
            records: HashMap::new(),
            silent: false,
            queries: Vec::new(),
        }
    }

    /// Answers every query that has arrived.
    pub fn poll(&mut self, stack: &mut Stack<'static>) {
        let socket = stack.sockets.get_mut::<udp::Socket>(self.handle);
        while let Ok((query, meta)) = socket.recv() {
            let query = query.to_vec();
            let Some((name, question_end)) = question(&query) else {
                continue;
            };
            self.queries.push(name.clone());
            if self.silent {
                continue;
            }
            let reply = answer(&query, question_end, self.records.get(&name).copied());
            let _ = socket.send_slice(&reply, meta.endpoint);
        }
    }
}

/// The queried name and where the question ends.
fn question(packet: &[u8]) -> Option<(String, usize)> {
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
    Some((labels.join("."), at + 4))
}

fn answer(query: &[u8], question_end: usize, addr: Option<Ipv4Address>) -> Vec<u8> {
    let mut reply = query[..question_end].to_vec();
    // QR=1, opcode 0, RD copied, RA=1; RCODE 3 (NXDOMAIN) when unknown.
    reply[2] = 0x80 | (query[2] & 0x01);
    reply[3] = if addr.is_some() { 0x80 } else { 0x83 };
    reply[6..8].copy_from_slice(&u16::from(addr.is_some()).to_be_bytes());
    reply[8..12].fill(0);
    if let Some(addr) = addr {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        reply.extend_from_slice(&addr.octets());
    }
    reply
}
