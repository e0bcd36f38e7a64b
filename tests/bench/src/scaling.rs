//! Figure 6: what one poll of the device costs, and how much memory it holds, with 1…256
//! greeting sockets on the in-memory link. The socket count is a const generic, so each
//! count is its own compiled instance, exactly as a board build would have it.
//!
//! Three loads per count: all sockets listening (no clients), all sockets connected to an
//! idle client, and a full seed session (Welcome, three names, exit) on every socket at once
//! (device CPU per session). Only the device's `App::poll` is timed; the peer is not.

use std::mem::size_of;
use std::time::{Duration as StdDuration, Instant as StdInstant};

use managed::ManagedSlice;
use serde::Serialize;
use smoltcp::iface::SocketStorage;
use smoltcp::time::{Duration, Instant};
use tcplink::greeting::GreetingEvent;
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::stack::{Stack, StackConfig, TcpBuffers};
use tcplink::App;
use tcplink_testkit::{leak, new_link, socket_storage, Client, Peer, SimLink, SimPort, Step};
use tcplink_testkit::{DEVICE_IP, DEVICE_MAC, GREETING_RX, GREETING_TX};

use crate::report::{Section, Table};
use crate::stats::Summary;

/// The device's per-socket buffers (as `tcplink-tap serve` and the test kit size them).
type Buffers = TcpBuffers<GREETING_RX, GREETING_TX>;
/// The greeting read size (the seed's `recv(1024)`).
const MSG: usize = 1024;

/// One socket count's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub sockets: usize,
    /// ns per `App::poll` with every socket listening.
    pub listening_ns: Summary,
    /// ns per `App::poll` with every socket connected to an idle client.
    pub connected_ns: Summary,
    /// Device CPU µs per seed session, all sockets busy at once.
    pub session_us: Summary,
    /// Static bytes: socket slots + socket buffers + the `App` (stack, server, sessions).
    pub memory_bytes: usize,
}

/// Bytes the device holds for `N` sockets, from the types alone.
pub fn memory<const N: usize>() -> usize {
    size_of::<[SocketStorage<'static>; N]>()
        + size_of::<[Buffers; N]>()
        + size_of::<App<'static, GreetingServer<N, MSG>>>()
}

struct Rig<const N: usize> {
    app: App<'static, GreetingServer<N, MSG>>,
    port: SimPort,
    peer: Peer,
    link: &'static SimLink,
    now: Instant,
}

impl<const N: usize> Rig<N> {
    fn new() -> Self {
        Self::with_reserve(0, N)
    }

    /// A device whose server keeps `reserve` of its `N` sockets for closings (as
    /// `tcplink-serve --sockets N/2` does), and a peer with room for `peer_sockets` clients.
    fn with_reserve(reserve: usize, peer_sockets: usize) -> Self {
        let link = new_link();
        let now = Instant::ZERO;
        let mut port = link.port(0);
        let config = StackConfig::new(DEVICE_MAC, DEVICE_IP.octets(), 24).with_seed(7);
        let mut stack = Stack::new(&config, &mut port, ManagedSlice::Owned(Vec::new()), now)
            .with_parking(socket_storage(N));
        let buffers: &'static mut [Buffers; N] = leak(std::array::from_fn(|_| Buffers::new()));
        let server = GreetingServer::<N, MSG>::new(
            GreetingConfig::default()
                .with_idle_timeout(Duration::from_secs(3600))
                .with_reserve(reserve),
            &mut stack,
            buffers,
        );
        Self {
            app: App::new(stack, server),
            port,
            peer: Peer::new(link, peer_sockets, now),
            link,
            now,
        }
    }

    /// Runs device and peer (simulated time) until every client is finished or `until`
    /// holds; returns the device's poll time. Bounded in steps.
    fn run(&mut self, mut until: impl FnMut(&Self) -> bool) -> Result<StdDuration, String> {
        let mut device_time = StdDuration::ZERO;
        let mut events = 0u64;
        for _ in 0..5_000_000 {
            let t0 = StdInstant::now();
            let next_d = self
                .app
                .poll(self.now, &mut self.port, &mut |_: GreetingEvent| {
                    events += 1
                });
            device_time += t0.elapsed();
            let next_p = self.peer.poll(self.now);
            if until(self) {
                return Ok(device_time);
            }
            if self.link.in_flight() == 0 {
                let next = [next_d, next_p].into_iter().flatten().min();
                let next = next.unwrap_or(self.now + Duration::from_millis(10));
                self.now = next.max(self.now + Duration::from_millis(1));
            }
        }
        Err(format!("{N} sockets: run did not finish"))
    }

    /// ns per `App::poll` at a fixed instant with nothing arriving, over `batches` batches
    /// of about `batch` of wall time each.
    fn poll_cost(&mut self, batches: usize, batch: StdDuration) -> Vec<f64> {
        let mut sink = |_: GreetingEvent| {};
        // Calibrate the batch length.
        let t0 = StdInstant::now();
        for _ in 0..100 {
            self.app.poll(self.now, &mut self.port, &mut sink);
        }
        let per = t0.elapsed().as_secs_f64() / 100.0;
        let polls = ((batch.as_secs_f64() / per) as usize).clamp(100, 1_000_000);
        (0..batches)
            .map(|_| {
                let t0 = StdInstant::now();
                for _ in 0..polls {
                    std::hint::black_box(self.app.poll(self.now, &mut self.port, &mut sink));
                }
                t0.elapsed().as_nanos() as f64 / polls as f64
            })
            .collect()
    }
}

/// A steady greeting load on the in-memory link, the equivalent of `tcplink-tap serve
/// --sockets 64` under `tcplink-host load --clients C`: 64 sockets and 64 in reserve, `clients`
/// seed sessions in flight, a new one started as each ends, `sessions` in all. Returns the
/// device's `App::poll` time per session (µs) and the frames per session on the wire. Run it
/// under `valgrind --tool=callgrind --toggle-collect='*App*poll*'` for instruction counts.
pub fn steady(clients: usize, sessions: usize) -> Result<(f64, f64), String> {
    const SOCKETS: usize = 128;
    let mut rig = Rig::<SOCKETS>::with_reserve(SOCKETS / 2, sessions);
    let server = smoltcp::wire::IpEndpoint::new(DEVICE_IP.into(), 9999);
    let mut started = 0;
    let mut device_time = StdDuration::ZERO;
    for _ in 0..(sessions * 1000) {
        let done = rig.peer.clients().filter(|c| c.finished()).count();
        if done == sessions {
            break;
        }
        while started < sessions && started - done < clients {
            rig.peer
                .connect(server, Client::seed(&["Alice", "Bob", "Jack"]), rig.now);
            started += 1;
        }
        let t0 = StdInstant::now();
        let next_d = rig
            .app
            .poll(rig.now, &mut rig.port, &mut |_: GreetingEvent| {});
        device_time += t0.elapsed();
        let next_p = rig.peer.poll(rig.now);
        if rig.link.in_flight() == 0 {
            let next = [next_d, next_p].into_iter().flatten().min();
            let next = next.unwrap_or(rig.now + Duration::from_millis(10));
            rig.now = next.max(rig.now + Duration::from_millis(1));
        }
    }
    let ok = rig
        .peer
        .clients()
        .filter(|c| c.outcome() == Some(tcplink_testkit::Outcome::Completed))
        .count();
    if ok != sessions {
        return Err(format!("only {ok} of {sessions} sessions completed"));
    }
    let (a, b) = (rig.link.stats(0), rig.link.stats(1));
    let frames = (a.sent + b.sent) as f64 / sessions as f64;
    Ok((device_time.as_secs_f64() * 1e6 / sessions as f64, frames))
}

/// Measures one socket count.
fn point<const N: usize>(
    batches: usize,
    batch: StdDuration,
    rounds: usize,
) -> Result<Point, String> {
    // Listening, then every socket connected to a client that waits after its Welcome.
    let mut rig = Rig::<N>::new();
    let listening = rig.poll_cost(batches, batch);
    for _ in 0..N {
        let client = Client::new(vec![Step::Recv, Step::Pause(Duration::from_secs(1800))]);
        let server = smoltcp::wire::IpEndpoint::new(DEVICE_IP.into(), 9999);
        rig.peer.connect(server, client, rig.now);
    }
    rig.run(|r| r.app.services().active() == N && r.link.in_flight() == 0)?;
    let connected = rig.poll_cost(batches, batch);

    // Full seed sessions on every socket at once, `rounds` times on fresh rigs.
    let mut session = Vec::new();
    for _ in 0..rounds {
        let mut rig = Rig::<N>::new();
        for _ in 0..N {
            let server = smoltcp::wire::IpEndpoint::new(DEVICE_IP.into(), 9999);
            rig.peer
                .connect(server, Client::seed(&["Alice", "Bob", "Jack"]), rig.now);
        }
        let time = rig.run(|r| r.peer.clients().all(Client::finished))?;
        let ok = rig
            .peer
            .clients()
            .filter(|c| c.outcome() == Some(tcplink_testkit::Outcome::Completed))
            .count();
        if ok != N {
            return Err(format!("{N} sockets: only {ok} of {N} sessions completed"));
        }
        session.push(time.as_secs_f64() * 1e6 / N as f64);
    }
    Ok(Point {
        sockets: N,
        listening_ns: Summary::of(&listening),
        connected_ns: Summary::of(&connected),
        session_us: Summary::of(&session),
        memory_bytes: memory::<N>(),
    })
}

/// All points up to `max` sockets.
pub fn measure(
    max: usize,
    batches: usize,
    batch: StdDuration,
    rounds: usize,
) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    macro_rules! at {
        ($($n:literal)*) => {$(
            if $n <= max {
                let p = point::<$n>(batches, batch, rounds)?;
                eprintln!(
                    "scaling {:>3} sockets: listening {} ns/poll, connected {} ns/poll, \
                     {} µs device CPU/session, {} bytes",
                    $n, p.listening_ns.show(0), p.connected_ns.show(0),
                    p.session_us.show(2), p.memory_bytes
                );
                points.push(p);
            }
        )*};
    }
    at!(1 2 4 8 16 32 64 128 256);
    Ok(points)
}

/// Exponent `k` of cost ∝ sockets^k between the first and last point (1 = linear).
pub fn exponent(points: &[Point], cost: impl Fn(&Point) -> f64) -> Option<f64> {
    let (a, b) = (points.first()?, points.last()?);
    if a.sockets == b.sockets {
        return None;
    }
    Some((cost(b) / cost(a)).ln() / (b.sockets as f64 / a.sockets as f64).ln())
}

/// Figure 6's section.
pub fn section(points: &[Point], png: Option<&str>) -> Section {
    let mut s = Section::new(
        "scaling",
        "6. Scaling with the socket count (in-memory link)",
    );
    s.para(
        "Per-poll CPU of the device's `App::poll` (ns, nothing arriving) with every socket \
         listening and with every socket connected to an idle client; device CPU per seed \
         session (Welcome, 3 names, exit) with all sockets serving at once; static memory \
         from the types (`[SocketStorage; N]` + `[TcpBuffers<1024, 256>; N]` + \
         `App<N>`, which holds the interface and the server; reads are answered in place).",
    );
    let mut t = Table::new(&[
        "sockets",
        "poll, listening (ns)",
        "poll, connected (ns)",
        "device CPU per session (µs)",
        "memory (bytes)",
    ]);
    for p in points {
        t.row(vec![
            p.sockets.to_string(),
            p.listening_ns.show(0),
            p.connected_ns.show(0),
            p.session_us.show(2),
            p.memory_bytes.to_string(),
        ]);
    }
    s.table(&t);
    let (first, last) = (points.first(), points.last());
    if let (Some(a), Some(b)) = (first, last) {
        let per_socket =
            |f: &dyn Fn(&Point) -> f64| (f(b) - f(a)) / (b.sockets - a.sockets).max(1) as f64;
        let k = |f: &dyn Fn(&Point) -> f64| {
            exponent(points, f).map_or("n/a".into(), |k| format!("{k:.2}"))
        };
        s.para(&format!(
            "Growth exponent k (cost ∝ N^k, {}→{} sockets; 1.00 = linear): poll listening {}, \
             poll connected {}, CPU per session {} (0 = flat), memory {}. Marginal cost per \
             extra socket: {:.1} ns/poll listening, {:.1} ns/poll connected, {:.0} bytes.",
            a.sockets,
            b.sockets,
            k(&|p| p.listening_ns.median),
            k(&|p| p.connected_ns.median),
            k(&|p| p.session_us.median),
            k(&|p| p.memory_bytes as f64),
            per_socket(&|p| p.listening_ns.median),
            per_socket(&|p| p.connected_ns.median),
            per_socket(&|p| p.memory_bytes as f64),
        ));
    }
    if let Some(png) = png {
        s.para(&format!("![poll cost and memory against sockets]({png})"));
    }
    s
}
