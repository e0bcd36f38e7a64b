//! Your own services beside tcplink's, in one poll loop: an uppercase line server on port 7
//! and a line client, next to the seed's greeting server and GET client.
//!
//! Written against tcplink's public API alone, and `no_std`-ready (fixed `heapless` buffers,
//! time as an argument), so the two services would run on a board unchanged. Here they run
//! on the in-memory Ethernet link with the test kit's peer host and simulated clock:
//!
//! ```sh
//! cargo run --example line_service
//! ```

use heapless::{String, Vec};
use smoltcp::iface::SocketHandle;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;
use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
use tcplink::http::{BodySink, HttpClient, HttpConfig, HttpEvent, HttpStorage, SinkError};
use tcplink::listeners::{Conn, ListenConfig, Listeners};
use tcplink::{Handler, Service, Sockets, Stack, TcpBuffers};
use tcplink_testkit::{
    leak, new_link, Client, DeviceSetup, Net, Node, Observer, Response, Step, PEER_IP,
};

/// Longest line either service keeps; a longer one is cut there.
const LINE: usize = 64;

/// What the two line services report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// The server answered a line on connection `slot`.
    Answered { slot: usize, line: String<LINE> },
    /// The server's connection `slot` ended.
    Ended { slot: usize },
    /// The client got a line back.
    Reply(String<LINE>),
}

/// Answers each line with the line in upper case, on up to `N` connections at once.
pub struct UpperServer<const N: usize> {
    pool: Listeners<N>,
    /// Each connection's partial line.
    partial: [Vec<u8, LINE>; N],
}

impl<const N: usize> UpperServer<N> {
    /// Adds `N` sockets, one per buffer, listening on `port`.
    pub fn new<'s>(
        port: u16,
        stack: &mut Stack<'s>,
        buffers: &'s mut [TcpBuffers<256, 256>; N],
    ) -> Self {
        Self {
            pool: Listeners::new(ListenConfig::new(port), stack, buffers),
            partial: core::array::from_fn(|_| Vec::new()),
        }
    }
}

impl<H: Handler<LineEvent> + ?Sized, const N: usize> Service<H> for UpperServer<N> {
    fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
        let partial = &mut self.partial;
        self.pool
            .serve(now, stack, |slot, socket, conn| match conn {
                Conn::Accepted => partial[slot].clear(),
                Conn::Open => {
                    let mut byte = [0];
                    // A byte at a time, and only while a whole reply still fits.
                    while socket.send_capacity() - socket.send_queue() > LINE
                        && socket.recv_slice(&mut byte) == Ok(1)
                    {
                        if byte[0] != b'\n' {
                            let _ = partial[slot].push(byte[0].to_ascii_uppercase());
                            continue;
                        }
                        let line = core::mem::take(&mut partial[slot]);
                        let _ = socket.send_slice(&line);
                        let _ = socket.send_slice(b"\n");
                        let line = core::str::from_utf8(&line).unwrap_or("?");
                        handler.event(LineEvent::Answered {
                            slot,
                            line: line.try_into().unwrap_or_default(),
                        });
                    }
                    if !socket.may_recv() {
                        socket.close(); // the client is done: so are we
                    }
                }
                Conn::Ended => handler.event(LineEvent::Ended { slot }),
                _ => {}
            })
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        // A closing that takes too long; frames move the rest.
        self.pool.poll_at(now, |_slot| None)
    }

    fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        // So a client reconnecting in the same burst of frames finds a listener.
        self.pool.after_frame(sockets)
    }

    fn is_quiet(&self, _stack: &Stack<'_>) -> bool {
        self.pool.closing() == 0
    }
}

/// Sends lines to a server it is told to connect to, and reports each line that comes back.
pub struct LineClient {
    socket: SocketHandle,
    /// Where to connect, set by the platform through `App::services_mut`.
    target: Option<IpEndpoint>,
    outbox: Vec<u8, 256>,
    inbox: Vec<u8, LINE>,
    /// Lines sent and not yet answered: at none, the client hangs up.
    awaiting: usize,
}

impl LineClient {
    /// Adds the client's socket.
    pub fn new<'s>(stack: &mut Stack<'s>, buffers: &'s mut TcpBuffers<256, 256>) -> Self {
        Self {
            socket: stack.add_tcp(buffers),
            target: None,
            outbox: Vec::new(),
            inbox: Vec::new(),
            awaiting: 0,
        }
    }

    /// Connects to `server` at the next poll and sends `lines`, each ended by `\n`.
    pub fn send_to(&mut self, server: IpEndpoint, lines: &[&str]) {
        self.target = Some(server);
        for line in lines {
            let _ = self.outbox.extend_from_slice(line.as_bytes());
            let _ = self.outbox.push(b'\n');
            self.awaiting += 1;
        }
    }
}

impl<H: Handler<LineEvent> + ?Sized> Service<H> for LineClient {
    fn poll(&mut self, _now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
        if let Some(server) = self.target.take() {
            // Port 0: the stack picks an ephemeral one.
            return stack.connect(self.socket, server, 0).is_ok();
        }
        let socket = stack.tcp(self.socket);
        let mut changed = false;
        if socket.may_send() && !self.outbox.is_empty() {
            let sent = socket.send_slice(&self.outbox).unwrap_or(0);
            let rest = Vec::from_slice(&self.outbox[sent..]).unwrap_or_default();
            self.outbox = rest;
            changed |= sent > 0;
        }
        let mut byte = [0];
        while socket.recv_slice(&mut byte) == Ok(1) {
            if byte[0] != b'\n' {
                let _ = self.inbox.push(byte[0]);
                continue;
            }
            let line = core::mem::take(&mut self.inbox);
            let line = core::str::from_utf8(&line).unwrap_or("?");
            handler.event(LineEvent::Reply(line.try_into().unwrap_or_default()));
            self.awaiting = self.awaiting.saturating_sub(1);
            if self.awaiting == 0 && self.outbox.is_empty() {
                socket.close();
                changed = true;
            }
        }
        changed
    }

    fn poll_at(&self, _now: Instant) -> Option<Instant> {
        None
    }
}

/// The platform's handler: one line of text per event, from all four services.
#[derive(Default)]
pub struct Transcript {
    pub lines: std::vec::Vec<std::string::String>,
    pub body: std::vec::Vec<u8>,
}

impl Handler<LineEvent> for Transcript {
    fn event(&mut self, event: LineEvent) {
        self.lines.push(format!("line: {event:?}"));
    }
}

impl Handler<GreetingEvent> for Transcript {
    fn event(&mut self, event: GreetingEvent) {
        self.lines.push(format!("greeting: {event}"));
    }
}

impl Handler<HttpEvent<'_>> for Transcript {
    fn event(&mut self, event: HttpEvent<'_>) {
        if let HttpEvent::Done { status, body_len } = event {
            self.lines.push(format!("http: {status}, {body_len} bytes"));
        }
    }
}

impl BodySink for Transcript {
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        self.body.extend_from_slice(chunk);
        Ok(())
    }
}

impl Observer for Transcript {}

/// The device's four services, in the order they run.
type Services = (GreetingServer<2>, HttpClient, UpperServer<2>, LineClient);

/// Runs everything: the peer talks to the line server, the line client talks to a plain
/// TCP server on the peer, the greeting server greets, and the GET fetches a page.
pub fn run() -> (Transcript, std::vec::Vec<std::vec::Vec<u8>>) {
    let link = new_link();
    let device = Node::build(link, &DeviceSetup::default(), 0, Instant::ZERO, |stack| {
        let greeting_buffers = leak([const { TcpBuffers::<1024, 256>::new() }; 2]);
        let greeting = GreetingServer::new(GreetingConfig::default(), stack, greeting_buffers);
        let http_storage = leak(HttpStorage::<1024, 512>::new());
        let http = HttpClient::new(HttpConfig::default(), stack, http_storage, &[]);
        let upper = UpperServer::new(7, stack, leak([const { TcpBuffers::new() }; 2]));
        let client = LineClient::new(stack, leak(TcpBuffers::new()));
        (greeting, http, upper, client)
    });
    let mut net: Net<Services, Transcript> =
        Net::with_device(link, device, Transcript::default(), 8);

    // The peer: a web page, a plain TCP server that echoes two lines back, two clients.
    net.peer.serve_http(80, 1);
    net.peer.http[0].route("/", Response::fixed(b"hello from the peer\n"));
    let echo = Client::new(vec![
        Step::RecvExact(8),
        Step::Send(b"line one\nline two\n".to_vec()),
        Step::AwaitClose,
        Step::Close,
    ]);
    let echo = net.peer.listen(7000, echo, net.now);
    let upper = Client::new(vec![
        Step::Send(b"hello\nsmall world\n".to_vec()),
        Step::RecvExact(18),
        Step::Close,
        Step::AwaitClose,
    ]);
    let upper = net.connect(7, upper);
    let greet = net.connect(9999, Client::seed(&["Alice"]));

    // The platform reaches its services after start-up: start the GET, aim the client.
    let (_, services) = net.device.app.parts();
    services
        .1
        .get("http://10.0.0.1/", net.now)
        .expect("a valid URL");
    services
        .3
        .send_to(IpEndpoint::new(PEER_IP.into(), 7000), &["one", "two"]);
    net.run_clients(Duration::from_secs(10));
    let transcripts = [upper, echo, greet]
        .map(|c| net.peer.client(c).received.clone())
        .to_vec();
    (net.events, transcripts)
}

fn main() {
    let (transcript, peer) = run();
    for line in &transcript.lines {
        println!("device  {line}");
    }
    for received in &peer {
        println!(
            "peer    received {:?}",
            std::string::String::from_utf8_lossy(received)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_services_share_one_loop_byte_for_byte() {
        let (transcript, peer) = run();
        // What the peer's clients and server received.
        assert_eq!(peer[0], b"HELLO\nSMALL WORLD\n");
        assert_eq!(peer[1], b"one\ntwo\n");
        assert_eq!(peer[2], b"WelcomeHello, Alice!");
        // What the device's services reported, each through its own event type.
        let lines = &transcript.lines;
        let has = |text: &str| lines.iter().any(|l| l == text);
        assert!(
            has("line: Answered { slot: 0, line: \"HELLO\" }"),
            "{lines:#?}"
        );
        assert!(
            has("line: Answered { slot: 0, line: \"SMALL WORLD\" }"),
            "{lines:#?}"
        );
        assert!(has("line: Ended { slot: 0 }"), "{lines:#?}");
        assert!(has("line: Reply(\"line one\")"), "{lines:#?}");
        assert!(has("line: Reply(\"line two\")"), "{lines:#?}");
        assert!(has("http: 200, 20 bytes"), "{lines:#?}");
        assert!(lines
            .iter()
            .any(|l| l.starts_with("greeting: Accept new connection from 10.0.0.1:")));
        assert_eq!(transcript.body, b"hello from the peer\n");
    }
}
