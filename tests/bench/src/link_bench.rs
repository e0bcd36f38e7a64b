//! Figure 1: bulk transfer device → peer through memory, tcplink's `Link` against smoltcp's own
//! `phy::Loopback`, in the same process and run.
//!
//! Every contender moves the same bytes through the same smoltcp TCP code with the same
//! socket buffers; only the device differs. Each is run under two capability profiles
//! (see [`Profile`]), because `Loopback` advertises 64 KiB frames and no checksums while a
//! NIC — and `Link` — has 1514-byte frames with checksums: comparing across profiles would
//! measure the profile, not the device.

use std::time::{Duration, Instant as StdInstant};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint};
use tcplink::link::Link;
use tcplink::stack::{Stack, StackConfig, TcpBuffers};
use tcplink_testkit::leak;

use crate::devices::{Caps, Profile};
use crate::report::{Section, Table};
use crate::stats::{ratios, show_ratio, Summary};

/// Socket buffers on both ends: a 256 KiB window (smoltcp scales the window on its own).
pub const WINDOW: usize = 256 * 1024;
/// Frames each end of a 1514-byte link queues: more than a full window of segments.
const DEPTH: usize = 256;
/// Frames each end of a 65535-byte link queues (a window is four of them).
const JUMBO_DEPTH: usize = 16;
const JUMBO_MTU: usize = 65535;
const PORT: u16 = 5001;

/// What one transfer measured.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub gbit_s: f64,
    /// Frames put on the wire (both directions) and frames dropped by full queues.
    pub frames: u64,
    pub dropped: u64,
}

/// Two endpoints of one TCP connection and whatever moves frames between them.
trait Rig {
    fn poll(&mut self, now: Instant);
    fn sender(&mut self) -> &mut tcp::Socket<'static>;
    fn receiver(&mut self) -> &mut tcp::Socket<'static>;
    /// Frames sent and dropped so far.
    fn frames(&self) -> (u64, u64);
}

/// Device and peer, each a tcplink [`Stack`] on its own end of a link.
struct TwoStacks<D: Device> {
    device: Stack<'static>,
    device_port: D,
    peer: Stack<'static>,
    peer_port: D,
    tx: SocketHandle,
    rx: SocketHandle,
    counts: Box<dyn Fn() -> (u64, u64)>,
}

fn buffers() -> &'static mut TcpBuffers<WINDOW, WINDOW> {
    leak(TcpBuffers::new())
}

impl<D: Device> TwoStacks<D> {
    fn new(mut device_port: D, mut peer_port: D, counts: Box<dyn Fn() -> (u64, u64)>) -> Self {
        let now = Instant::ZERO;
        let dcfg = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24).with_seed(2);
        let pcfg = StackConfig::new([2, 0, 0, 0, 0, 1], [10, 0, 0, 1], 24).with_seed(1);
        let mut device = Stack::new(&dcfg, &mut device_port, socket_slots(), now);
        let mut peer = Stack::new(&pcfg, &mut peer_port, socket_slots(), now);
        let rx = peer.add_tcp(buffers());
        peer.tcp(rx).listen(PORT).expect("listen");
        let tx = device.add_tcp(buffers());
        let local = device.ephemeral_port();
        let remote = IpEndpoint::new(IpAddress::v4(10, 0, 0, 1), PORT);
        device.connect(tx, remote, local).expect("connect");
        Self {
            device,
            device_port,
            peer,
            peer_port,
            tx,
            rx,
            counts,
        }
    }
}

fn socket_slots() -> &'static mut [SocketStorage<'static>] {
    tcplink_testkit::socket_storage(2)
}

impl<D: Device> Rig for TwoStacks<D> {
    fn poll(&mut self, now: Instant) {
        self.device.poll(now, &mut self.device_port);
        self.peer.poll(now, &mut self.peer_port);
    }
    fn sender(&mut self) -> &mut tcp::Socket<'static> {
        self.device.tcp(self.tx)
    }
    fn receiver(&mut self) -> &mut tcp::Socket<'static> {
        self.peer.tcp(self.rx)
    }
    fn frames(&self) -> (u64, u64) {
        (self.counts)()
    }
}

/// smoltcp's own way: one interface on `phy::Loopback`, both sockets on it (its
/// `examples/loopback.rs` and `benches/` set-up), connecting to its own address.
struct LoopbackRig {
    iface: Interface,
    device: Caps<Loopback>,
    sockets: SocketSet<'static>,
    tx: SocketHandle,
    rx: SocketHandle,
}

impl LoopbackRig {
    fn new(profile: Profile) -> Self {
        let mut device = Caps::new(Loopback::new(Medium::Ethernet), profile);
        let config = Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 1,
        ])));
        let mut iface = Interface::new(config, &mut device, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8));
        });
        let mut sockets = SocketSet::new(Vec::new());
        // The same buffer sizes as the tcplink stacks, owned the way an std user would.
        let mk = || {
            tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0u8; WINDOW]),
                tcp::SocketBuffer::new(vec![0u8; WINDOW]),
            )
        };
        let rx = sockets.add(mk());
        let tx = sockets.add(mk());
        sockets
            .get_mut::<tcp::Socket>(rx)
            .listen(PORT)
            .expect("listen");
        let remote = IpEndpoint::new(IpAddress::v4(127, 0, 0, 1), PORT);
        sockets
            .get_mut::<tcp::Socket>(tx)
            .connect(iface.context(), remote, 49152)
            .expect("connect");
        Self {
            iface,
            device,
            sockets,
            tx,
            rx,
        }
    }
}

impl Rig for LoopbackRig {
    fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.device, &mut self.sockets);
    }
    fn sender(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut(self.tx)
    }
    fn receiver(&mut self) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut(self.rx)
    }
    fn frames(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// Moves `total` bytes from sender to receiver; fails if `limit` of wall time passes.
///
/// The sender writes from a constant buffer and the receiver only counts (a zero-copy
/// `recv`), so the figure is the stack and the device, not the application.
fn transfer(rig: &mut dyn Rig, total: u64, limit: Duration) -> Result<Sample, String> {
    static CHUNK: [u8; 65536] = [0x5a; 65536];
    let start = StdInstant::now();
    let clock = |t: StdInstant| Instant::from_micros(t.duration_since(start).as_micros() as i64);
    // Handshake first: the figure is the bulk phase.
    while !(rig.sender().may_send()) {
        rig.poll(clock(StdInstant::now()));
        if start.elapsed() > Duration::from_secs(5) {
            return Err("connection not established in 5 s".into());
        }
    }
    let (frames0, dropped0) = rig.frames();
    let t0 = StdInstant::now();
    let (mut sent, mut received) = (0u64, 0u64);
    let mut spins = 0u64;
    while received < total {
        rig.poll(clock(StdInstant::now()));
        if sent < total {
            let want = (total - sent).min(CHUNK.len() as u64) as usize;
            sent += rig.sender().send_slice(&CHUNK[..want]).unwrap_or(0) as u64;
        }
        let rx = rig.receiver();
        while let Ok(n @ 1..) = rx.recv(|b| (b.len(), b.len())) {
            received += n as u64;
        }
        spins += 1;
        if spins.is_multiple_of(1024) && t0.elapsed() > limit {
            return Err(format!(
                "only {received} of {total} bytes after {} s",
                limit.as_secs()
            ));
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let (frames, dropped) = rig.frames();
    Ok(Sample {
        gbit_s: total as f64 * 8.0 / secs / 1e9,
        frames: frames - frames0,
        dropped: dropped - dropped0,
    })
}

/// The contenders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Contender {
    /// tcplink's `Link`, two tcplink stacks.
    Link,
    /// smoltcp's `phy::Loopback`, one interface.
    Loopback,
}

impl Contender {
    pub const ALL: [Contender; 2] = [Contender::Link, Contender::Loopback];

    pub fn label(self) -> &'static str {
        match self {
            Contender::Link => "tcplink `Link` (2 tcplink stacks)",
            Contender::Loopback => "smoltcp `phy::Loopback` (1 interface)",
        }
    }
}

/// One transfer of `total` bytes by `who` under `profile`.
pub fn run_one(
    who: Contender,
    profile: Profile,
    total: u64,
    limit: Duration,
) -> Result<Sample, String> {
    match (who, profile) {
        (Contender::Loopback, p) => transfer(&mut LoopbackRig::new(p), total, limit),
        (Contender::Link, Profile::Ethernet) => {
            let link: &'static Link<2, DEPTH> = leak_link();
            let counts = Box::new(move || counts_of(link.stats(0), link.stats(1)));
            let mut rig = TwoStacks::new(link.port(0), link.port(1), counts);
            transfer(&mut rig, total, limit)
        }
        (Contender::Link, Profile::Loopback) => {
            let link: &'static Link<2, JUMBO_DEPTH, JUMBO_MTU> = leak_link();
            let counts = Box::new(move || counts_of(link.stats(0), link.stats(1)));
            let (a, b) = (link.port(0), link.port(1));
            let mut rig = TwoStacks::new(Caps::new(a, profile), Caps::new(b, profile), counts);
            transfer(&mut rig, total, limit)
        }
    }
}

/// A link on the heap. `Link::new` is a `const fn` returning the whole link by value; this
/// runs on a thread with a big stack (see `main`), so the temporary fits.
fn leak_link<const P: usize, const D: usize, const M: usize>() -> &'static Link<P, D, M> {
    Box::leak(Box::new(Link::new()))
}

fn counts_of(a: tcplink::link::PortStats, b: tcplink::link::PortStats) -> (u64, u64) {
    (a.sent + b.sent, a.dropped + b.dropped)
}

/// Figure 1: `runs` rounds; in each, every contender under every profile, interleaved.
///
/// `only` limits the contenders (for profiling one of them); ratios need the Loopback.
pub fn figure(
    total: u64,
    runs: usize,
    limit: Duration,
    only: &[Contender],
    only_profiles: &[Profile],
) -> Result<Section, String> {
    let profiles: Vec<Profile> = [Profile::Ethernet, Profile::Loopback]
        .into_iter()
        .filter(|p| only_profiles.is_empty() || only_profiles.contains(p))
        .collect();
    let mut results: Vec<((Contender, Profile), Vec<Sample>)> = Vec::new();
    for &p in &profiles {
        for c in Contender::ALL {
            if only.is_empty() || only.contains(&c) {
                results.push(((c, p), Vec::new()));
            }
        }
    }
    for run in 1..=runs {
        for ((c, p), samples) in results.iter_mut() {
            let s = run_one(*c, *p, total, limit).map_err(|e| format!("{}: {e}", c.label()))?;
            eprintln!(
                "link run {run}/{runs}: {:<55} {:<42} {:7.3} Gbit/s  frames {} dropped {}",
                c.label(),
                p.label(),
                s.gbit_s,
                s.frames,
                s.dropped
            );
            samples.push(s);
        }
    }
    let gbit = |c: Contender, p: Profile| -> Vec<f64> {
        results
            .iter()
            .find(|(k, _)| *k == (c, p))
            .map(|(_, v)| v.iter().map(|s| s.gbit_s).collect())
            .unwrap_or_default()
    };
    let mut section = Section::new("link", "1. In-memory bulk transfer, device → peer (Gbit/s)");
    section.para(&format!(
        "{} per transfer, {runs} runs, TCP buffers {} KiB on both ends (window scaling on), \
         contenders interleaved within each run. Ratio = tcplink ÷ smoltcp `Loopback` in the \
         same run and profile. The Loopback row under Loopback caps is smoltcp's stock device.",
        human_bytes(total),
        WINDOW / 1024
    ));
    let mut table = Table::new(&["profile", "contender", "Gbit/s", "÷ smoltcp Loopback"]);
    for &p in &profiles {
        let base = gbit(Contender::Loopback, p);
        for c in Contender::ALL {
            let v = gbit(c, p);
            let ratio = if c == Contender::Loopback {
                "1.00×".to_string()
            } else {
                show_ratio(&ratios(&v, &base))
            };
            table.row(vec![
                p.label().into(),
                c.label().into(),
                Summary::of(&v).show(3),
                ratio,
            ]);
        }
    }
    section.table(&table);
    Ok(section)
}

pub fn human_bytes(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else if n >= 1_000_000_000 && n.is_multiple_of(1_000_000_000) {
        format!("{} GB", n / 1_000_000_000)
    } else if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{} MB", n / 1_000_000)
    } else {
        format!("{n} B")
    }
}
