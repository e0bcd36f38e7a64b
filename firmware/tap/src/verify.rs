//! Checksums of received frames that the kernel did not vouch for.
//!
//! With checksum offload on, the host leaves the TCP/UDP checksum of what it generates
//! unfinished and says so in the virtio-net header (`NEEDS_CSUM`), or says it already checked
//! one (`DATA_VALID`); smoltcp therefore verifies no TCP/UDP checksums on the TAP. Every other
//! frame (forwarded, injected with a packet socket, sent without offload) is checked here
//! before smoltcp sees it. Only unmarked frames pay for it, and those are small: the 64 KiB
//! segmentation-offload frames of a bulk transfer all carry `NEEDS_CSUM`. IPv6 has no header
//! checksum; its TCP and UDP checksums are checked the same way when TCP or UDP follows the
//! fixed header directly (behind extension headers smoltcp rarely takes a segment at all),
//! and smoltcp checks ICMPv6 itself.

use std::fmt;

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, Icmpv4Packet, IpAddress, IpProtocol, Ipv4Packet, Ipv6Packet,
    TcpPacket, UdpPacket,
};

/// `virtio_net_hdr.flags`: the checksum is partial, to be completed (locally generated).
pub const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.flags`: the kernel already verified the checksum.
pub const VIRTIO_NET_HDR_F_DATA_VALID: u8 = 2;

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The IPv4 header checksum (or its length fields) is wrong.
    Ipv4Header,
    /// The TCP checksum is wrong (or the segment is too short for a TCP header).
    Tcp,
    /// The UDP checksum is wrong (or the datagram is too short for a UDP header).
    Udp,
    /// The ICMP checksum is wrong.
    Icmp,
    /// A fragment of a TCP/UDP/ICMP datagram: the stack does not reassemble, and a fragment's
    /// checksum cannot be checked on its own.
    Fragment,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4Header => "bad IPv4 header checksum",
            Self::Tcp => "bad TCP checksum",
            Self::Udp => "bad UDP checksum",
            Self::Icmp => "bad ICMP checksum",
            Self::Fragment => "IPv4 fragment",
        })
    }
}

/// Checks `frame` (Ethernet, after the virtio-net header whose flags are `vnet_flags`).
/// Frames that are not IP, or whose checksums the kernel vouched for, pass untouched; what
/// is too short to parse passes too, for smoltcp to drop as malformed.
pub fn check(vnet_flags: u8, frame: &[u8]) -> Result<(), Rejected> {
    if vnet_flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID) != 0 {
        return Ok(());
    }
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Ok(());
    };
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => check_ipv4(eth.payload()),
        EthernetProtocol::Ipv6 => check_ipv6(eth.payload()),
        _ => Ok(()),
    }
}

/// TCP or UDP right after an IPv6 header: its checksum (mandatory for both over IPv6).
fn check_ipv6(packet: &[u8]) -> Result<(), Rejected> {
    let Ok(ip) = Ipv6Packet::new_checked(packet) else {
        return Ok(());
    };
    let (src, dst) = (
        IpAddress::Ipv6(ip.src_addr()),
        IpAddress::Ipv6(ip.dst_addr()),
    );
    match ip.next_header() {
        IpProtocol::Tcp => check_tcp(ip.payload(), &src, &dst),
        IpProtocol::Udp => check_udp(ip.payload(), &src, &dst),
        _ => Ok(()),
    }
}

fn check_tcp(segment: &[u8], src: &IpAddress, dst: &IpAddress) -> Result<(), Rejected> {
    TcpPacket::new_checked(segment)
        .is_ok_and(|tcp| tcp.verify_checksum(src, dst))
        .then_some(())
        .ok_or(Rejected::Tcp)
}

fn check_udp(datagram: &[u8], src: &IpAddress, dst: &IpAddress) -> Result<(), Rejected> {
    UdpPacket::new_checked(datagram)
        .is_ok_and(|udp| udp.verify_checksum(src, dst))
        .then_some(())
        .ok_or(Rejected::Udp)
}

/// The IPv4 header checksum, then that of TCP, UDP or ICMP; fragments of those are refused.
fn check_ipv4(packet: &[u8]) -> Result<(), Rejected> {
    let Ok(ip) = Ipv4Packet::new_checked(packet) else {
        return Err(Rejected::Ipv4Header);
    };
    if !ip.verify_checksum() {
        return Err(Rejected::Ipv4Header);
    }
    let protocol = ip.next_header();
    if !matches!(
        protocol,
        IpProtocol::Tcp | IpProtocol::Udp | IpProtocol::Icmp
    ) {
        return Ok(());
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(Rejected::Fragment);
    }
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let payload = ip.payload();
    match protocol {
        IpProtocol::Tcp => check_tcp(payload, &src, &dst),
        IpProtocol::Udp => check_udp(payload, &src, &dst),
        _ => Icmpv4Packet::new_checked(payload)
            .is_ok_and(|icmp| icmp.verify_checksum())
            .then_some(())
            .ok_or(Rejected::Icmp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        EthernetAddress, EthernetRepr, Ipv4Address, Ipv4Repr, Ipv6Address, Ipv6Repr, TcpControl,
        TcpRepr, TcpSeqNumber, UdpRepr,
    };

    const HOST: Ipv4Address = Ipv4Address::new(192, 168, 69, 1);
    const DEVICE: Ipv4Address = Ipv4Address::new(192, 168, 69, 2);

    /// An Ethernet frame with a TCP segment carrying `payload`, all checksums right.
    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let tcp = TcpRepr {
            src_port: 8000,
            dst_port: 49152,
            control: TcpControl::Psh,
            seq_number: TcpSeqNumber(1000),
            ack_number: Some(TcpSeqNumber(2000)),
            window_len: 1024,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let ip = Ipv4Repr {
            src_addr: HOST,
            dst_addr: DEVICE,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut frame = vec![0; 14 + ip.buffer_len() + tcp.buffer_len()];
        let eth = EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: EthernetProtocol::Ipv4,
        };
        let caps = ChecksumCapabilities::default();
        let mut eth_frame = EthernetFrame::new_unchecked(&mut frame);
        eth.emit(&mut eth_frame);
        let mut ip_packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
        ip.emit(&mut ip_packet, &caps);
        tcp.emit(
            &mut TcpPacket::new_unchecked(ip_packet.payload_mut()),
            &HOST.into(),
            &DEVICE.into(),
            &caps,
        );
        frame
    }

    fn udp_frame() -> Vec<u8> {
        let udp = UdpRepr {
            src_port: 53,
            dst_port: 49153,
        };
        let payload = b"answer";
        let ip = Ipv4Repr {
            src_addr: HOST,
            dst_addr: DEVICE,
            next_header: IpProtocol::Udp,
            payload_len: udp.header_len() + payload.len(),
            hop_limit: 64,
        };
        let mut frame = vec![0; 14 + ip.buffer_len() + ip.payload_len];
        let caps = ChecksumCapabilities::default();
        let mut eth_frame = EthernetFrame::new_unchecked(&mut frame);
        eth_frame.set_ethertype(EthernetProtocol::Ipv4);
        let mut ip_packet = Ipv4Packet::new_unchecked(eth_frame.payload_mut());
        ip.emit(&mut ip_packet, &caps);
        udp.emit(
            &mut UdpPacket::new_unchecked(ip_packet.payload_mut()),
            &HOST.into(),
            &DEVICE.into(),
            payload.len(),
            |buf| buf.copy_from_slice(payload),
            &caps,
        );
        frame
    }

    /// `tcp_frame(payload)` carried over IPv6 (fd00:69::1 to fd00:69::2), checksum right.
    fn tcp6_frame(payload: &[u8]) -> Vec<u8> {
        let host6: Ipv6Address = "fd00:69::1".parse().unwrap();
        let device6: Ipv6Address = "fd00:69::2".parse().unwrap();
        let v4 = tcp_frame(payload);
        let segment = &v4[L4..];
        let ip = Ipv6Repr {
            src_addr: host6,
            dst_addr: device6,
            next_header: IpProtocol::Tcp,
            payload_len: segment.len(),
            hop_limit: 64,
        };
        let mut frame = vec![0; 14 + ip.buffer_len() + segment.len()];
        let mut eth_frame = EthernetFrame::new_unchecked(&mut frame);
        eth_frame.set_ethertype(EthernetProtocol::Ipv6);
        let mut ip_packet = Ipv6Packet::new_unchecked(eth_frame.payload_mut());
        ip.emit(&mut ip_packet);
        let tcp_bytes = ip_packet.payload_mut();
        tcp_bytes.copy_from_slice(segment);
        let mut tcp = TcpPacket::new_unchecked(tcp_bytes);
        tcp.fill_checksum(&host6.into(), &device6.into());
        frame
    }

    #[test]
    fn ipv6_tcp_checksums_are_checked_too() {
        let good = tcp6_frame(b"Alice");
        assert_eq!(check(0, &good), Ok(()));
        // Payload, TCP header, and the source address (in the pseudo-header).
        for at in [good.len() - 1, L6 + 4, 14 + 8 + 15] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            assert_eq!(check(0, &bad), Err(Rejected::Tcp), "bit flipped at {at}");
            assert_eq!(check(VIRTIO_NET_HDR_F_NEEDS_CSUM, &bad), Ok(()));
        }
    }

    /// Offset of the first byte after the Ethernet and IPv6 headers.
    const L6: usize = 14 + 40;

    /// Offset of the first byte after the Ethernet and IPv4 headers.
    const L4: usize = 14 + 20;

    #[test]
    fn correct_frames_pass() {
        assert_eq!(check(0, &tcp_frame(b"Alice")), Ok(()));
        assert_eq!(check(0, &udp_frame()), Ok(()));
        assert_eq!(check(0, &[0u8; 60]), Ok(()), "not IPv4: smoltcp's business");
    }

    #[test]
    fn a_flipped_bit_anywhere_is_caught() {
        let good = tcp_frame(b"Alice");
        // Payload, TCP header, TCP checksum field.
        for (at, why) in [
            (good.len() - 1, Rejected::Tcp),
            (L4 + 4, Rejected::Tcp),
            (L4 + 16, Rejected::Tcp),
            // IPv4 header (TTL) and its checksum.
            (14 + 8, Rejected::Ipv4Header),
            (14 + 10, Rejected::Ipv4Header),
        ] {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            assert_eq!(check(0, &bad), Err(why), "bit flipped at {at}");
        }
        let mut bad = udp_frame();
        let last = bad.len() - 1;
        bad[last] ^= 0x20;
        assert_eq!(check(0, &bad), Err(Rejected::Udp));
    }

    #[test]
    fn only_the_kernels_word_skips_the_check() {
        let mut bad = tcp_frame(b"EVIL");
        bad[L4 + 16] ^= 0xff;
        assert_eq!(check(VIRTIO_NET_HDR_F_NEEDS_CSUM, &bad), Ok(()));
        assert_eq!(check(VIRTIO_NET_HDR_F_DATA_VALID, &bad), Ok(()));
        // Other flag bits (e.g. RSC_INFO) vouch for nothing.
        assert_eq!(check(4, &bad), Err(Rejected::Tcp));
    }

    #[test]
    fn udp_without_checksum_passes_and_fragments_do_not() {
        let mut frame = udp_frame();
        frame[L4 + 6..L4 + 8].fill(0);
        assert_eq!(check(0, &frame), Ok(()), "checksum 0: none sent (IPv4)");

        let mut frame = tcp_frame(b"part");
        let mut ip = Ipv4Packet::new_unchecked(&mut frame[14..]);
        ip.set_more_frags(true);
        ip.fill_checksum();
        assert_eq!(check(0, &frame), Err(Rejected::Fragment));
    }
}
