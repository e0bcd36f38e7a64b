//! Peers that misbehave: floods, slow and silent clients, odd messages, broken HTTP servers.
//! The device must never panic, must keep serving, and must say exactly what went wrong.

use smoltcp::time::Duration;
use tcplink::greeting::{CloseReason, GreetingConfig, GreetingEvent};
use tcplink::http::{HttpConfig, HttpError};
use tcplink_testkit::{
    pseudo_random, Client, DeviceSetup, End, Outcome, Recorded, Response, Sim, Step, PEER_IP,
};

const SEED: [&str; 4] = ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"];

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Serves a fresh seed session, proving the server still works.
fn still_serves<const N: usize>(sim: &mut Sim<N>) {
    sim.advance(Duration::from_millis(100));
    let c = sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    sim.run_until(secs(10), |sim| sim.peer.client(c).finished());
    assert_eq!(sim.peer.client(c).transcript_strings(), SEED);
}

#[test]
fn a_thousand_extra_connections_are_refused_while_eight_are_served() {
    let mut sim = Sim::<8>::greeting(GreetingConfig::default(), 1024);
    let served: Vec<usize> = (0..8)
        .map(|_| {
            sim.start(Client::new(vec![
                Step::Recv,
                Step::Send(b"Alice".to_vec()),
                Step::Recv,
                Step::Pause(secs(5)),
                Step::Send(b"exit".to_vec()),
                Step::Close,
            ]))
        })
        .collect();
    sim.run_until(secs(1), |sim| {
        served
            .iter()
            .all(|&c| sim.peer.client(c).transcript.len() == 2)
    });
    // 1,000 attempts in waves of 100, while the 8 hold every socket.
    let mut refused_within = Duration::ZERO;
    for _ in 0..10 {
        let wave: Vec<usize> = (0..100)
            .map(|_| sim.start(Client::seed(&["Mallory"])))
            .collect();
        let start = sim.now;
        sim.run_until(secs(1), |sim| {
            wave.iter().all(|&c| sim.peer.client(c).finished())
        });
        for &c in &wave {
            let client = sim.peer.client(c);
            assert_eq!(client.outcome(), Some(Outcome::Refused));
            refused_within = refused_within.max(client.finished.unwrap().0 - start);
        }
    }
    assert!(
        refused_within < Duration::from_millis(50),
        "slowest refusal {refused_within}"
    );
    sim.run_until(secs(10), |sim| {
        served.iter().all(|&c| sim.peer.client(c).finished())
    });
    for &c in &served {
        let client = sim.peer.client(c);
        assert_eq!(client.outcome(), Some(Outcome::Completed));
        assert_eq!(client.transcript_strings(), ["Welcome", "Hello, Alice!"]);
    }
    still_serves(&mut sim);
}

#[test]
fn slow_and_silent_clients_are_cut_off_and_cannot_starve_others() {
    let config = GreetingConfig::default().with_idle_timeout(secs(2));
    let mut sim = Sim::<4>::greeting(config, 16);
    // Two say nothing at all; two send one byte every 3 s (slower than the idle timeout).
    let mut loris = Vec::new();
    for _ in 0..2 {
        loris.push(sim.start(Client::new(vec![Step::Pause(secs(3600))])));
    }
    for _ in 0..2 {
        let mut script = vec![Step::Recv];
        for _ in 0..100 {
            script.push(Step::Pause(secs(3)));
            script.push(Step::Send(b"x".to_vec()));
        }
        loris.push(sim.start(Client::new(script)));
    }
    sim.run_until(secs(10), |sim| {
        loris.iter().all(|&c| sim.peer.client(c).finished())
    });
    for &c in &loris {
        let client = sim.peer.client(c);
        assert_eq!(client.outcome(), Some(Outcome::Reset), "{client:?}");
        let lasted = client.finished.unwrap().0 - client.started_at;
        assert!(
            lasted <= Duration::from_millis(2100),
            "held a socket for {lasted}"
        );
    }
    let idle_closes = sim
        .event_list()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Recorded::Greeting(GreetingEvent::Closed {
                    reason: CloseReason::IdleTimeout,
                    ..
                })
            )
        })
        .count();
    assert_eq!(idle_closes, 4);
    still_serves(&mut sim);
}

#[test]
fn odd_messages_never_break_the_server() {
    let big = pseudo_random(64 * 1024, 4);
    let scripts: Vec<(&str, Vec<Step>)> = vec![
        ("connect and close at once", vec![Step::Close]),
        (
            "one byte",
            vec![
                Step::Recv,
                Step::Send(b"A".to_vec()),
                Step::RecvExact(9),
                Step::Close,
            ],
        ),
        (
            "64 KiB",
            vec![
                Step::Recv,
                Step::Send(big.clone()),
                Step::Pause(secs(2)),
                Step::Close,
            ],
        ),
        (
            "binary garbage",
            vec![
                Step::Recv,
                Step::Send(vec![0, 0xff, 0xfe, 0x80, 0]),
                Step::Pause(secs(1)),
                Step::Close,
            ],
        ),
        (
            "exit split across segments",
            vec![
                Step::Recv,
                Step::Send(b"ex".to_vec()),
                Step::Pause(secs(1)),
                Step::Send(b"it".to_vec()),
                Step::Pause(secs(1)),
                Step::Close,
            ],
        ),
        (
            "half-close after a message",
            vec![Step::Recv, Step::Send(b"Bob".to_vec()), Step::Close],
        ),
        (
            "reset mid-reply",
            vec![Step::Recv, Step::Send(big.clone()), Step::Abort],
        ),
        ("reset at once", vec![Step::Abort]),
    ];
    for (name, script) in scripts {
        let mut sim = Sim::<2>::greeting(GreetingConfig::default(), 4);
        let c = sim.start(Client::new(script));
        sim.run_until(secs(30), |sim| sim.peer.client(c).finished());
        let client = sim.peer.client(c);
        assert!(client.finished(), "{name}: {client:?}");
        match name {
            "one byte" => assert_eq!(client.received, b"WelcomeHello, A!"),
            "64 KiB" => assert_eq!(
                tcplink_testkit::greeting_echo(&big, &client.received),
                Some(big.iter().filter(|&&b| b != b'\n' && b != b'\r').count())
            ),
            "exit split across segments" => assert_eq!(
                client.received, b"WelcomeHello, ex!Hello, it!",
                "{name}: each read is a message"
            ),
            "half-close after a message" => assert_eq!(client.received, b"WelcomeHello, Bob!"),
            _ => {}
        }
        still_serves(&mut sim);
    }
}

fn http_sim(path: &str, response: Response) -> Sim<1> {
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<1>::new(&setup, 4);
    sim.peer.serve_http(80, 1);
    sim.peer.serve_dns(&[("evil.test", PEER_IP)]);
    sim.peer.http[0].route(path, response);
    sim
}

fn fetch(sim: &mut Sim<1>, url: &str) -> Result<(u16, u64), HttpError> {
    sim.get(url).unwrap();
    sim.run_get(secs(600)).expect("the GET ended")
}

#[test]
fn hostile_http_servers_get_typed_errors() {
    let endless = |prefix: &str| {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(b'a', 1 << 20));
        Response::raw(bytes).then(End::Hang)
    };
    let cases: Vec<(&str, Response, HttpError)> = vec![
        ("endless head", endless("HTTP/1.1 200 OK\r\nX-Endless: "), HttpError::HeadTooLarge { limit: 64 * 1024 }),
        ("endless chunk-size line", endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"), HttpError::BadChunk),
        ("negative length", Response::raw("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabc"), HttpError::BadContentLength),
        (
            "overflowing length",
            Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nabc"),
            HttpError::BadContentLength,
        ),
        (
            "conflicting lengths",
            Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
            HttpError::BadContentLength,
        ),
        (
            "length and chunked",
            Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            HttpError::AmbiguousLength,
        ),
        ("redirect to itself", Response::redirect(302, "/self"), HttpError::RedirectLoop),
        ("redirect without location", Response::raw("HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"), HttpError::MissingLocation),
        ("garbage instead of HTTP", Response::raw(pseudo_random(5000, 8)), HttpError::BadStatusLine),
        ("silence", Response::raw("").then(End::Hang), HttpError::IdleTimeout),
        ("close without answer", Response::raw(""), HttpError::NoResponse),
    ];
    for (name, response, want) in cases {
        let mut sim = http_sim("/self", response);
        let start = sim.now;
        assert_eq!(
            fetch(&mut sim, "http://evil.test/self"),
            Err(want),
            "{name}"
        );
        assert!(
            sim.now - start <= secs(31),
            "{name}: took {}",
            sim.now - start
        );
        assert_eq!(sim.events.body_len, 0, "{name}: no body delivered");
    }
}

#[test]
fn documented_behaviour_for_odd_but_valid_responses() {
    // Interim 1xx responses are skipped; the final response counts.
    let mut sim = http_sim(
        "/",
        Response::raw("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    );
    assert_eq!(fetch(&mut sim, "http://evil.test/"), Ok((200, 2)));
    assert_eq!(sim.events.body, b"ok");

    // A body longer than Content-Length: exactly Content-Length bytes are the body; the rest
    // is not delivered.
    let mut sim = http_sim(
        "/",
        Response::raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more"),
    );
    assert_eq!(fetch(&mut sim, "http://evil.test/"), Ok((200, 5)));
    assert_eq!(sim.events.body, b"hello");

    // Error statuses are responses like any other: the head and body are reported.
    let mut sim = http_sim(
        "/",
        Response::raw("HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail"),
    );
    assert_eq!(fetch(&mut sim, "http://evil.test/"), Ok((500, 4)));
}

#[test]
fn a_transfer_coding_the_client_cannot_decode_is_an_error_not_a_body() {
    // gzip bytes, chunked: saving them as the body would hand the user compressed garbage.
    let gzip = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcbH\xcd\xc9\xc9\x07\x00\x86\xa6\x106\x05\x00\x00\x00";
    let mut bytes = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".to_vec();
    bytes.extend_from_slice(format!("{:x}\r\n", gzip.len()).as_bytes());
    bytes.extend_from_slice(gzip);
    bytes.extend_from_slice(b"\r\n0\r\n\r\n");
    let mut sim = http_sim("/z", Response::raw(bytes));
    let error = fetch(&mut sim, "http://evil.test/z").unwrap_err();
    assert!(
        matches!(error, HttpError::UnsupportedTransferCoding(name) if name.as_bytes() == b"gzip"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "unsupported Transfer-Encoding \"gzip\" (only chunked is decoded)"
    );
    assert_eq!(sim.events.body_len, 0);

    // Without chunked the body would run to the close: the same error, not a body.
    let mut sim = http_sim(
        "/d",
        Response::raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: deflate\r\n\r\nxyz".to_vec()),
    );
    let error = fetch(&mut sim, "http://evil.test/d").unwrap_err();
    assert!(
        matches!(error, HttpError::UnsupportedTransferCoding(name) if name.as_bytes() == b"deflate"),
        "{error:?}"
    );
    assert_eq!(sim.events.body_len, 0);

    // Content-Encoding is the file's own format: saved exactly as sent.
    let mut bytes = format!(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gzip.len()
    )
    .into_bytes();
    bytes.extend_from_slice(gzip);
    let mut sim = http_sim("/f.gz", Response::raw(bytes));
    assert_eq!(
        fetch(&mut sim, "http://evil.test/f.gz"),
        Ok((200, gzip.len() as u64))
    );
    assert_eq!(sim.events.body, gzip);
}

#[test]
fn obs_fold_is_unfolded_as_a_user_agent_must() {
    let response = "HTTP/1.1 200 OK\r\nX-Folded: first\r\n  second\r\n\tthird\r\nContent-Length: 4\r\n\r\nbody";
    let mut sim = http_sim("/fold", Response::raw(response));
    assert_eq!(fetch(&mut sim, "http://evil.test/fold"), Ok((200, 4)));
    assert_eq!(sim.events.body, b"body");
    let heads = sim.heads();
    assert_eq!(
        heads,
        ["HTTP/1.1 200 OK\r\nX-Folded: first    second  \tthird\r\nContent-Length: 4"]
    );

    // After an interim 100 Continue in the same segment, too.
    let response = format!("HTTP/1.1 100 Continue\r\n\r\n{response}");
    let mut sim = http_sim("/fold", Response::raw(response));
    assert_eq!(fetch(&mut sim, "http://evil.test/fold"), Ok((200, 4)));
    assert_eq!(sim.events.body, b"body");
}
