//! A bad network: loss, corruption, reordering and duplication on the in-memory link, seeded
//! so every run replays exactly. Nothing may be reported as success unless it is exact.
//! Every campaign runs over IPv4 and over IPv6.

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpAddress;
use tcplink::greeting::{GreetingConfig, GreetingEvent};
use tcplink::http::{HttpConfig, HttpError};
use tcplink_testkit::{
    pseudo_random, sha256, Client, DeviceSetup, Faults, Outcome, Recorded, Response, Sim,
    DEVICE_IP6, PEER_IP, PEER_IP6,
};

/// The address family a campaign runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

const FAMILIES: [Family; 2] = [Family::V4, Family::V6];

impl Family {
    /// The peer's address of this family: the DNS server and the HTTP server.
    fn peer(self) -> IpAddress {
        match self {
            Family::V4 => PEER_IP.into(),
            Family::V6 => PEER_IP6.into(),
        }
    }
}

/// Seeded runs per scenario (the issue asks for 100; `TCPLINK_FAULT_RUNS` changes it).
fn runs() -> u32 {
    std::env::var("TCPLINK_FAULT_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

fn bad_network(seed: u32) -> Faults {
    Faults {
        drop_pct: 10,
        corrupt_pct: 1,
        reorder_pct: 5,
        duplicate_pct: 1,
        seed,
    }
}

/// On a link that loses one frame in ten, the sender's retransmission timer backs off past
/// 30 s now and then; a device made for such a link waits longer before calling it dead.
const LOSSY_LINK: HttpConfig = HttpConfig::DEFAULT
    .with_dns_timeout(Duration::from_secs(15))
    .with_connect_timeout(Duration::from_secs(30))
    .with_idle_timeout(Duration::from_secs(120));

/// A device fetching `files.test`, which has one address, of `family` (so a GET over IPv6
/// never falls back to IPv4); DNS is asked over the same family.
fn http_sim(faults: Faults, response: Response, family: Family) -> Sim<16> {
    let setup = DeviceSetup {
        greeting: Some(GreetingConfig::default()),
        http: Some(LOSSY_LINK),
        dns: vec![family.peer()],
        faults,
        ipv6: family == Family::V6,
        slaac: false,
        tls: None,
    };
    let mut sim = Sim::<16>::new(&setup, 24);
    sim.peer.serve_http(80, 1);
    sim.peer.serve_dns(&[("files.test", family.peer())]);
    sim.peer.http[0].route("/f", response);
    sim
}

/// The server endpoints the device connected to.
fn connected(sim: &Sim<16>) -> Vec<IpAddress> {
    sim.event_list()
        .into_iter()
        .filter_map(|e| match e {
            Recorded::Connected(remote) => Some(remote.addr),
            _ => None,
        })
        .collect()
}

fn frames(sim: &Sim<16>) -> u64 {
    sim.link.stats(0).sent + sim.link.stats(1).sent
}

#[test]
fn one_mib_gets_are_exact_or_a_typed_error() {
    let body = pseudo_random(1 << 20, 11);
    let want = sha256(&body);
    for (family, form, response) in FAMILIES.into_iter().flat_map(|family| {
        [
            (family, "fixed", Response::fixed(&body)),
            (family, "chunked", Response::chunked(&body, 4000)),
        ]
    }) {
        let form = format!("{family:?} {form}");
        // Frames a clean run needs: more means something was retransmitted.
        let mut clean = http_sim(Faults::default(), response.clone(), family);
        clean.get("http://files.test/f").unwrap();
        assert_eq!(
            clean.run_get(Duration::from_secs(60)),
            Some(Ok((200, 1 << 20)))
        );
        assert_eq!(connected(&clean), [family.peer()], "{form}");
        let clean_frames = frames(&clean);

        let (mut ok, mut failed, mut retransmitted) = (0, Vec::new(), 0);
        let mut worst = Duration::ZERO;
        let (mut reordered, mut duplicated) = (0, 0);
        for seed in 1..=runs() {
            let mut sim = http_sim(bad_network(seed), response.clone(), family);
            sim.get("http://files.test/f").unwrap();
            let outcome = sim.run_get(Duration::from_secs(3600));
            match outcome {
                Some(Ok((200, len))) => {
                    assert_eq!(connected(&sim).last(), Some(&family.peer()), "{form}");
                    assert_eq!(len, 1 << 20, "{form} seed {seed}: length");
                    assert_eq!(
                        sim.events.body_sha256(),
                        want,
                        "{form} seed {seed}: wrong data reported as success"
                    );
                    ok += 1;
                }
                Some(Err(error)) => failed.push((seed, error)),
                other => panic!("{form} seed {seed}: {other:?}"),
            }
            worst = worst.max(sim.now - Instant::ZERO);
            retransmitted +=
                u32::from(outcome.is_some_and(|o| o.is_ok()) && frames(&sim) > clean_frames);
            let stats = sim.device.fault_stats.get();
            reordered += stats.reordered;
            duplicated += stats.duplicated;
        }
        println!(
            "{form}: {} runs, {ok} exact, {} typed failures {failed:?}, {retransmitted} of the exact runs needed retransmission, \
             {reordered} frames reordered, {duplicated} duplicated, worst completion {worst} simulated",
            runs(),
            failed.len()
        );
        // A bad network may fail a run, but only with a timeout-class error, and rarely.
        for (seed, error) in &failed {
            assert!(
                matches!(
                    error,
                    HttpError::IdleTimeout
                        | HttpError::ConnectTimeout
                        | HttpError::NoNeighborReply(_)
                        | HttpError::DnsTimeout { .. }
                ),
                "{form} seed {seed}: {error:?}"
            );
        }
        assert!(
            ok * 10 >= runs() * 9,
            "{form}: only {ok} of {} runs completed",
            runs()
        );
        assert_eq!(retransmitted, ok, "the faults hit every run");
    }
}

#[test]
fn sixteen_greeting_sessions_are_exact_or_typed() {
    for family in FAMILIES {
        sixteen_greeting_sessions_over(family);
    }
}

fn sixteen_greeting_sessions_over(family: Family) {
    let seed_transcript = ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"];
    let (mut exact, mut typed) = (0u32, 0u32);
    let mut worst = Duration::ZERO;
    for seed in 1..=runs() {
        let setup = DeviceSetup {
            greeting: Some(GreetingConfig::default()),
            faults: bad_network(seed),
            ipv6: family == Family::V6,
            ..DeviceSetup::default()
        };
        let mut sim = Sim::<16>::new(&setup, 16);
        if family == Family::V6 {
            sim.device_addr = DEVICE_IP6.into();
        }
        for _ in 0..16 {
            sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
        }
        sim.run_clients(Duration::from_secs(3600));
        let peer = family.peer();
        assert!(
            sim.event_list().iter().all(|e| match e {
                Recorded::Greeting(GreetingEvent::Accepted { peer: p }) => p.addr == peer,
                _ => true,
            }),
            "seed {seed}: every client came over {family:?}"
        );
        for client in sim.peer.clients() {
            match client.outcome() {
                Some(Outcome::Completed) => {
                    assert_eq!(client.transcript_strings(), seed_transcript, "seed {seed}");
                    exact += 1;
                }
                // A reset or early close is visible to the client: never silent corruption.
                Some(Outcome::Reset | Outcome::ClosedEarly | Outcome::Refused) => typed += 1,
                None => unreachable!("run_clients waits for every client"),
            }
        }
        worst = worst.max(sim.now - Instant::ZERO);
    }
    println!(
        "greeting over {family:?}: {} runs x 16 sessions: {exact} exact, {typed} ended with a visible error, worst {worst} simulated",
        runs()
    );
    assert!(exact * 10 >= runs() * 16 * 9, "only {exact} exact sessions");
}

#[test]
fn a_link_that_dies_mid_transfer_ends_in_idle_timeout() {
    let body = pseudo_random(1 << 20, 5);
    let mut sim = http_sim(Faults::default(), Response::fixed(&body), Family::V4);
    sim.get("http://files.test/f").unwrap();
    sim.run_until(Duration::from_secs(10), |sim| {
        sim.events.body_len >= 300_000
    });
    assert!(sim.events.http_outcome().is_none());
    // The cable is cut: every frame in both directions is lost from now on.
    sim.device.port.set_drop_chance(100);
    let cut_at = sim.now;
    let outcome = sim.run_get(Duration::from_secs(600));
    assert_eq!(outcome, Some(Err(HttpError::IdleTimeout)));
    assert_eq!(sim.now - cut_at, LOSSY_LINK.idle_timeout);
    assert!(sim.events.body_len < body.len() as u64);
    assert!(!sim
        .event_list()
        .iter()
        .any(|e| matches!(e, tcplink_testkit::Recorded::Done { .. })));
}

/// Serves 100 seed sessions, 8 at a time, on a link that loses 5 % of frames; returns
/// (clients refused while fewer than 8 sessions were open, clients refused, sessions
/// completed exactly).
fn hundred_sessions_eight_at_a_time<const SOCKETS: usize>(
    config: GreetingConfig,
    seed: u32,
    family: Family,
) -> (u32, u32, u32) {
    const SESSIONS: usize = 100;
    const AT_ONCE: usize = 8;
    let setup = DeviceSetup {
        greeting: Some(config),
        faults: Faults {
            drop_pct: 5,
            seed,
            ..Faults::default()
        },
        ipv6: family == Family::V6,
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<SOCKETS>::new(&setup, SESSIONS);
    if family == Family::V6 {
        sim.device_addr = DEVICE_IP6.into();
    }
    let names = ["Alice", "Bob", "Jack"];
    for _ in 0..AT_ONCE {
        sim.start(Client::seed(&names));
    }
    let mut started = AT_ONCE;
    let mut seen = [false; SESSIONS];
    let (mut refused_below, mut refused, mut exact) = (0, 0, 0);
    while seen.iter().take(started).any(|s| !s) {
        let finished = sim.run_until(Duration::from_secs(3600), |sim| {
            sim.peer
                .clients()
                .zip(&seen)
                .any(|(c, seen)| c.finished() && !seen)
        });
        assert!(
            finished,
            "seed {seed}: clients stuck: {:#?}",
            sim.peer
                .clients()
                .zip(&seen)
                .filter(|(_, s)| !**s)
                .map(|(c, _)| c)
                .collect::<Vec<_>>()
        );
        let open = sim.greeting_server().active();
        let newly: Vec<usize> = (0..started)
            .filter(|&i| !seen[i] && sim.peer.client(i).finished())
            .collect();
        for i in newly {
            seen[i] = true;
            match sim.peer.client(i).outcome() {
                Some(Outcome::Refused) => {
                    refused += 1;
                    if open < AT_ONCE {
                        refused_below += 1;
                    }
                }
                Some(Outcome::Completed) => {
                    let transcript = sim.peer.client(i).transcript_strings();
                    assert_eq!(
                        transcript,
                        ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"],
                        "seed {seed}"
                    );
                    exact += 1;
                }
                _ => {}
            }
            if started < SESSIONS {
                sim.start(Client::seed(&names));
                started += 1;
            }
        }
    }
    (refused_below, refused, exact)
}

/// Issue 12 item 10: sockets still closing (FIN-WAIT, LAST-ACK under retransmission) must not
/// cost service. 8 clients at a time against a server for 8 at once (plus its reserve for
/// closings, as `tcplink-tap serve --sockets 8` has): none is ever refused.
#[test]
fn closings_under_loss_never_refuse_a_client_while_fewer_than_eight_are_open() {
    let seeds = runs().min(10);
    let (mut refused_below, mut refused, mut exact) = (0, 0, 0);
    for family in FAMILIES {
        for seed in 1..=seeds {
            let config = GreetingConfig::default().with_reserve(8);
            let (below, all, ok) = hundred_sessions_eight_at_a_time::<16>(config, seed, family);
            refused_below += below;
            refused += all;
            exact += ok;
        }
    }
    println!(
        "{seeds} seeds x 100 sessions x IPv4 and IPv6, 8 at a time, 5 % loss, 8 + 8 reserve: \
         {refused} refused, {exact} exact"
    );
    assert_eq!(
        refused_below, 0,
        "clients refused while fewer than 8 were open"
    );
    assert_eq!(refused, 0, "8 clients at a time never find the pool full");
    assert_eq!(
        exact,
        seeds * 100 * FAMILIES.len() as u32,
        "every session exact: no closing was cut short"
    );
}
