# Writes one forged TCP segment onto the host side of tap0 (AF_PACKET), in sequence on a live
# connection of the device, with a correct or a wrong TCP checksum. Run inside the test's
# namespace by firmware/tap/tests/checksum.rs; the sequence numbers are learnt by sniffing the
# device's own segments on the same socket.
#
#   inject_frame.py get DEVICE PORT good|bad
#       The device fetches from HOST:PORT. Waits until the body has started and the
#       connection has been quiet for a moment (the server pauses), then injects
#       "EVIL" * 4 as the next body bytes. Prints `sniffing` when ready, then `injected, `
#       and whether the device acknowledged the forged bytes.
#   inject_frame.py greet DEVICE PORT good|bad
#       A greeting client: connects, reads Welcome, injects "EVIL" as its next message, then
#       prints whether the device answered it. With a bad checksum it goes on with the seed
#       client's names and prints the transcript.
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PAYLOAD = {'get': b'EVIL' * 4, 'greet': b'EVIL'}
QUIET = 0.3
DEADLINE = 10.0


def checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def parse(frame):
    """(eth_src, eth_dst, ip_src, ip_dst, sport, dport, seq, ack, flags, payload) or None."""
    if len(frame) < 14 + 20 or struct.unpack('!H', frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0f) * 4
    total = struct.unpack('!H', ip[2:4])[0]
    if ip[9] != 6 or len(ip) < ihl + 20:
        return None
    tcp = ip[ihl:total]
    sport, dport, seq, ack = struct.unpack('!HHII', tcp[:12])
    offset = (tcp[12] >> 4) * 4
    flags = tcp[13]
    return (frame[6:12], frame[0:6], ip[12:16], ip[16:20], sport, dport, seq, ack, flags,
            tcp[offset:])


def forge(seg, payload, good):
    """The segment the device expects next on `seg`'s connection, from its peer."""
    eth_src, eth_dst, ip_src, ip_dst, sport, dport, seq, ack, flags, data = seg
    # The device's next sequence number: its last segment plus its data (and SYN/FIN).
    dev_next = (seq + len(data) + (1 if flags & 0x03 else 0)) & 0xffffffff
    tcp = struct.pack('!HHIIBBHHH', dport, sport, ack, dev_next, 5 << 4, 0x18, 1024, 0, 0)
    tcp += payload
    pseudo = ip_dst + ip_src + struct.pack('!BBH', 0, 6, len(tcp))
    csum = checksum(pseudo + tcp)
    if not good:
        csum ^= 0x5555
    tcp = tcp[:16] + struct.pack('!H', csum) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 0x4242, 0x4000, 64, 6, 0,
                     ip_dst, ip_src)
    ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
    return eth_src + eth_dst + struct.pack('!H', ETH_P_IP) + ip + tcp


class Sniffer:
    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        # Room for a burst of 64 KiB offload frames: a frame dropped here would leave the
        # forger with stale sequence numbers (SO_RCVBUFFORCE, 33: root ignores rmem_max).
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
        self.sock.bind(('tap0', 0))
        self.sock.settimeout(0.05)

    def next(self, match):
        """The next matching segment, or None after 50 ms."""
        end = time.monotonic() + 0.05
        while time.monotonic() < end:
            try:
                frame = self.sock.recv(70000)
            except socket.timeout:
                return None
            seg = parse(frame)
            if seg and match(seg):
                return seg
        return None

    def send(self, frame):
        self.sock.send(frame)


def from_device(device, port):
    """Segments the device sends on a connection with `port` on either end."""
    return lambda s: s[2] == device and port in (s[4], s[5])


def on_connection(port):
    return lambda s: port in (s[4], s[5])


def wait_quiet(sniffer, device, port, started):
    """The device's last segment once the connection was quiet for QUIET s after `started`
    (a predicate on a device segment) became true."""
    last, last_at, begun = None, time.monotonic(), False
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        seg = sniffer.next(on_connection(port))
        now = time.monotonic()
        if seg:
            last_at = now
            if seg[2] == device:
                last = seg
                begun = begun or started(seg)
        elif begun and last and now - last_at >= QUIET:
            return last
    sys.exit('the connection never went quiet')


def get(device_ip, port, good):
    sniffer = Sniffer()
    print('sniffing', flush=True)
    first_ack = {}

    def body_started(seg):
        if not seg[8] & 0x10:
            return False                 # the SYN acknowledges nothing yet
        first_ack.setdefault('ack', seg[7])
        return (seg[7] - first_ack['ack']) & 0xffffffff > 1000

    device = socket.inet_aton(device_ip)
    last = wait_quiet(sniffer, device, port, body_started)
    sniffer.send(forge(last, PAYLOAD['get'], good))
    # Taken, the forged bytes are acknowledged at once.
    forged_end = (last[7] + len(PAYLOAD['get'])) & 0xffffffff
    end = time.monotonic() + 0.5
    acked = False
    while time.monotonic() < end and not acked:
        seg = sniffer.next(from_device(device, port))
        acked = bool(seg) and (seg[7] - forged_end) & 0xffffffff < 1 << 31
    print('injected, ' + ('acknowledged' if acked else 'not acknowledged'), flush=True)


def greet(device_ip, port, good):
    sniffer = Sniffer()
    device = socket.inet_aton(device_ip)
    client = socket.create_connection((device_ip, port), timeout=5)
    print(client.recv(1024).decode(), flush=True)
    last = wait_quiet(sniffer, device, port, lambda seg: len(seg[9]) > 0)
    sniffer.send(forge(last, PAYLOAD['greet'], good))
    end = time.monotonic() + 1.0
    answered = False
    while time.monotonic() < end and not answered:
        seg = sniffer.next(from_device(device, port))
        answered = bool(seg) and b'EVIL' in seg[9]
    print('answered Hello, EVIL!' if answered else 'no answer', flush=True)
    if answered:
        client.close()
        return
    for name in [b'Alice', b'Bob', b'Jack']:
        client.send(name)
        print(client.recv(1024).decode(), flush=True)
    client.send(b'exit')
    client.close()


mode, device_ip, port, good = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == 'good'
(get if mode == 'get' else greet)(device_ip, port, good)
