//! The greeting server over the in-memory link, against a smoltcp peer, on simulated time.

use smoltcp::time::Duration;
use smoltcp::wire::{IpAddress, IpEndpoint};
use tcplink::greeting::{CloseReason, GreetingConfig, GreetingEvent};
use tcplink::listeners::BACKLOG;
use tcplink_testkit::{Client, Outcome, Recorded, Sim, Step, PEER_IP};

const SEED: [&str; 4] = ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn peer(client: &Client) -> IpEndpoint {
    IpEndpoint::new(IpAddress::Ipv4(PEER_IP), client.local_port)
}

#[test]
fn seed_transcript_byte_for_byte() {
    let mut sim = Sim::<4>::greeting(GreetingConfig::default(), 1);
    let c = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));

    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    assert_eq!(client.transcript_strings(), SEED);
    assert_eq!(
        client.received,
        SEED.concat().as_bytes(),
        "nothing after the last reply"
    );
    assert!(client.server_closed, "the server closed after exit");

    let peer = peer(client);
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
    let lines: Vec<String> = sim
        .event_list()
        .iter()
        .map(|e| match e {
            Recorded::Greeting(g) => g.to_string(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            format!(
                "Accept new connection from 10.0.0.1:{}...",
                client.local_port
            ),
            format!("Connection from 10.0.0.1:{} close.", client.local_port),
        ]
    );
}

#[test]
fn full_pool_refuses_at_once_and_frees_for_later_clients() {
    const N: usize = 4;
    let mut sim = Sim::<N>::greeting(GreetingConfig::default(), N + 2);
    // N clients hold their sockets (they pause before exit); one more arrives meanwhile.
    let holding: Vec<usize> = (0..N)
        .map(|i| {
            let name = format!("client{i}");
            sim.start(Client::new(vec![
                Step::Recv,
                Step::Send(name.into_bytes()),
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
    assert!(
        when - refused_at < Duration::from_millis(10),
        "refused after {}",
        when - refused_at
    );

    sim.run_clients(secs(10));
    for &i in &holding {
        let client = sim.peer.client(i);
        assert_eq!(client.outcome(), Some(Outcome::Completed), "{client:?}");
        assert_eq!(
            client.transcript_strings(),
            ["Welcome".to_string(), format!("Hello, client{i}!")]
        );
    }

    // A socket is free again: a later client is served.
    let later = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));
    assert_eq!(sim.peer.client(later).transcript_strings(), SEED);
    let accepted = sim
        .event_list()
        .iter()
        .filter(|e| matches!(e, Recorded::Greeting(GreetingEvent::Accepted { .. })))
        .count();
    assert_eq!(accepted, N + 1, "the refused client was never accepted");
}

#[test]
fn reply_delay_runs_per_socket_not_in_a_queue() {
    let config = GreetingConfig::default().with_reply_delay(secs(1));
    let mut sim = Sim::<5>::greeting(config, 5);
    let start = sim.now;
    for _ in 0..5 {
        sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    }
    sim.run_clients(secs(30));
    for client in sim.peer.clients() {
        assert_eq!(client.transcript_strings(), SEED);
    }
    // Three delayed replies plus the delayed `exit`: ~4 s whatever the number of clients.
    let last = sim
        .peer
        .clients()
        .map(|c| c.finished.unwrap().0)
        .max()
        .unwrap();
    let took = last - start;
    assert!(
        took >= secs(3) && took < Duration::from_millis(4500),
        "5 clients x 3 messages with a 1 s delay took {took}"
    );
}

#[test]
fn lines_in_one_read_are_separate_messages() {
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 1);
    let expected = b"Hello, Alice!Hello, Bob!";
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(b"Alice\nBob\n".to_vec()),
        Step::RecvExact(expected.len()),
        Step::Send(b"exit\r\n".to_vec()),
        Step::Close,
    ]));
    sim.run_clients(secs(5));
    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    assert_eq!(client.received, b"WelcomeHello, Alice!Hello, Bob!");
}

#[test]
fn long_message_is_split_and_nothing_is_lost() {
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 1);
    let message: Vec<u8> = (0..3000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(message.clone()),
        Step::Pause(secs(1)),
        Step::Send(b"exit".to_vec()),
        Step::Close,
    ]));
    sim.run_clients(secs(5));
    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    let body = client.received.strip_prefix(b"Welcome").unwrap();
    // Replies are `Hello, <part>!` for consecutive parts that together are the message.
    let mut parts = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let after = rest.strip_prefix(b"Hello, ").expect("reply prefix");
        let end = after.iter().position(|&b| b == b'!').expect("reply suffix");
        parts.push(&after[..end]);
        rest = &after[end + 1..];
    }
    assert!(parts.len() >= 3, "3,000 bytes in reads of at most 1,024");
    assert!(parts.iter().all(|p| p.len() <= 1024));
    assert_eq!(parts.concat(), message);
}

/// `len` bytes without line endings, so they are one message.
fn letters(len: usize, first: u8) -> Vec<u8> {
    (0..len).map(|i| first + (i % 26) as u8).collect()
}

/// `Hello, <message>!`.
fn reply(message: &[u8]) -> Vec<u8> {
    [b"Hello, ", message, b"!"].concat()
}

#[test]
fn seed_1024_byte_message_is_one_reply_streamed_through_a_small_send_buffer() {
    // The device's send buffer (tests/support, like the board's) is far smaller than the reply.
    const { assert!(tcplink_testkit::GREETING_TX < 1024 + 8) };
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 1);
    let message = letters(1024, b'a');
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(message.clone()),
        Step::RecvExact(1024 + 8),
        Step::Send(b"exit".to_vec()),
        Step::Close,
    ]));
    sim.run_clients(secs(5));
    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Completed));
    assert_eq!(client.transcript[1], reply(&message));
    assert_eq!(
        client.received,
        [b"Welcome".to_vec(), reply(&message)].concat()
    );
}

#[test]
fn slow_reader_with_a_tiny_window_gets_exact_replies() {
    let mut sim = Sim::<2>::greeting(GreetingConfig::default(), 2);
    let long = letters(1024, b'A');
    let lines = b"Alice\r\nBob\n\nJack".to_vec();
    let expected = [
        b"Welcome".to_vec(),
        reply(&long),
        reply(b"Alice"),
        reply(b"Bob"),
        reply(b"Jack"),
    ]
    .concat();
    let slow = sim.start(
        Client::new(vec![
            Step::Recv,
            Step::Send(long.clone()),
            Step::RecvExact(1024 + 8),
            Step::Send(lines.clone()),
            Step::RecvExact(expected.len() - 7 - 1032),
            Step::Send(b"exit".to_vec()),
            Step::Close,
        ])
        .reading_slowly(10, Duration::from_millis(20)),
    );
    // A fast client on the other socket is served meanwhile.
    let fast = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(30));
    let slow = sim.peer.client(slow);
    assert_eq!(slow.outcome(), Some(Outcome::Completed), "{slow:?}");
    assert_eq!(slow.received, expected);
    let fast = sim.peer.client(fast);
    assert_eq!(fast.outcome(), Some(Outcome::Completed));
    assert_eq!(fast.transcript_strings(), SEED);
    assert!(
        fast.finished.unwrap().0 < slow.finished.unwrap().0,
        "the fast client did not wait for the slow one"
    );
}

#[test]
fn bytes_arriving_while_a_reply_streams_belong_to_the_next_read() {
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 1);
    let first = letters(1000, b'a');
    let second = letters(100, b'A');
    let c = sim.start(
        Client::new(vec![
            Step::Recv,
            Step::Send(first.clone()),
            // The first reply takes ~4 s to read at 10 B / 40 ms: this arrives mid-stream.
            Step::Pause(Duration::from_millis(500)),
            Step::Send(second.clone()),
            Step::RecvExact(1000 + 8 + 100 + 8),
            Step::Send(b"exit".to_vec()),
            Step::Close,
        ])
        .reading_slowly(10, Duration::from_millis(40)),
    );
    sim.run_clients(secs(30));
    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Completed), "{client:?}");
    assert_eq!(
        client.received,
        [b"Welcome".to_vec(), reply(&first), reply(&second)].concat()
    );
}

#[test]
fn any_bytes_come_back_unchanged() {
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 1);
    let garbage = vec![0xff, 0x00, 0xc3, 0x28, 0x80, b'!', 0x7f];
    let mut expected = b"Hello, ".to_vec();
    expected.extend_from_slice(&garbage);
    expected.push(b'!');
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(garbage),
        Step::RecvExact(expected.len()),
        Step::Send(b"exit".to_vec()),
        Step::Close,
    ]));
    sim.run_clients(secs(5));
    let client = sim.peer.client(c);
    assert_eq!(client.transcript[1], expected);
}

#[test]
fn idle_client_is_closed_after_the_timeout() {
    let config = GreetingConfig::default().with_idle_timeout(secs(30));
    let mut sim = Sim::<1>::greeting(config, 2);
    let start = sim.now;
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Pause(secs(3600)),
        Step::Send(b"Alice".to_vec()),
    ]));
    sim.run_until(secs(60), |sim| sim.peer.client(c).finished());
    let client = sim.peer.client(c);
    assert_eq!(client.outcome(), Some(Outcome::Reset), "{client:?}");
    let took = client.finished.unwrap().0 - start;
    assert!(took >= secs(30) && took < secs(31), "closed after {took}");
    assert!(matches!(
        sim.event_list().last(),
        Some(Recorded::Greeting(GreetingEvent::Closed {
            reason: CloseReason::IdleTimeout,
            ..
        }))
    ));

    // The socket serves again.
    let next = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_clients(secs(5));
    assert_eq!(sim.peer.client(next).transcript_strings(), SEED);
}

#[test]
fn client_closing_first_frees_the_socket() {
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 2);
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(b"Alice".to_vec()),
        Step::Close,
    ]));
    sim.run_clients(secs(5));
    assert_eq!(sim.peer.client(c).received, b"WelcomeHello, Alice!");
    assert!(matches!(
        sim.event_list().last(),
        Some(Recorded::Greeting(GreetingEvent::Closed {
            reason: CloseReason::PeerClosed,
            ..
        }))
    ));
    // The next client connects at once: its SYN goes out before the device runs again, right
    // behind the last ACK of the close. The device frees the socket on that ACK and listens
    // before it processes the SYN, so the client is served, not refused.
    let next = sim.start(Client::seed(&["Bob"]));
    sim.peer.poll(sim.now);
    assert_eq!(
        sim.link.in_flight(),
        2,
        "the last ACK and the new SYN wait together"
    );
    sim.run_clients(secs(5));
    assert_eq!(
        sim.peer.client(next).transcript_strings(),
        ["Welcome", "Hello, Bob!"],
        "{:?} {:?}",
        sim.peer.client(next),
        sim.event_list()
    );
}

#[test]
fn server_closing_first_acknowledges_the_clients_fin() {
    // As `tcplink-host load` does: `exit`, wait for the server's close, then close. The
    // device's socket ends in TIME-WAIT and must still acknowledge the client's FIN, even when
    // the next client's SYN arrives in the same burst and gets that very socket.
    let mut sim = Sim::<1>::greeting(GreetingConfig::default(), 2);
    let c = sim.start(Client::new(vec![
        Step::Recv,
        Step::Send(b"Alice".to_vec()),
        Step::Recv,
        Step::Send(b"exit".to_vec()),
        Step::AwaitClose,
        Step::Close,
    ]));
    assert!(sim.run_until(secs(5), |sim| sim.peer.client(c).server_closed));
    // The client's FIN is on its way; the next client's SYN goes right behind it.
    let fin_sent_at = sim.now;
    let next = sim.start(Client::seed(&["Bob"]));
    sim.peer.poll(sim.now);
    assert_eq!(
        sim.link.in_flight(),
        3,
        "the client's ACK and FIN and the new SYN wait together"
    );
    sim.run_clients(secs(5));

    let first = sim.peer.client(c);
    assert_eq!(first.transcript_strings(), ["Welcome", "Hello, Alice!"]);
    // Acknowledged at once: without the ACK the client would retransmit its FIN after its
    // retransmission timeout and end on the device's RST, later.
    assert_eq!(
        first.finished,
        Some((fin_sent_at, Outcome::Completed)),
        "the client's FIN was not acknowledged at once"
    );
    assert_eq!(
        sim.peer.client(next).transcript_strings(),
        ["Welcome", "Hello, Bob!"]
    );
    assert_eq!(sim.link.stats(0).dropped + sim.link.stats(1).dropped, 0);
}

#[test]
fn the_reserve_is_for_closings_not_for_more_clients() {
    // 4 sockets, 2 of them in reserve: 2 clients are served at once and a third is refused.
    let config = GreetingConfig::default().with_reserve(2);
    let mut sim = Sim::<4>::greeting(config, 3);
    let hold = || {
        Client::new(vec![
            Step::Recv,
            Step::Pause(secs(2)),
            Step::Send(b"exit".to_vec()),
            Step::Close,
        ])
    };
    let a = sim.start(hold());
    let b = sim.start(hold());
    sim.run_until(secs(1), |sim| {
        sim.peer.clients().all(|c| !c.transcript.is_empty())
    });
    let third = sim.start(hold());
    sim.run_clients(secs(5));
    assert_eq!(sim.peer.client(third).outcome(), Some(Outcome::Refused));
    for c in [a, b] {
        assert_eq!(sim.peer.client(c).outcome(), Some(Outcome::Completed));
    }
    let server = sim.greeting_server();
    assert_eq!((server.max_open(), server.active()), (2, 0));
}

/// Starts `count` clients at once, each taking the welcome, sending `c{i}` a second later
/// and leaving with `exit`, and checks that every one of them got its own answer.
fn serve_a_burst<const N: usize>(sim: &mut Sim<N>, count: usize) {
    let clients: Vec<usize> = (0..count)
        .map(|i| {
            sim.start(Client::new(vec![
                Step::Recv,
                Step::Pause(secs(1)),
                Step::Send(format!("c{i}").into_bytes()),
                Step::Recv,
                Step::Send(b"exit".to_vec()),
                Step::Close,
            ]))
        })
        .collect();
    sim.run_clients(secs(10));
    for (i, &c) in clients.iter().enumerate() {
        let client = sim.peer.client(c);
        assert_eq!(client.outcome(), Some(Outcome::Completed), "{client:?}");
        assert_eq!(
            client.transcript_strings(),
            ["Welcome".to_string(), format!("Hello, c{i}!")]
        );
    }
}

/// Free sockets stay out of smoltcp's set (parked; only `BACKLOG` listen), and a burst
/// of SYNs larger than that backlog, all in one batch of frames, is still served in full:
/// every listener that takes a SYN is replaced before the next frame.
#[test]
fn idle_sockets_are_parked_and_a_burst_beyond_the_backlog_is_served() {
    const N: usize = 16;
    const CLIENTS: usize = 12;
    let mut sim = Sim::<N>::greeting(GreetingConfig::default(), CLIENTS);
    let in_set = |sim: &mut Sim<N>| sim.device.app.stack().sockets().iter().count();
    assert_eq!(
        in_set(&mut sim),
        BACKLOG,
        "only the listeners are in smoltcp's set"
    );
    serve_a_burst(&mut sim, CLIENTS);
    sim.run_until(secs(5), |sim| sim.greeting_server().closing() == 0);
    assert_eq!(in_set(&mut sim), BACKLOG, "freed sockets are parked again");
}

/// The device's socket set grows as sockets join it (as tcplink-tap's does), and the
/// server's spare sockets go straight to the parking: smoltcp, which walks every slot of
/// the set, walks as many as the busiest moment so far needed, not one per server socket.
#[test]
fn the_socket_set_grows_only_with_the_clients() {
    const N: usize = 16;
    const CLIENTS: usize = 4;
    let mut sim = Sim::<N>::greeting(GreetingConfig::default(), CLIENTS);
    // Slots, used or not: the set's `Debug` lists each one.
    let slots = |sim: &mut Sim<N>| {
        format!("{:?}", **sim.device.app.stack().sockets())
            .matches("SocketStorage")
            .count()
    };
    assert_eq!(slots(&mut sim), BACKLOG, "the listeners alone");
    serve_a_burst(&mut sim, CLIENTS);
    assert_eq!(
        slots(&mut sim),
        CLIENTS + BACKLOG,
        "one per client, and the listeners"
    );
}

/// Clients that reset their own handshake (SYN, then RST before the SYN-ACK is answered)
/// while the backlog is full: each listener that took a SYN goes back to listening, none
/// is lost or doubled, and every socket still serves a burst of real clients afterwards.
#[test]
fn handshakes_reset_while_the_backlog_listens_lose_no_socket() {
    const N: usize = 16;
    const RESETS: usize = 6;
    const CLIENTS: usize = 12;
    let mut sim = Sim::<N>::greeting(GreetingConfig::default(), 3 * RESETS + CLIENTS);
    let in_set = |sim: &mut Sim<N>| sim.device.app.stack().sockets().iter().count();
    for _round in 0..3 {
        // More resets at once than there are listeners: the backlog is full of them.
        let resets: Vec<usize> = (0..RESETS)
            .map(|_| sim.start(Client::new(vec![Step::Abort])))
            .collect();
        sim.run_clients(secs(5));
        for &c in &resets {
            let client = sim.peer.client(c);
            assert!(client.transcript.is_empty(), "{client:?}");
        }
        assert_eq!(in_set(&mut sim), BACKLOG, "the listeners, and nothing else");
    }
    serve_a_burst(&mut sim, CLIENTS);
    // Only the real clients were ever accepted.
    let accepted = sim
        .event_list()
        .iter()
        .filter(|e| matches!(e, Recorded::Greeting(GreetingEvent::Accepted { .. })))
        .count();
    assert_eq!(accepted, CLIENTS);
    sim.run_until(secs(5), |sim| sim.greeting_server().closing() == 0);
    assert_eq!(sim.greeting_server().active(), 0);
    assert_eq!(in_set(&mut sim), BACKLOG, "freed sockets are parked again");
}
