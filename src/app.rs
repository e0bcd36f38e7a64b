//! The one poll loop: the interface and every application, driven by the platform's clock.
//!
//! A platform calls [`App::poll`] whenever a frame may have arrived or the returned deadline
//! has passed, and may sleep in between (`poll(2)` on a TAP descriptor, `wfi` on a board).
//!
//! ```
//! use smoltcp::iface::SocketStorage;
//! use smoltcp::time::Instant;
//! use tcplink::app::{App, Event};
//! use tcplink::greeting::{GreetingConfig, GreetingServer};
//! use tcplink::link::Link;
//! use tcplink::stack::{Stack, StackConfig, TcpBuffers};
//!
//! let link: Link<2, 16> = Link::new();
//! let mut device = link.port(0);
//! let mut storage = [SocketStorage::EMPTY; 2];
//! let mut buffers = [const { TcpBuffers::<1024, 1100>::new() }; 2];
//! let now = Instant::ZERO;
//! let config = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
//! let mut stack = Stack::new(&config, &mut device, &mut storage, now);
//! let greeting =
//!     GreetingServer::<2>::new(GreetingConfig::default(), &mut stack, &mut buffers);
//! let mut app = App::new(stack).with_greeting(greeting);
//! let next = app.poll(now, &mut device, &mut |event: Event| {
//!     let _ = event; // print it, log it, count it
//! });
//! assert_eq!(next, None); // nothing to do until a frame arrives
//! ```

use core::fmt;

use smoltcp::iface::SocketSet;
use smoltcp::phy::Device;
use smoltcp::time::Instant;
use smoltcp::wire::IpAddress;

#[cfg(feature = "dhcp")]
pub use crate::dhcp::DhcpEvent;
#[cfg(feature = "dhcp")]
use crate::dhcp::{self, Dhcp};
use crate::greeting::{GreetingEvent, GreetingServer};
#[cfg(feature = "http")]
use crate::http::{HttpClient, HttpError, HttpEvent};
use crate::parking::Parking;
use crate::stack::Stack;
use crate::text::{self, Render, TextOut};

/// Something an application reports to the platform.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// From the greeting server.
    Greeting(GreetingEvent),
    /// From the GET client.
    #[cfg(feature = "http")]
    Http(HttpEvent<'a>),
    /// From DHCP.
    #[cfg(feature = "dhcp")]
    Dhcp(DhcpEvent),
    /// Keeps the lifetime when no event borrows (builds without `http`).
    #[doc(hidden)]
    #[cfg(not(feature = "http"))]
    _Borrow(core::convert::Infallible, core::marker::PhantomData<&'a ()>),
}

impl Render for Event<'_> {
    fn render(&self, out: &mut dyn TextOut) {
        match self {
            Self::Greeting(event) => event.render(out),
            #[cfg(feature = "http")]
            Self::Http(event) => event.render(out),
            #[cfg(feature = "dhcp")]
            Self::Dhcp(event) => event.render(out),
            #[cfg(not(feature = "http"))]
            Self::_Borrow(never, _) => match *never {},
        }
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// The body sink refused data; the GET fails with [`HttpError::Sink`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkError;

/// Where the platform receives what the applications report.
pub trait Handler {
    /// Something happened.
    fn event(&mut self, event: Event<'_>);

    /// The next bytes of the current GET's body, in order. The default refuses them, so a
    /// handler that forgot to store bodies fails the GET instead of losing data.
    fn body(&mut self, chunk: &[u8]) -> Result<(), SinkError> {
        let _ = chunk;
        Err(SinkError)
    }
}

impl<F: FnMut(Event<'_>)> Handler for F {
    fn event(&mut self, event: Event<'_>) {
        self(event)
    }
}

/// An application the poll loop runs: the greeting server, the GET client, or `()` for none.
///
/// Applications are composed by type, not chosen at run time, so a board that only serves
/// greetings links no HTTP code and reserves no HTTP buffers. `Option<S>` is an application
/// too, for platforms that decide at start-up.
pub trait Service {
    /// Does what is ready at `now`; returns true if anything changed (so the interface is
    /// polled again to send what was queued).
    fn service(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut dyn Handler) -> bool;

    /// When it next needs to run even without network input.
    fn poll_at(&self, now: Instant) -> Option<Instant>;

    /// DHCP learned these DNS servers.
    fn dns_servers(&mut self, stack: &mut Stack<'_>, servers: &[IpAddress]) {
        let _ = (stack, servers);
    }

    /// A received frame just changed some socket; take back sockets that are free again.
    /// Runs between frames, so it must be cheap. Returning true asks for what is queued to be
    /// sent and for this to run again (see [`Stack::poll_with`]).
    fn sockets_changed<'s>(
        &mut self,
        sockets: &mut SocketSet<'s>,
        parking: &mut Parking<'s>,
    ) -> bool {
        let _ = (sockets, parking);
        false
    }

    /// Whether nothing is in flight: no connection is still closing, so a platform may stop
    /// without cutting one off.
    fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        let _ = stack;
        true
    }
}

/// No application.
impl Service for () {
    fn service(&mut self, _: Instant, _: &mut Stack<'_>, _: &mut dyn Handler) -> bool {
        false
    }

    fn poll_at(&self, _: Instant) -> Option<Instant> {
        None
    }
}

/// An application present or not, decided at start-up.
impl<S: Service> Service for Option<S> {
    fn service(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut dyn Handler) -> bool {
        self.as_mut()
            .is_some_and(|s| s.service(now, stack, handler))
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.as_ref().and_then(|s| s.poll_at(now))
    }

    fn dns_servers(&mut self, stack: &mut Stack<'_>, servers: &[IpAddress]) {
        if let Some(s) = self {
            s.dns_servers(stack, servers);
        }
    }

    fn sockets_changed<'s>(
        &mut self,
        sockets: &mut SocketSet<'s>,
        parking: &mut Parking<'s>,
    ) -> bool {
        self.as_mut()
            .is_some_and(|s| s.sockets_changed(sockets, parking))
    }

    fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        self.as_ref().is_none_or(|s| s.is_quiet(stack))
    }
}

impl<const N: usize, const MSG: usize> Service for GreetingServer<N, MSG> {
    fn service(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut dyn Handler) -> bool {
        GreetingServer::service(self, now, stack, &mut |event| {
            handler.event(Event::Greeting(event))
        })
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        GreetingServer::poll_at(self, now)
    }

    fn sockets_changed<'s>(
        &mut self,
        sockets: &mut SocketSet<'s>,
        parking: &mut Parking<'s>,
    ) -> bool {
        self.relisten(sockets, parking)
    }

    fn is_quiet(&self, _stack: &Stack<'_>) -> bool {
        self.closing() == 0
    }
}

#[cfg(feature = "http")]
impl<const HEAD: usize, const URL: usize, const HEADERS: usize, S: crate::http::Secure> Service
    for HttpClient<HEAD, URL, HEADERS, S>
{
    fn service(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut dyn Handler) -> bool {
        // Both closures need the handler; they never run at the same time.
        let handler = core::cell::RefCell::new(handler);
        HttpClient::service(
            self,
            now,
            stack,
            &mut |event| handler.borrow_mut().event(Event::Http(event)),
            &mut |chunk| {
                handler
                    .borrow_mut()
                    .body(chunk)
                    .map_err(|SinkError| HttpError::Sink)
            },
        )
    }

    fn poll_at(&self, _now: Instant) -> Option<Instant> {
        HttpClient::poll_at(self)
    }

    fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        HttpClient::is_quiet(self, stack)
    }

    fn dns_servers(&mut self, stack: &mut Stack<'_>, servers: &[IpAddress]) {
        // Servers given by configuration win over DHCP's.
        if !self.has_dns_server() {
            self.set_dns_servers(stack, servers);
        }
    }
}

/// Upper bound on interface/application rounds in one [`App::poll`], so one call is bounded
/// work even under a flood; leftover work is reported as an immediate deadline.
const MAX_ROUNDS: usize = 8;

/// The stack and its applications: a greeting server `G` and a GET client `H`, each a
/// [`Service`] (`()` when absent).
pub struct App<'s, G = (), H = ()> {
    stack: Stack<'s>,
    greeting: G,
    http: H,
    #[cfg(feature = "dhcp")]
    dhcp: Option<Dhcp>,
}

impl<'s> App<'s> {
    /// An app with no applications yet.
    pub fn new(stack: Stack<'s>) -> Self {
        Self {
            stack,
            greeting: (),
            http: (),
            #[cfg(feature = "dhcp")]
            dhcp: None,
        }
    }
}

impl<'s, G: Service, H: Service> App<'s, G, H> {
    /// Runs `server` (a [`GreetingServer`], or an `Option` of one) in this app.
    pub fn with_greeting<G2: Service>(self, server: G2) -> App<'s, G2, H> {
        App {
            stack: self.stack,
            greeting: server,
            http: self.http,
            #[cfg(feature = "dhcp")]
            dhcp: self.dhcp,
        }
    }

    /// Runs `client` (an [`HttpClient`], or an `Option` of one) in this app; start requests
    /// with `get`.
    pub fn with_http<H2: Service>(self, client: H2) -> App<'s, G, H2> {
        App {
            stack: self.stack,
            greeting: self.greeting,
            http: client,
            #[cfg(feature = "dhcp")]
            dhcp: self.dhcp,
        }
    }

    /// Learns address, gateway and DNS servers by DHCP (the stack needs a free socket slot).
    #[cfg(feature = "dhcp")]
    pub fn with_dhcp(mut self) -> Self {
        self.dhcp = Some(Dhcp::new(&mut self.stack));
        self
    }

    /// The network stack, e.g. to read its address.
    pub fn stack(&mut self) -> &mut Stack<'s> {
        &mut self.stack
    }

    /// The greeting server.
    pub fn greeting(&self) -> &G {
        &self.greeting
    }

    /// The GET client.
    pub fn http(&self) -> &H {
        &self.http
    }

    /// Whether no connection is still closing, so the platform may stop without cutting one
    /// off (e.g. after a GET, until its FIN or RST is out).
    pub fn is_quiet(&self) -> bool {
        self.greeting.is_quiet(&self.stack) && self.http.is_quiet(&self.stack)
    }

    /// Does all work that is ready at `now`: frames in and out, accepts, replies, GET
    /// progress, timers.
    ///
    /// Returns when to call again even if no frame arrives (`None`: only on a frame). The
    /// deadline may already be `now` when a round limit left work over.
    pub fn poll<D: Device + ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        handler: &mut impl Handler,
    ) -> Option<Instant> {
        // Frames in (up to the budget, and at most one read that finds nothing: that is a
        // wasted system call on a TAP).
        let (greeting, http) = (&mut self.greeting, &mut self.http);
        let polled = self.stack.ingress_with(now, device, |sockets, parking| {
            greeting.sockets_changed(sockets, parking) | http.sockets_changed(sockets, parking)
        });
        // Then the applications, and what they and the frames queued out, until they are
        // done. Sending once after the applications rather than also before them saves a
        // walk over every socket per call (smoltcp's egress looks at each one). Frames that
        // arrive meanwhile wait for the next call, which the platform makes at once: its
        // wait returns as soon as a frame is there.
        let mut more = false;
        for round in 0..MAX_ROUNDS {
            more = self.service_dhcp(handler);
            more |= self.greeting.service(now, &mut self.stack, handler);
            more |= self.http.service(now, &mut self.stack, handler);
            if round > 0 && !more {
                break;
            }
            self.stack.egress_once(now, device);
            if !more {
                break;
            }
        }
        self.stack.repeat_requests(now, device);
        // One egress pass sends one segment per socket; a socket with more to send now says
        // so through the deadline, which is needed anyway (so no pass is spent finding that
        // nothing is left).
        let mut next = self.stack.poll_at(now);
        for _ in 0..MAX_ROUNDS {
            if next.is_none_or(|at| at > now) || !self.stack.egress_once(now, device) {
                break;
            }
            next = self.stack.poll_at(now);
        }
        next = earliest(next, self.greeting.poll_at(now));
        next = earliest(next, self.http.poll_at(now));
        if more || polled.more {
            next = Some(now);
        }
        next
    }

    /// Applies DHCP's news to the stack and the applications; true if anything changed.
    #[cfg(feature = "dhcp")]
    fn service_dhcp(&mut self, handler: &mut impl Handler) -> bool {
        let Some(dhcp) = &mut self.dhcp else {
            return false;
        };
        let event = match dhcp.poll(&mut self.stack) {
            dhcp::Polled::Idle => return false,
            dhcp::Polled::Quiet => return true,
            dhcp::Polled::News(event) => event,
        };
        if let DhcpEvent::Configured { dns: Some(dns), .. } = event {
            let dns = [IpAddress::Ipv4(dns)];
            self.greeting.dns_servers(&mut self.stack, &dns);
            self.http.dns_servers(&mut self.stack, &dns);
        }
        handler.event(Event::Dhcp(event));
        true
    }

    /// Without the `dhcp` feature there is no DHCP client.
    #[cfg(not(feature = "dhcp"))]
    fn service_dhcp(&mut self, _handler: &mut impl Handler) -> bool {
        false
    }
}

#[cfg(feature = "http")]
impl<G: Service, const HEAD: usize, const URL: usize, const HEADERS: usize, S>
    App<'_, G, HttpClient<HEAD, URL, HEADERS, S>>
where
    S: crate::http::Secure,
{
    /// Starts a GET of `url`. The outcome comes as events, the body through
    /// [`Handler::body`].
    pub fn get(&mut self, url: &str, now: Instant) -> Result<(), HttpError> {
        self.http.get(url, now)
    }

    /// Abandons the running GET, if any (reported as [`HttpError::Cancelled`]).
    pub fn cancel_get(&mut self) {
        self.http.cancel(&mut self.stack);
    }
}

#[cfg(feature = "http")]
impl<G: Service, const HEAD: usize, const URL: usize, const HEADERS: usize, S>
    App<'_, G, Option<HttpClient<HEAD, URL, HEADERS, S>>>
where
    S: crate::http::Secure,
{
    /// Starts a GET of `url`; [`HttpError::NoClient`] if the app was built without one.
    pub fn get(&mut self, url: &str, now: Instant) -> Result<(), HttpError> {
        match &mut self.http {
            Some(client) => client.get(url, now),
            None => Err(HttpError::NoClient),
        }
    }

    /// Abandons the running GET, if any (reported as [`HttpError::Cancelled`]).
    pub fn cancel_get(&mut self) {
        if let Some(client) = &mut self.http {
            client.cancel(&mut self.stack);
        }
    }
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
