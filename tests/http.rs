//! The GET client over the in-memory link against a scripted smoltcp HTTP server and DNS
//! responder on the peer, on simulated time.

use smoltcp::time::Duration;
use smoltcp::wire::Ipv4Address;
use tcplink::greeting::{GreetingConfig, GreetingEvent};
use tcplink::http::{DnsServers, HttpConfig, HttpError};
use tcplink::url::UrlError;
use tcplink_testkit::{
    pseudo_random, sha256, Client, DeviceSetup, End, Recorded, Response, Sim, HTTP_RX, HTTP_URL,
    PEER_IP,
};

const SECS_60: Duration = Duration::from_secs(60);

/// A device with the GET client (and DNS via the peer), a peer serving HTTP on port 80.
fn new_sim() -> Sim<4> {
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 16);
    sim.peer.serve_http(80, 2);
    sim.peer.serve_dns(&[("files.test", PEER_IP)]);
    sim
}

fn route(sim: &mut Sim<4>, path: &str, response: Response) {
    sim.peer.http[0].route(path, response);
}

fn fetch(sim: &mut Sim<4>, url: &str) -> Result<(u16, u64), HttpError> {
    sim.get(url).expect("GET starts");
    sim.run_get(Duration::from_secs(600)).expect("GET ended")
}

#[test]
fn ten_mib_arrive_byte_identical_in_every_framing() {
    let body = pseudo_random(10 << 20, 7);
    let want = sha256(&body);
    for (name, response) in [
        ("fixed", Response::fixed(&body)),
        ("chunked", Response::chunked(&body, 3000)),
        ("close", Response::until_close(&body)),
    ] {
        let mut sim = new_sim();
        route(&mut sim, "/big", response);
        let result = fetch(&mut sim, "http://files.test/big");
        assert_eq!(result, Ok((200, body.len() as u64)), "{name}");
        assert_eq!(sim.events.body_sha256(), want, "{name}");
        // The body streamed through the 4 KiB socket buffer: many small pieces, none larger.
        assert!(
            sim.events.body_writes > (10 << 20) / HTTP_RX as u64,
            "{name}"
        );
    }
}

#[test]
fn request_is_what_the_seed_sends_plus_agent() {
    let mut sim = new_sim();
    route(&mut sim, "/a/b?x=1", Response::fixed(b"ok"));
    fetch(&mut sim, "http://files.test/a/b?x=1#frag").unwrap();
    let head = String::from_utf8(sim.peer.http[0].request_heads[0].clone()).unwrap();
    assert_eq!(
        head,
        format!(
            "GET /a/b?x=1 HTTP/1.1\r\nHost: files.test\r\nUser-Agent: tcplink/{}\r\nAccept: */*\r\nConnection: close",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn host_header_carries_a_non_default_port() {
    let mut sim = new_sim();
    sim.peer.serve_http(8080, 1);
    sim.peer.http[1].route("/", Response::fixed(b"x"));
    fetch(&mut sim, "http://10.0.0.1:8080").unwrap();
    let head = String::from_utf8(sim.peer.http[1].request_heads[0].clone()).unwrap();
    assert!(head.contains("\r\nHost: 10.0.0.1:8080\r\n"), "{head}");
    // A literal address needs no DNS.
    assert!(sim.peer.dns.as_ref().unwrap().queries.is_empty());
}

#[test]
fn head_and_body_arrive_exactly_even_one_byte_per_segment() {
    let body = b"<html>hello</html>".to_vec();
    let head = "HTTP/1.1 200 OK\r\nServer: test\r\nContent-Length: 18\r\nX-Long: ";
    let filler = "y".repeat(1500);
    let response = format!("{head}{filler}\r\n\r\n");
    let mut bytes = response.clone().into_bytes();
    bytes.extend_from_slice(&body);
    for (name, per_write) in [("split head", 700), ("trickle", 1)] {
        let mut sim = new_sim();
        route(
            &mut sim,
            "/",
            Response::raw(bytes.clone()).trickle(per_write, Duration::from_millis(5)),
        );
        assert_eq!(
            fetch(&mut sim, "http://files.test/"),
            Ok((200, 18)),
            "{name}"
        );
        assert_eq!(sim.events.body, body, "{name}");
        let heads = sim.heads();
        assert_eq!(heads, [response.trim_end().to_string()], "{name}");
    }
}

#[test]
fn each_failure_has_its_own_error() {
    let body = pseudo_random(100_000, 3);
    let head_len = Response::fixed(&body).bytes.len() - body.len();
    let cases: Vec<(&str, Response, HttpError)> = vec![
        (
            "/head-too-large",
            Response::raw(format!(
                "HTTP/1.1 200 OK\r\nX: {}\r\n\r\n",
                "a".repeat(70_000)
            )),
            HttpError::HeadTooLarge { limit: 64 * 1024 },
        ),
        (
            "/bad-status",
            Response::raw("HTTP/1.1 OK fine\r\n\r\n"),
            HttpError::BadStatusLine,
        ),
        (
            "/truncated",
            Response::fixed(&body).cut(50_000, End::Close),
            HttpError::TruncatedBody {
                expected: 100_000,
                received: (50_000 - head_len) as u64,
            },
        ),
        (
            "/bad-chunk",
            Response::raw(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
            ),
            HttpError::BadChunk,
        ),
        (
            "/reset",
            Response::fixed(&body).cut(40_000, End::Reset),
            HttpError::Reset,
        ),
        (
            "/idle",
            Response::fixed(&body).cut(40_000, End::Hang),
            HttpError::IdleTimeout,
        ),
        (
            "/loop",
            Response::redirect(302, "/loop2"),
            HttpError::RedirectLoop,
        ),
        (
            "/to-https",
            Response::redirect(302, "https://files.test/"),
            HttpError::Url(UrlError::TlsUnsupported),
        ),
        (
            "/chunked-cut",
            Response::chunked(&body, 1000).cut(30_000, End::Close),
            HttpError::TruncatedChunked,
        ),
        (
            "/no-head",
            Response::raw("HTTP/1.1 200 OK\r\n"),
            HttpError::NoResponse,
        ),
    ];
    for (path, response, want) in cases {
        let mut sim = new_sim();
        route(&mut sim, path, response);
        route(&mut sim, "/loop2", Response::redirect(301, "/loop"));
        let url = format!("http://files.test{path}");
        assert_eq!(fetch(&mut sim, &url), Err(want), "{path}");
    }
}

#[test]
fn truncated_fixed_body_counts_exactly() {
    // The truncation case above, with the head length worked out rather than assumed.
    let body = pseudo_random(1000, 1);
    let full = Response::fixed(&body);
    let head_len = full.bytes.len() - body.len();
    let mut sim = new_sim();
    route(&mut sim, "/", full.cut(head_len + 600, End::Close));
    assert_eq!(
        fetch(&mut sim, "http://files.test/"),
        Err(HttpError::TruncatedBody {
            expected: 1000,
            received: 600
        })
    );
    assert_eq!(sim.events.body, body[..600]);
}

#[test]
fn network_failures_are_told_apart() {
    // Name not found.
    let mut sim = new_sim();
    assert_eq!(
        fetch(&mut sim, "http://nowhere.test/"),
        Err(HttpError::DnsNotFound)
    );

    // DNS server silent.
    let mut sim = new_sim();
    sim.peer.dns.as_mut().unwrap().silent = true;
    let start = sim.now;
    assert_eq!(
        fetch(&mut sim, "http://files.test/"),
        Err(HttpError::DnsTimeout {
            tried: DnsServers::from(&[PEER_IP.into()][..])
        })
    );
    assert_eq!(sim.now - start, HttpConfig::default().dns_timeout);

    // Nothing listens on the port: RST.
    let mut sim = new_sim();
    assert_eq!(
        fetch(&mut sim, "http://10.0.0.1:81/"),
        Err(HttpError::ConnectionRefused)
    );

    // Nobody at the address: ARP goes unanswered, SYN never leaves.
    let mut sim = new_sim();
    let start = sim.now;
    assert_eq!(
        fetch(&mut sim, "http://10.0.0.99/"),
        Err(HttpError::NoNeighborReply(
            Ipv4Address::new(10, 0, 0, 99).into()
        ))
    );
    assert_eq!(sim.now - start, HttpConfig::default().connect_timeout);

    // No DNS server configured.
    let setup = DeviceSetup {
        http: Some(HttpConfig::default()),
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 4);
    assert_eq!(
        fetch(&mut sim, "http://files.test/"),
        Err(HttpError::NoDnsServer)
    );
}

#[test]
fn immediate_errors_need_no_network() {
    let mut sim = new_sim();
    assert_eq!(
        sim.get("https://files.test/"),
        Err(HttpError::Url(UrlError::TlsUnsupported))
    );
    assert_eq!(
        sim.get("gopher://x/"),
        Err(HttpError::Url(UrlError::UnsupportedScheme))
    );
    assert_eq!(
        sim.get(&format!("http://h/{}", "a".repeat(9000))),
        Err(HttpError::Url(UrlError::TooLong { limit: HTTP_URL }))
    );
    sim.get("http://files.test/").unwrap();
    assert_eq!(sim.get("http://files.test/"), Err(HttpError::Busy));
}

#[test]
fn redirect_chain_is_followed_with_relative_locations() {
    let mut sim = new_sim();
    route(
        &mut sim,
        "/start",
        Response::redirect(301, "http://files.test/dir/one"),
    );
    route(&mut sim, "/dir/one", Response::redirect(302, "two"));
    route(&mut sim, "/dir/two", Response::redirect(307, "/page"));
    route(&mut sim, "/page", Response::fixed(b"the page"));
    assert_eq!(fetch(&mut sim, "http://files.test/start"), Ok((200, 8)));
    assert_eq!(sim.events.body, b"the page");
    let redirects: Vec<Recorded> = sim
        .event_list()
        .into_iter()
        .filter(|e| matches!(e, Recorded::Redirect { .. }))
        .collect();
    assert_eq!(
        redirects,
        [
            Recorded::Redirect {
                status: 301,
                to: "http://files.test/dir/one".into()
            },
            Recorded::Redirect {
                status: 302,
                to: "http://files.test/dir/two".into()
            },
            Recorded::Redirect {
                status: 307,
                to: "http://files.test/page".into()
            },
        ]
    );
    assert_eq!(
        sim.peer.http[0].requests,
        [
            "GET /start HTTP/1.1",
            "GET /dir/one HTTP/1.1",
            "GET /dir/two HTTP/1.1",
            "GET /page HTTP/1.1"
        ]
    );
}

#[test]
fn too_many_redirects_is_an_error() {
    let mut sim = new_sim();
    for i in 0..10 {
        route(
            &mut sim,
            &format!("/r{i}"),
            Response::redirect(302, &format!("/r{}", i + 1)),
        );
    }
    assert_eq!(
        fetch(&mut sim, "http://files.test/r0"),
        Err(HttpError::TooManyRedirects)
    );
    // The original request and five redirects were fetched.
    assert_eq!(sim.peer.http[0].requests.len(), 6);
}

#[test]
fn https_redirect_shows_the_head_then_fails() {
    let mut sim = new_sim();
    route(
        &mut sim,
        "/",
        Response::redirect(302, "https://www.example.test/"),
    );
    assert_eq!(
        fetch(&mut sim, "http://files.test/"),
        Err(HttpError::Url(UrlError::TlsUnsupported))
    );
    assert!(sim.event_list().iter().any(|e| matches!(e, Recorded::Head { status: 302, text } if text.contains("Location: https://www.example.test/"))));
    assert_eq!(
        HttpError::Url(UrlError::TlsUnsupported).to_string(),
        "https:// is not supported (no TLS on this device)"
    );
}

#[test]
fn sink_refusal_fails_the_get() {
    let mut sim = new_sim();
    route(&mut sim, "/", Response::fixed(&pseudo_random(50_000, 2)));
    sim.events.body_limit = Some(10_000);
    assert_eq!(fetch(&mut sim, "http://files.test/"), Err(HttpError::Sink));
}

#[test]
fn client_is_reusable_after_success_and_failure() {
    let mut sim = new_sim();
    route(&mut sim, "/ok", Response::fixed(b"first"));
    route(&mut sim, "/bad", Response::raw("nonsense\r\n\r\n"));
    assert_eq!(fetch(&mut sim, "http://files.test/ok"), Ok((200, 5)));
    sim.events.list.clear();
    assert_eq!(
        fetch(&mut sim, "http://files.test/bad"),
        Err(HttpError::BadStatusLine)
    );
    sim.events.list.clear();
    sim.events.body.clear();
    assert_eq!(fetch(&mut sim, "http://files.test/ok"), Ok((200, 5)));
    assert_eq!(sim.events.body, b"first");
}

#[test]
fn greeting_sessions_complete_during_a_large_download() {
    let setup = DeviceSetup {
        greeting: Some(GreetingConfig::default()),
        http: Some(HttpConfig::default()),
        dns: vec![PEER_IP.into()],
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<4>::new(&setup, 32);
    sim.peer.serve_http(80, 1);
    sim.peer.serve_dns(&[("files.test", PEER_IP)]);
    let body = pseudo_random(4 << 20, 9);
    sim.peer.http[0].route("/big", Response::fixed(&body));
    sim.get("http://files.test/big").unwrap();
    // Let the download get going (DNS, connect, the first window), then greet while it runs.
    sim.run_until(SECS_60, |sim| sim.events.body_len > 0);
    for _ in 0..4 {
        sim.start(Client::seed(&["Alice", "Bob", "Jack"]));
    }
    sim.run_clients(SECS_60);
    assert_eq!(sim.run_get(SECS_60), Some(Ok((200, body.len() as u64))));
    // In the device's own event order, every session ended before the download did.
    let events = sim.event_list();
    let done = events
        .iter()
        .position(|e| matches!(e, Recorded::Done { .. }))
        .unwrap();
    let closed: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Recorded::Greeting(GreetingEvent::Closed { .. })))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(closed.len(), 4);
    assert!(closed.iter().all(|&i| i < done), "{events:?}");
    for client in sim.peer.clients() {
        assert_eq!(
            client.transcript_strings(),
            ["Welcome", "Hello, Alice!", "Hello, Bob!", "Hello, Jack!"]
        );
    }
    assert_eq!(sim.events.body_sha256(), sha256(&body));
}
