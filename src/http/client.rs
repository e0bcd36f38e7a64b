//! The GET state machine over one TCP socket and one DNS socket.

use core::fmt;

use heapless::String;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::dns::{self, DnsQuery, GetQueryResultError, QueryHandle};
use smoltcp::socket::tcp::{self, State as TcpState};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint};

use super::body::BodyDecoder;
use super::error::{ConnectAttempt, ConnectError, DnsServers};
use super::family::{Family, Plan};
use super::head::{self, ResponseHead};
use super::transport::{End, NoTls, Ready, Secure, Transport};
use super::{BodySink, HttpError, SinkError, USER_AGENT};
use crate::service::{Handler, Service};
use crate::stack::{drop_unreachable, tcp_is_free, Stack, TcpBuffers};
use crate::text::{self, Render, TextOut};
use crate::url::{self, StoredUrl, Url};

/// smoltcp gives up on a DNS server after this long; a failure sooner is an answer.
const SMOLTCP_DNS_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits and timeouts of the GET client: start from [`HttpConfig::DEFAULT`] and change what
/// differs with the `with_*` methods (`const`, for constants), or assign the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpConfig {
    /// How long a DNS lookup may take.
    pub dns_timeout: Duration,
    /// How long connecting may take (and waiting for a DHCP address before it). A name with
    /// addresses of both families gets half of it for the first family, the rest for the
    /// other.
    pub connect_timeout: Duration,
    /// How long the server may stay silent while the response is due.
    pub idle_timeout: Duration,
    /// How many redirects are followed.
    pub max_redirects: u8,
    /// Longest URL (given or from a redirect) in bytes; at most the client's `URL` capacity.
    pub max_url: usize,
    /// Largest response head in bytes; at most the client's `HEAD` capacity.
    pub max_head: usize,
    /// Most headers in a response; at most the client's `HEADERS` capacity.
    pub max_headers: usize,
}

impl Default for HttpConfig {
    /// [`HttpConfig::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl HttpConfig {
    /// DNS 5 s, connect 10 s, idle 30 s, 5 redirects; URL, head and header limits as large
    /// as the client's buffers. `const`, for `..HttpConfig::DEFAULT` in constants.
    pub const DEFAULT: Self = Self {
        dns_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(30),
        max_redirects: 5,
        max_url: usize::MAX,
        max_head: usize::MAX,
        max_headers: usize::MAX,
    };

    /// The same with `dns_timeout` set (how long a lookup may take).
    pub const fn with_dns_timeout(mut self, dns_timeout: Duration) -> Self {
        self.dns_timeout = dns_timeout;
        self
    }

    /// The same with `connect_timeout` set (how long connecting may take).
    pub const fn with_connect_timeout(mut self, connect_timeout: Duration) -> Self {
        self.connect_timeout = connect_timeout;
        self
    }

    /// The same with `idle_timeout` set (how long the server may stay silent).
    pub const fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// The same with `max_redirects` set (redirects followed).
    pub const fn with_max_redirects(mut self, max_redirects: u8) -> Self {
        self.max_redirects = max_redirects;
        self
    }

    /// The same with `max_url` set (the longest URL).
    pub const fn with_max_url(mut self, max_url: usize) -> Self {
        self.max_url = max_url;
        self
    }

    /// The same with `max_head` set (the largest response head).
    pub const fn with_max_head(mut self, max_head: usize) -> Self {
        self.max_head = max_head;
        self
    }

    /// The same with `max_headers` set (the most headers in a response).
    pub const fn with_max_headers(mut self, max_headers: usize) -> Self {
        self.max_headers = max_headers;
        self
    }
}

/// The client's socket memory: TCP buffers (`RX` bytes is the window the body streams
/// through) and one DNS query slot.
pub struct HttpStorage<const RX: usize, const TX: usize> {
    tcp: TcpBuffers<RX, TX>,
    dns: [Option<DnsQuery>; 1],
}

impl<const RX: usize, const TX: usize> HttpStorage<RX, TX> {
    /// Empty storage; `const` so it can sit in a `static`.
    pub const fn new() -> Self {
        Self {
            tcp: TcpBuffers::new(),
            // Not `[const { None }; 1]`: a constant is copied whole from a board's flash,
            // an empty slot built here is only its tag.
            dns: [None],
        }
    }
}

impl<const RX: usize, const TX: usize> Default for HttpStorage<RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

/// What the GET client reports.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum HttpEvent<'a> {
    /// The host name resolved to this address (once per family tried).
    Resolved {
        /// The address that will be contacted.
        addr: IpAddress,
    },
    /// Connected; the request has been queued.
    Connected {
        /// The server's endpoint.
        remote: IpEndpoint,
    },
    /// A response head arrived (every response, redirects included; 1xx are skipped).
    Head(ResponseHead<'a>),
    /// Following a redirect to this URL.
    Redirect {
        /// The redirect's status.
        status: u16,
        /// The absolute URL being fetched next.
        to: &'a str,
    },
    /// The whole body arrived and went to the sink.
    Done {
        /// Final status code.
        status: u16,
        /// Body bytes delivered.
        body_len: u64,
    },
    /// The GET failed; nothing more comes for it.
    Failed(HttpError),
}

impl Render for HttpEvent<'_> {
    fn render(&self, out: &mut dyn TextOut) {
        match self {
            Self::Resolved { addr } => {
                out.put("resolved to ");
                out.ip(*addr);
            }
            Self::Connected { remote } => {
                out.put("connected to ");
                out.endpoint(*remote);
            }
            Self::Head(head) => head.render(out),
            Self::Redirect { status, to } => {
                out.put("redirect (");
                out.decimal(u64::from(*status));
                out.put(") to ");
                out.put(to);
            }
            Self::Done { status, body_len } => {
                out.put("done: status ");
                out.decimal(u64::from(*status));
                out.put(", ");
                out.decimal(*body_len);
                out.put(" bytes");
            }
            Self::Failed(error) => {
                out.put("GET failed: ");
                error.render(out);
            }
        }
    }
}

impl fmt::Display for HttpEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// Where the GET is.
#[derive(Clone, Copy)]
enum State {
    /// No GET running.
    Idle,
    /// The interface has no address yet (DHCP).
    WaitAddress { since: Instant },
    /// DNS query running, the `ask`th of the lookup (servers are asked in turn, round
    /// and round), since `asked`; the lookup began `since`.
    Resolving {
        query: QueryHandle,
        ask: u16,
        asked: Instant,
        since: Instant,
    },
    /// Waiting for the socket to be free (an aborted earlier connection) before connecting
    /// to `addr`; the attempt ends at `until`.
    Reconnect { addr: IpAddress, until: Instant },
    /// SYN sent to `addr` (or neighbour resolution for the next hop pending), until `until`.
    Connecting { addr: IpAddress, until: Instant },
    /// Request sent, reading the head.
    Head { heard: Instant },
    /// Streaming the body.
    Body {
        decoder: BodyDecoder,
        status: u16,
        heard: Instant,
    },
}

/// The outcome of one step of the machine.
enum Step {
    /// Go on in this state.
    Stay(bool),
    /// Move to this state and run again.
    Next(State),
    /// The GET ended.
    End(Result<(u16, u64), HttpError>),
}

/// The GET client; `HEAD` bytes for the response head, `URL` bytes for the URL, room for
/// `HEADERS` response headers (parsed on the stack, 32 bytes each on a 64-bit host).
/// [`HttpConfig`] may set lower limits at run time. `S` is the [`Secure`] layer that
/// `https://` URLs go through ([`NoTls`]: none; see [`with_secure`](Self::with_secure)).
///
/// A host name is looked up with AAAA first when the device has an IPv6 address beyond
/// link-local (static or from SLAAC), then A; without one, with A alone. A family whose
/// lookup finds no address is skipped. If connecting over the first family fails (refused,
/// no route, no neighbour reply, or no connection within half the connect timeout), the
/// other family is looked up and tried within the rest of the connect timeout; when both
/// fail the error is [`HttpError::ConnectFailed`], naming both attempts. Literal addresses
/// are tried over their own family with the whole connect timeout.
pub struct HttpClient<
    const HEAD: usize = 4096,
    const URL: usize = 256,
    const HEADERS: usize = 48,
    S: Secure = NoTls,
> {
    config: HttpConfig,
    tcp: SocketHandle,
    dns: SocketHandle,
    /// The DNS servers, asked one at a time (smoltcp's socket knows one at a time).
    dns_servers: DnsServers,
    /// Whether `dns_servers` were given to the client; if not, each lookup takes the
    /// stack's (a DHCP lease's).
    own_dns: bool,
    /// The families the current URL's host is tried over.
    plan: Plan,
    url: StoredUrl<URL>,
    head: [u8; HEAD],
    head_len: usize,
    /// Hashes of the URLs of this GET, to see redirect loops.
    visited: heapless::Vec<u32, 16>,
    state: State,
    cancelled: bool,
    /// The TLS layer for `https://`.
    secure: S,
    /// Whether the current connection runs through `secure`.
    tls: bool,
}

impl<const HEAD: usize, const URL: usize, const HEADERS: usize> HttpClient<HEAD, URL, HEADERS> {
    /// Adds the client's TCP and DNS sockets to `stack`; names resolve via `dns_servers`.
    pub fn new<'s, const RX: usize, const TX: usize>(
        config: HttpConfig,
        stack: &mut Stack<'s>,
        storage: &'s mut HttpStorage<RX, TX>,
        dns_servers: &[IpAddress],
    ) -> Self {
        let tcp = stack.add_tcp(&mut storage.tcp);
        let dns = stack
            .sockets
            .add(dns::Socket::new(&[], &mut storage.dns[..]));
        let mut client = Self {
            config,
            tcp,
            dns,
            dns_servers: DnsServers::new(),
            own_dns: false,
            plan: Plan::NONE,
            url: StoredUrl::new(),
            head: [0; HEAD],
            head_len: 0,
            visited: heapless::Vec::new(),
            state: State::Idle,
            cancelled: false,
            secure: NoTls,
            tls: false,
        };
        client.set_dns_servers(dns_servers);
        client
    }
}

impl<const HEAD: usize, const URL: usize, const HEADERS: usize, S: Secure>
    HttpClient<HEAD, URL, HEADERS, S>
{
    /// This client with `secure` as its TLS layer, so `https://` URLs can be fetched (when
    /// idle; a running GET is dropped).
    pub fn with_secure<S2: Secure>(self, secure: S2) -> HttpClient<HEAD, URL, HEADERS, S2> {
        HttpClient {
            config: self.config,
            tcp: self.tcp,
            dns: self.dns,
            dns_servers: self.dns_servers,
            own_dns: self.own_dns,
            url: self.url,
            head: self.head,
            head_len: self.head_len,
            visited: self.visited,
            plan: self.plan,
            state: State::Idle,
            cancelled: false,
            secure,
            tls: false,
        }
    }

    /// The TLS layer.
    pub fn secure(&self) -> &S {
        &self.secure
    }

    /// Replaces the DNS servers; up to [`DnsServers::MAX`], asked in this order. Takes
    /// effect at the next lookup. With none, the client asks the servers the network gave
    /// the stack ([`Stack::dns_servers`], from a DHCP lease).
    pub fn set_dns_servers(&mut self, servers: &[IpAddress]) {
        self.dns_servers = DnsServers::from(servers);
        self.own_dns = !servers.is_empty();
    }

    /// Whether any DNS server is known (the client's own, or the stack's as of the last
    /// lookup).
    pub fn has_dns_server(&self) -> bool {
        !self.dns_servers.as_slice().is_empty()
    }

    /// The URL limit in force: the configured one, at most the buffer.
    fn url_limit(&self) -> usize {
        self.config.max_url.min(URL)
    }

    /// The configuration in force.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// Whether a GET is running.
    pub fn is_busy(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// Starts a GET of `url`. Errors that need no network (bad URL, `https://`, busy) come
    /// back at once; everything after comes as [`HttpEvent`]s.
    pub fn get(&mut self, url: &str, now: Instant) -> Result<(), HttpError> {
        if self.is_busy() {
            return Err(HttpError::Busy);
        }
        let limit = self.url_limit();
        if url.len() > limit {
            return Err(HttpError::Url(url::UrlError::TooLong { limit }));
        }
        // Fits: the limit is at most the capacity. Idle, so a refused URL replaces nothing
        // that is in use.
        self.url.set(url)?;
        self.check_scheme(&self.url.url())?;
        self.visited.clear();
        let _ = self.visited.push(fnv1a(url.as_bytes()));
        self.state = State::WaitAddress { since: now };
        Ok(())
    }

    /// Moves the GET forward; reports events and body bytes through `report`.
    /// Returns true if anything changed.
    fn serve(&mut self, now: Instant, stack: &mut Stack<'_>, report: &mut dyn Report) -> bool {
        if core::mem::take(&mut self.cancelled) {
            self.end(stack, Err(HttpError::Cancelled), report);
            return true;
        }
        let mut changed = false;
        // Each transition is a state change; a handful covers any path through one poll.
        for _ in 0..8 {
            match self.step(now, stack, report) {
                Step::Stay(c) => return changed | c,
                Step::Next(state) => {
                    self.state = state;
                    changed = true;
                }
                Step::End(result) => {
                    self.end(stack, result, report);
                    return true;
                }
            }
        }
        changed
    }

    /// `https://` needs a TLS layer.
    fn check_scheme(&self, url: &Url<'_>) -> Result<(), HttpError> {
        if url.tls && !self.secure.available() {
            return Err(HttpError::Url(url::UrlError::TlsUnsupported));
        }
        Ok(())
    }

    /// The connection's byte stream (through the TLS layer for `https://`).
    fn transport<'a, 'b>(&'a mut self, stack: &'a mut Stack<'b>) -> Transport<'a, 'b> {
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        Transport::new(socket, layer(self.tls, &mut self.secure))
    }

    /// Abandons the running GET: the connection is reset and the next
    /// poll reports [`HttpError::Cancelled`]. Nothing happens when idle.
    pub fn cancel(&mut self, stack: &mut Stack<'_>) {
        if self.is_busy() {
            self.cancelled = true;
            stack.sockets.get_mut::<tcp::Socket>(self.tcp).abort();
        }
    }

    /// Whether the last connection has finished closing (its FIN or RST is out), so a
    /// platform about to power down or exit loses nothing in flight.
    pub fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        !self.is_busy() && tcp_is_free(stack.sockets.get::<tcp::Socket>(self.tcp))
    }

    /// When the client needs to run even without network input.
    pub fn poll_at(&self) -> Option<Instant> {
        let c = &self.config;
        match self.state {
            State::Idle | State::Reconnect { .. } => None,
            State::WaitAddress { since } => Some(since + c.connect_timeout),
            State::Connecting { until, .. } => Some(until),
            State::Resolving { asked, since, .. } => {
                Some((since + c.dns_timeout).min(asked + self.dns_slot()))
            }
            State::Head { heard } | State::Body { heard, .. } => Some(heard + c.idle_timeout),
        }
    }

    fn end(
        &mut self,
        stack: &mut Stack<'_>,
        result: Result<(u16, u64), HttpError>,
        report: &mut dyn Report,
    ) {
        stack.watch_neighbor(None);
        if core::mem::take(&mut self.tls) {
            self.secure.stop();
        }
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        match result {
            Ok((status, body_len)) => {
                // `Connection: close` was asked for; close our side politely.
                socket.close();
                report.emit(HttpEvent::Done { status, body_len });
            }
            Err(error @ HttpError::NoNeighborReply(_)) => {
                drop_unreachable(socket);
                report.emit(HttpEvent::Failed(error));
            }
            #[cfg(feature = "tls")]
            Err(error @ HttpError::Tls(_)) => {
                // A close, not a reset: the fatal alert the TLS engine queued (why the
                // server was refused) goes out first, as curl's does.
                socket.close();
                report.emit(HttpEvent::Failed(error));
            }
            Err(error) => {
                socket.abort();
                if let State::Resolving { query, .. } = self.state {
                    stack
                        .sockets
                        .get_mut::<dns::Socket>(self.dns)
                        .cancel_query(query);
                }
                report.emit(HttpEvent::Failed(error));
            }
        }
        self.state = State::Idle;
    }

    fn step(&mut self, now: Instant, stack: &mut Stack<'_>, report: &mut dyn Report) -> Step {
        let c = self.config;
        match self.state {
            State::Idle => Step::Stay(false),
            State::WaitAddress { since } => {
                if has_address(stack) {
                    self.lookup(now, stack)
                } else if now >= since + c.connect_timeout {
                    Step::End(Err(HttpError::NoAddress))
                } else {
                    Step::Stay(false)
                }
            }
            State::Resolving {
                query,
                ask,
                asked,
                since,
            } => {
                let socket = stack.sockets.get_mut::<dns::Socket>(self.dns);
                let silent = now >= asked + self.dns_slot();
                match socket.get_query_result(query) {
                    Ok(addrs) => {
                        let family = self.plan.family();
                        let addr = addrs.iter().copied().find(|a| Family::of(*a) == family);
                        // The slot is free again; the state must not cancel it.
                        self.state = State::Idle;
                        match addr {
                            Some(addr) => {
                                report.emit(HttpEvent::Resolved { addr });
                                Step::Next(self.attempt(addr, now))
                            }
                            None => self.not_found(since, now, stack),
                        }
                    }
                    Err(GetQueryResultError::Pending) if silent || now >= since + c.dns_timeout => {
                        socket.cancel_query(query);
                        self.state = State::Idle;
                        self.ask(ask.saturating_add(1), since, now, stack)
                    }
                    Err(GetQueryResultError::Pending) => Step::Stay(false),
                    Err(GetQueryResultError::Failed) => {
                        self.state = State::Idle;
                        if now >= asked + SMOLTCP_DNS_TIMEOUT {
                            // smoltcp gave up on this server: a silence, not an answer.
                            self.ask(ask.saturating_add(1), since, now, stack)
                        } else {
                            self.not_found(since, now, stack)
                        }
                    }
                }
            }
            State::Reconnect { addr, until } => self.connect(addr, until, now, stack),
            State::Connecting { addr, until } => {
                let mut transport = self.transport(stack);
                let moved = transport.pump();
                match transport.ready() {
                    Ready::Go => {}
                    // Refused (or reset) before the connection was usable: try the other
                    // family, if any.
                    Ready::Failed(HttpError::ConnectionRefused) => {
                        return self.attempt_failed(addr, ConnectError::Refused, now, stack)
                    }
                    Ready::Failed(error) => return Step::End(Err(error)),
                    Ready::Wait if now < until => return Step::Stay(moved),
                    Ready::Wait => {
                        let error = match stack.neighbor_unanswered() {
                            Some(next_hop) => ConnectError::NoNeighborReply(next_hop),
                            None => ConnectError::Timeout,
                        };
                        return self.attempt_failed(addr, error, now, stack);
                    }
                }
                let remote = stack.sockets.get::<tcp::Socket>(self.tcp).remote_endpoint();
                stack.watch_neighbor(None);
                match self.send_request(stack) {
                    Ok(()) => {
                        if let Some(remote) = remote {
                            report.emit(HttpEvent::Connected { remote });
                        }
                        self.head_len = 0;
                        Step::Next(State::Head { heard: now })
                    }
                    Err(error) => Step::End(Err(error)),
                }
            }
            State::Head { heard } => self.read_head(heard, now, stack, report),
            State::Body {
                mut decoder,
                status,
                heard,
            } => {
                let mut transport = self.transport(stack);
                let mut failed = None;
                let mut got = transport.pump();
                if !decoder.is_done() {
                    got |= transport.recv(&mut |data| {
                        if failed.is_some() || decoder.is_done() {
                            return 0;
                        }
                        match decoder.feed(data, &mut |data| report.sink(data)) {
                            Ok(used) => used,
                            Err(error) => {
                                failed = Some(error);
                                0
                            }
                        }
                    }) > 0;
                }
                if let Some(error) = failed {
                    return Step::End(Err(error));
                }
                let heard = if got { now } else { heard };
                if decoder.is_done() {
                    return Step::End(Ok((status, decoder.delivered())));
                }
                match transport.end() {
                    End::Failed(error) => return Step::End(Err(error)),
                    End::Closed => {
                        return Step::End(decoder.finish().map(|()| (status, decoder.delivered())))
                    }
                    End::Open => {}
                }
                if now >= heard + c.idle_timeout {
                    return Step::End(Err(HttpError::IdleTimeout));
                }
                self.state = State::Body {
                    decoder,
                    status,
                    heard,
                };
                Step::Stay(got)
            }
        }
    }

    /// Resolves the current URL's host, or skips DNS for a literal address.
    fn lookup(&mut self, now: Instant, stack: &mut Stack<'_>) -> Step {
        if let Some(addr) = self.url.url().ip() {
            self.plan = Plan::for_literal(addr);
            return Step::Next(self.attempt(addr, now));
        }
        if !self.own_dns {
            self.dns_servers = DnsServers::from(stack.dns_servers());
        }
        if !self.has_dns_server() {
            return Step::End(Err(HttpError::NoDnsServer));
        }
        self.plan = Plan::for_name(stack);
        self.ask(0, now, now, stack)
    }

    /// The lookup that began `since` found no address of the family asked: ask for the
    /// other family if there is one to try; else the name is not found (or, if the first
    /// family's connection failed, that failure is the outcome).
    fn not_found(&mut self, since: Instant, now: Instant, stack: &mut Stack<'_>) -> Step {
        match self.plan.not_found() {
            Ok(()) => self.ask(0, since, now, stack),
            Err(error) => Step::End(Err(error)),
        }
    }

    /// Starts an attempt to connect to `addr`, within the plan's share of the connect
    /// timeout.
    fn attempt(&mut self, addr: IpAddress, now: Instant) -> State {
        let until = self.plan.attempt_until(now, self.config.connect_timeout);
        State::Reconnect { addr, until }
    }

    /// An attempt to connect to `addr` failed: the socket is freed and the other family is
    /// tried if there is one; else the GET fails, naming both attempts if there were two.
    fn attempt_failed(
        &mut self,
        addr: IpAddress,
        error: ConnectError,
        now: Instant,
        stack: &mut Stack<'_>,
    ) -> Step {
        stack.watch_neighbor(None);
        let attempt = ConnectAttempt { addr, error };
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        match error {
            ConnectError::NoNeighborReply(_) => drop_unreachable(socket),
            ConnectError::Refused | ConnectError::Timeout => socket.abort(),
            ConnectError::NoAddress | ConnectError::NoRoute | ConnectError::OwnAddress => {}
        }
        match self.plan.attempt_failed(attempt) {
            Ok(()) => self.ask(0, now, now, stack),
            Err(error) => Step::End(Err(error)),
        }
    }

    /// How long one DNS server is given before the next is asked: an equal share of the DNS
    /// budget, and less than smoltcp's own per-server timeout.
    fn dns_slot(&self) -> Duration {
        let servers = self.dns_servers.as_slice().len().max(1) as u32;
        (self.config.dns_timeout / servers).min(SMOLTCP_DNS_TIMEOUT)
    }

    /// Makes the `ask`th query of the lookup that began `since` (to the servers in turn), for
    /// the current URL's host; once the DNS budget is spent, the lookup timed out.
    fn ask(&mut self, ask: u16, since: Instant, now: Instant, stack: &mut Stack<'_>) -> Step {
        let servers = self.dns_servers.as_slice();
        if now >= since + self.config.dns_timeout || servers.is_empty() {
            if let Some(error) = self.plan.first_failure() {
                // The fallback's lookup went unanswered: the first attempt's failure stands.
                return Step::End(Err(error));
            }
            let tried = DnsServers::from(&servers[..usize::from(ask).min(servers.len())]);
            return Step::End(Err(HttpError::DnsTimeout { tried }));
        }
        let address = servers[usize::from(ask) % servers.len()];
        let host = self.url.url().host;
        let socket = stack.sockets.get_mut::<dns::Socket>(self.dns);
        socket.update_servers(&[address]);
        match socket.start_query(stack.iface.context(), host, self.plan.family().query()) {
            Ok(query) => Step::Next(State::Resolving {
                query,
                ask,
                asked: now,
                since,
            }),
            Err(_) => Step::End(Err(HttpError::Url(url::UrlError::Malformed))),
        }
    }

    /// Connects to `addr` once the socket is free; the attempt ends at `until`.
    fn connect(
        &mut self,
        addr: IpAddress,
        until: Instant,
        now: Instant,
        stack: &mut Stack<'_>,
    ) -> Step {
        let Url { port, tls, .. } = self.url.url();
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        if !tcp_is_free(socket) {
            // An earlier connection still holds the socket: cut it (RST) and wait.
            if socket.state() != TcpState::Closed {
                socket.abort();
            }
            return if now >= until {
                self.attempt_failed(addr, ConnectError::Timeout, now, stack)
            } else {
                Step::Stay(false)
            };
        }
        if stack.is_own(addr) {
            return self.attempt_failed(addr, ConnectError::OwnAddress, now, stack);
        }
        let Some(next_hop) = stack.next_hop(addr) else {
            return self.attempt_failed(addr, ConnectError::NoRoute, now, stack);
        };
        stack.watch_neighbor(Some(next_hop));
        let remote = IpEndpoint::new(addr, port);
        let local_port = stack.ephemeral_port();
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        match socket.connect(stack.iface.context(), remote, local_port) {
            Ok(()) => {
                if core::mem::take(&mut self.tls) {
                    // A handshake over the other family's attempt is over.
                    self.secure.stop();
                }
                if tls {
                    // The handshake is queued now and flows once the socket connects.
                    self.secure.start(self.url.url().host);
                    self.tls = true;
                }
                Step::Next(State::Connecting { addr, until })
            }
            Err(_) => self.attempt_failed(addr, ConnectError::NoAddress, now, stack),
        }
    }

    /// Queues the whole request, or fails if the transmit buffer cannot hold it.
    fn send_request(&mut self, stack: &mut Stack<'_>) -> Result<(), HttpError> {
        let url = self.url.url();
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        let mut transport = Transport::new(socket, layer(self.tls, &mut self.secure));
        let mut counter = Counter(0);
        write_request(&mut counter, &url);
        if counter.0 > transport.send_space() {
            return Err(HttpError::RequestTooLarge);
        }
        let mut writer = TransportWriter {
            transport: &mut transport,
            complete: true,
        };
        write_request(&mut writer, &url);
        let complete = writer.complete;
        transport.pump();
        if complete {
            Ok(())
        } else {
            Err(HttpError::RequestTooLarge)
        }
    }

    fn read_head(
        &mut self,
        heard: Instant,
        now: Instant,
        stack: &mut Stack<'_>,
        report: &mut dyn Report,
    ) -> Step {
        let head_limit = self.config.max_head.min(HEAD);
        let header_limit = self.config.max_headers.min(HEADERS);
        let (head, mut head_len) = (&mut self.head, self.head_len);
        let socket = stack.sockets.get_mut::<tcp::Socket>(self.tcp);
        let mut transport = Transport::new(socket, layer(self.tls, &mut self.secure));
        let moved = transport.pump();
        let got = transport.recv(&mut |data| {
            let room = &mut head[head_len..head_limit];
            let n = room.len().min(data.len());
            room[..n].copy_from_slice(&data[..n]);
            head_len += n;
            n
        });
        self.head_len = head_len;
        let heard = if got > 0 { now } else { heard };
        loop {
            // Each head in turn (an interim 1xx head may come first).
            head::unfold(&mut self.head[..self.head_len]);
            let mut headers = [httparse::EMPTY_HEADER; HEADERS];
            let headers = &mut headers[..header_limit];
            let parsed = match head::parse(&self.head[..self.head_len], headers) {
                Ok(parsed) => parsed,
                Err(error) => return Step::End(Err(error)),
            };
            let Some((head, len)) = parsed else {
                break;
            };
            if (100..200).contains(&head.status) {
                // Interim response (100 Continue, 103 Early Hints): skip it.
                self.head.copy_within(len..self.head_len, 0);
                self.head_len -= len;
                continue;
            }
            report.emit(HttpEvent::Head(head));
            let status = head.status;
            if head.is_redirect() {
                let Some(location) = head.header("location") else {
                    return Step::End(Err(HttpError::MissingLocation));
                };
                let mut next = String::<URL>::new();
                let limit = self.url_limit();
                let resolved = core::str::from_utf8(location)
                    .map_err(|_| HttpError::Url(url::UrlError::Malformed))
                    .and_then(|location| {
                        match url::resolve(&self.url.url(), location, &mut next) {
                            Err(url::UrlError::TooLong { .. }) => {
                                Err(HttpError::LocationTooLong { limit })
                            }
                            Err(error) => Err(error.into()),
                            Ok(()) if next.len() > limit => {
                                Err(HttpError::LocationTooLong { limit })
                            }
                            Ok(()) => Ok(()),
                        }
                    });
                let resolved = resolved.and_then(|()| {
                    self.url.set(&next)?;
                    // An https:// Location without TLS fails here, after its head was shown.
                    self.check_scheme(&self.url.url())
                });
                return match resolved {
                    Ok(()) => self.redirect(status, next, now, stack, report),
                    Err(error) => Step::End(Err(error)),
                };
            }
            let framing = match head.framing() {
                Ok(framing) => framing,
                Err(error) => return Step::End(Err(error)),
            };
            let mut decoder = BodyDecoder::new(framing);
            // Body bytes that came in with the head.
            if let Err(error) = decoder.feed(&self.head[len..self.head_len], &mut |data| {
                report.sink(data)
            }) {
                return Step::End(Err(error));
            }
            return Step::Next(State::Body {
                decoder,
                status,
                heard,
            });
        }
        if self.head_len == head_limit {
            return Step::End(Err(HttpError::HeadTooLarge { limit: head_limit }));
        }
        match self.transport(stack).end() {
            End::Failed(error) => return Step::End(Err(error)),
            End::Closed => return Step::End(Err(HttpError::NoResponse)),
            End::Open => {}
        }
        if now >= heard + self.config.idle_timeout {
            return Step::End(Err(HttpError::IdleTimeout));
        }
        self.state = State::Head { heard };
        Step::Stay(got > 0 || moved)
    }

    fn redirect(
        &mut self,
        status: u16,
        next: String<URL>,
        now: Instant,
        stack: &mut Stack<'_>,
        report: &mut dyn Report,
    ) -> Step {
        let hash = fnv1a(next.as_bytes());
        if self.visited.contains(&hash) {
            return Step::End(Err(HttpError::RedirectLoop));
        }
        if self.visited.len() > usize::from(self.config.max_redirects) || self.visited.is_full() {
            return Step::End(Err(HttpError::TooManyRedirects));
        }
        let _ = self.visited.push(hash);
        report.emit(HttpEvent::Redirect { status, to: &next });
        // The rest of this response is not needed: cut the connection.
        if core::mem::take(&mut self.tls) {
            self.secure.stop();
        }
        stack.sockets.get_mut::<tcp::Socket>(self.tcp).abort();
        Step::Next(State::WaitAddress { since: now })
    }
}

/// The TLS layer the connection runs, if it runs one.
fn layer<S: Secure>(tls: bool, secure: &mut S) -> Option<&mut dyn Secure> {
    if tls {
        Some(secure)
    } else {
        None
    }
}

/// Whether the stack has an address to connect from: IPv4, or IPv6 beyond link-local.
fn has_address(stack: &Stack<'_>) -> bool {
    #[cfg(feature = "ipv6")]
    if stack.global_ipv6().is_some() {
        return true;
    }
    stack.ipv4().is_some()
}

/// The request, written piece by piece (no `core::fmt`: a board links none).
fn write_request(out: &mut dyn TextOut, url: &Url<'_>) {
    out.put("GET ");
    url.target().render(out);
    out.put(" HTTP/1.1\r\nHost: ");
    out.put(url.host);
    if !url.has_default_port() {
        out.put(":");
        out.decimal(u64::from(url.port));
    }
    out.put("\r\nUser-Agent: ");
    out.put(USER_AGENT);
    out.put("\r\nAccept: */*\r\nConnection: close\r\n\r\n");
}

/// Counts what would be written.
struct Counter(usize);

impl TextOut for Counter {
    fn put(&mut self, text: &str) {
        self.0 += text.len();
    }
}

/// Writes into a transport whose free space was checked first.
struct TransportWriter<'t, 'a, 'b> {
    transport: &'t mut Transport<'a, 'b>,
    /// Whether every piece went in whole.
    complete: bool,
}

impl TextOut for TransportWriter<'_, '_, '_> {
    fn put(&mut self, text: &str) {
        if self.complete {
            self.complete = self.transport.send(text.as_bytes()) == text.len();
        }
    }
}

/// FNV-1a: a tiny fixed hash to remember visited URLs without storing them.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Where the client's events and body go: the platform's handler, behind one trait object
/// (one vtable, no closures sharing it).
trait Report {
    fn emit(&mut self, event: HttpEvent<'_>);
    fn sink(&mut self, chunk: &[u8]) -> Result<(), HttpError>;
}

struct Reporter<'h, H: ?Sized>(&'h mut H);

impl<H: for<'e> Handler<HttpEvent<'e>> + BodySink + ?Sized> Report for Reporter<'_, H> {
    fn emit(&mut self, event: HttpEvent<'_>) {
        self.0.event(event);
    }

    fn sink(&mut self, chunk: &[u8]) -> Result<(), HttpError> {
        self.0.body(chunk).map_err(|SinkError| HttpError::Sink)
    }
}

impl<H, const HEAD: usize, const URL: usize, const HEADERS: usize, S> Service<H>
    for HttpClient<HEAD, URL, HEADERS, S>
where
    H: for<'e> Handler<HttpEvent<'e>> + BodySink + ?Sized,
    S: Secure,
{
    fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
        self.serve(now, stack, &mut Reporter(handler))
    }

    fn poll_at(&self, _now: Instant) -> Option<Instant> {
        HttpClient::poll_at(self)
    }

    fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        HttpClient::is_quiet(self, stack)
    }
}

#[cfg(test)]
mod tests {
    use smoltcp::iface::SocketStorage;

    use super::*;
    use crate::link::Link;
    use crate::StackConfig;

    /// Collects a request as text.
    struct Collect(heapless::String<512>);

    impl TextOut for Collect {
        fn put(&mut self, text: &str) {
            self.0.push_str(text).expect("the request fits");
        }
    }

    fn request(url: &str) -> heapless::String<512> {
        let mut out = Collect(heapless::String::new());
        write_request(&mut out, &Url::parse(url).expect("a valid URL"));
        let mut count = Counter(0);
        write_request(&mut count, &Url::parse(url).expect("a valid URL"));
        assert_eq!(
            count.0,
            out.0.len(),
            "the counted length is what is written"
        );
        out.0
    }

    #[test]
    fn the_request_is_the_seeds_with_host_port_only_when_not_default() {
        let ua = USER_AGENT;
        assert_eq!(
            request("http://www.example.test/a/b?q=1"),
            *format_args_str(&[
                "GET /a/b?q=1 HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: ",
                ua,
                "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
            ])
        );
        assert!(request("http://10.0.0.1:8080")
            .starts_with("GET / HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n"));
    }

    fn format_args_str(parts: &[&str]) -> heapless::String<512> {
        let mut s = heapless::String::new();
        for part in parts {
            s.push_str(part).expect("fits");
        }
        s
    }

    #[test]
    fn errors_that_need_no_network_come_back_from_get_at_once() {
        let link: Link<2, 4> = Link::new();
        let mut port = link.port(0);
        let mut slots = [SocketStorage::EMPTY; 2];
        let config = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
        let mut stack = Stack::new(&config, &mut port, &mut slots[..], Instant::ZERO);
        let mut storage = HttpStorage::<512, 512>::new();
        let mut client: HttpClient<512, 32> =
            HttpClient::new(HttpConfig::DEFAULT, &mut stack, &mut storage, &[]);
        let now = Instant::ZERO;
        assert_eq!(
            client.get("http://a.test/a-path-longer-than-thirty-two-bytes", now),
            Err(HttpError::Url(url::UrlError::TooLong { limit: 32 }))
        );
        assert_eq!(
            client.get("https://a.test/", now),
            Err(HttpError::Url(url::UrlError::TlsUnsupported))
        );
        assert!(matches!(
            client.get("ftp://a.test/", now),
            Err(HttpError::Url(_))
        ));
        assert!(!client.is_busy());
        assert_eq!(client.get("http://a.test/", now), Ok(()));
        assert_eq!(client.get("http://a.test/", now), Err(HttpError::Busy));
        // No DNS server of its own and none from the network: a typed error, not a hang.
        assert!(!client.has_dns_server());
        struct Outcome(Option<HttpError>);
        impl crate::Handler<HttpEvent<'_>> for Outcome {
            fn event(&mut self, event: HttpEvent<'_>) {
                if let HttpEvent::Failed(error) = event {
                    self.0 = Some(error);
                }
            }
        }
        impl BodySink for Outcome {
            fn body(&mut self, _: &[u8]) -> Result<(), SinkError> {
                Err(SinkError)
            }
        }
        let mut app = crate::App::new(stack, client);
        let mut outcome = Outcome(None);
        app.poll(now, &mut port, &mut outcome);
        assert_eq!(outcome.0, Some(HttpError::NoDnsServer));
        // A DHCP lease's server, set on the stack, is used by the next lookup.
        app.stack_mut()
            .set_dns_servers(&[IpAddress::v4(10, 0, 0, 1)]);
        assert_eq!(app.services_mut().get("http://a.test/", now), Ok(()));
        app.poll(now, &mut port, &mut outcome);
        assert!(app.services().has_dns_server());
    }
}
