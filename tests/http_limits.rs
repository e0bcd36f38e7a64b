//! The GET client's fixed buffers against ordinary web traffic: with tcplink-tap's sizes
//! (the test kit's client) long URLs, long redirect Locations and big heads just work; at
//! a board's small limits each one fails with its own error naming the limit.

use smoltcp::time::Duration;
use tcplink::http::{HttpConfig, HttpError};
use tcplink::url::UrlError;
use tcplink_testkit::{DeviceSetup, Response, Sim, HTTP_HEAD, HTTP_HEADERS, HTTP_URL, PEER_IP};

/// A device whose GET client has `config`, a peer serving HTTP on port 80 and DNS.
fn new_sim(config: HttpConfig) -> Sim<1> {
    let setup = DeviceSetup {
        http: Some(config),
        dns: vec![PEER_IP.into()],
        ..DeviceSetup::default()
    };
    let mut sim = Sim::<1>::new(&setup, 8);
    sim.peer.serve_http(80, 2);
    sim.peer.serve_dns(&[("files.test", PEER_IP)]);
    sim
}

fn fetch(sim: &mut Sim<1>, url: &str) -> Result<(u16, u64), HttpError> {
    // Only this GET's events: the outcome is the last one recorded.
    sim.events.list.clear();
    sim.get(url)?;
    sim.run_get(Duration::from_secs(120)).expect("GET ended")
}

/// The board's limits (firmware/mps2-an385): 2 KiB head, 256-byte URL, 48 headers.
fn board_limits() -> HttpConfig {
    HttpConfig::default()
        .with_max_url(256)
        .with_max_head(2048)
        .with_max_headers(48)
}

/// A realistic 4.1 KiB response head: a long Content-Security-Policy and 12 cookies.
fn big_head(status: &str, extra: &str) -> String {
    let mut head = format!("HTTP/1.1 {status}\r\nServer: nginx\r\n{extra}");
    let sources: Vec<String> = (0..40)
        .map(|i| format!("https://cdn{i}.static.example.com"))
        .collect();
    head += &format!(
        "Content-Security-Policy: default-src 'self'; script-src 'self' {}; object-src 'none'\r\n",
        sources.join(" ")
    );
    for i in 0..12 {
        head += &format!(
            "Set-Cookie: session_part_{i}={}; Path=/; Domain=files.test; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax\r\n",
            "Zm9vYmFy".repeat(16)
        );
    }
    head
}

#[test]
fn long_url_long_location_and_big_head_work_at_tap_sizes() {
    let mut sim = new_sim(HttpConfig::default());
    let long_path = format!(
        "/search?q={}",
        "x".repeat(2000 - "http://files.test/search?q=".len())
    );
    let url = format!("http://files.test{long_path}");
    assert_eq!(url.len(), 2000);
    let location = format!("/final/{}", "L".repeat(300 - "/final/".len()));
    assert_eq!(location.len(), 300);
    let redirect = big_head(
        "302 Found",
        &format!("Location: {location}\r\nContent-Length: 0\r\n"),
    ) + "\r\n";
    let body = b"arrived after a long trip";
    let page = big_head("200 OK", &format!("Content-Length: {}\r\n", body.len())) + "\r\n";
    assert!(redirect.len() > 4100 && page.len() > 4100, "{}", page.len());
    sim.peer.http[0].route(&long_path, Response::raw(redirect.clone()));
    let mut final_bytes = page.clone().into_bytes();
    final_bytes.extend_from_slice(body);
    sim.peer.http[0].route(&location, Response::raw(final_bytes));

    assert_eq!(fetch(&mut sim, &url), Ok((200, body.len() as u64)));
    assert_eq!(sim.events.body, body);
    assert_eq!(
        sim.peer.http[0].requests,
        [
            format!("GET {long_path} HTTP/1.1"),
            format!("GET {location} HTTP/1.1")
        ]
    );
    let heads = sim.heads();
    assert_eq!(heads, [redirect.trim_end(), page.trim_end()]);
}

#[test]
fn each_limit_fails_with_its_own_error_naming_the_limit() {
    // URL.
    let mut sim = new_sim(board_limits());
    let error = sim
        .get(&format!("http://files.test/{}", "a".repeat(300)))
        .unwrap_err();
    assert_eq!(error, HttpError::Url(UrlError::TooLong { limit: 256 }));
    assert_eq!(error.to_string(), "URL longer than 256 bytes");

    // Header count: 49 headers in a 511-byte head is not "too large".
    let mut sim = new_sim(board_limits());
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..49 {
        head += &format!("X-{i:02}: v\r\n");
    }
    head += "\r\n";
    assert!(head.len() < 512, "{}", head.len());
    sim.peer.http[0].route("/many", Response::raw(head));
    let error = fetch(&mut sim, "http://files.test/many").unwrap_err();
    assert_eq!(error, HttpError::TooManyHeaders { limit: 48 });
    assert_eq!(error.to_string(), "response has more than 48 headers");

    // Head size.
    let mut sim = new_sim(board_limits());
    let head = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "b".repeat(2100));
    sim.peer.http[0].route("/big", Response::raw(head));
    let error = fetch(&mut sim, "http://files.test/big").unwrap_err();
    assert_eq!(error, HttpError::HeadTooLarge { limit: 2048 });
    assert_eq!(error.to_string(), "response head larger than 2048 bytes");

    // Redirect Location (300 bytes, over the board's 256).
    let mut sim = new_sim(board_limits());
    let location = format!("/{}", "L".repeat(299));
    sim.peer.http[0].route("/go", Response::redirect(302, &location));
    let error = fetch(&mut sim, "http://files.test/go").unwrap_err();
    assert_eq!(error, HttpError::LocationTooLong { limit: 256 });
    assert_eq!(
        error.to_string(),
        "redirect Location longer than 256 bytes (the URL limit)"
    );
}

#[test]
fn tap_sizes_are_limits_too() {
    let mut sim = new_sim(HttpConfig::default());
    let mut head = String::from("HTTP/1.1 200 OK\r\n");
    for i in 0..=HTTP_HEADERS {
        head += &format!("X-{i}: v\r\n");
    }
    sim.peer.http[0].route("/many", Response::raw(head + "\r\n"));
    assert_eq!(
        fetch(&mut sim, "http://files.test/many"),
        Err(HttpError::TooManyHeaders {
            limit: HTTP_HEADERS
        })
    );
    let head = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "h".repeat(HTTP_HEAD));
    sim.peer.http[0].route("/big", Response::raw(head));
    assert_eq!(
        fetch(&mut sim, "http://files.test/big"),
        Err(HttpError::HeadTooLarge { limit: HTTP_HEAD })
    );
    assert_eq!(
        sim.get(&format!("http://files.test/{}", "u".repeat(HTTP_URL))),
        Err(HttpError::Url(UrlError::TooLong { limit: HTTP_URL }))
    );
    // A configured limit above the buffer is cut to the buffer.
    let mut sim = new_sim(HttpConfig::default().with_max_url(HTTP_URL * 4));
    assert_eq!(
        sim.get(&format!("http://files.test/{}", "u".repeat(HTTP_URL))),
        Err(HttpError::Url(UrlError::TooLong { limit: HTTP_URL }))
    );
}
