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
//! let mut app: App<2> = App::new(stack).with_greeting(greeting);
//! let next = app.poll(now, &mut device, &mut |event: Event| {
//!     let _ = event; // print it, log it, count it
//! });
//! assert_eq!(next, None); // nothing to do until a frame arrives
//! ```

use core::fmt;

use smoltcp::iface::SocketHandle;
use smoltcp::phy::Device;
use smoltcp::socket::dhcpv4;
use smoltcp::time::Instant;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

use crate::greeting::{GreetingEvent, GreetingServer};
use crate::http::{HttpClient, HttpError, HttpEvent};
use crate::stack::Stack;

/// What DHCP did to the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DhcpEvent {
    /// A lease was obtained (or renewed with changes).
    Configured {
        /// Address and prefix.
        address: Ipv4Cidr,
        /// Default gateway, if offered.
        router: Option<Ipv4Address>,
        /// First DNS server, if offered.
        dns: Option<Ipv4Address>,
    },
    /// The lease was lost; the interface has no address.
    Deconfigured,
}

impl fmt::Display for DhcpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Configured {
                address,
                router,
                dns,
            } => {
                write!(f, "DHCP: address {address}")?;
                if let Some(router) = router {
                    write!(f, ", gateway {router}")?;
                }
                if let Some(dns) = dns {
                    write!(f, ", DNS {dns}")?;
                }
                Ok(())
            }
            Self::Deconfigured => f.write_str("DHCP: lease lost"),
        }
    }
}

/// Something an application reports to the platform.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// From the greeting server.
    Greeting(GreetingEvent),
    /// From the GET client.
    Http(HttpEvent<'a>),
    /// From DHCP.
    Dhcp(DhcpEvent),
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Greeting(event) => event.fmt(f),
            Self::Http(event) => event.fmt(f),
            Self::Dhcp(event) => event.fmt(f),
        }
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

/// Upper bound on interface/application rounds in one [`App::poll`], so one call is bounded
/// work even under a flood; leftover work is reported as an immediate deadline.
const MAX_ROUNDS: usize = 8;

/// The stack and its applications: the greeting server on `N` sockets with `MSG`-byte reads,
/// and the GET client with a `HEAD`-byte head buffer and `URL`-byte URLs.
pub struct App<
    's,
    const N: usize,
    const MSG: usize = 1024,
    const HEAD: usize = 4096,
    const URL: usize = 256,
> {
    stack: Stack<'s>,
    greeting: Option<GreetingServer<N, MSG>>,
    http: Option<HttpClient<HEAD, URL>>,
    dhcp: Option<SocketHandle>,
}

impl<'s, const N: usize, const MSG: usize, const HEAD: usize, const URL: usize>
    App<'s, N, MSG, HEAD, URL>
{
    /// An app with no applications yet.
    pub fn new(stack: Stack<'s>) -> Self {
        Self {
            stack,
            greeting: None,
            http: None,
            dhcp: None,
        }
    }

    /// Runs `server` in this app.
    pub fn with_greeting(mut self, server: GreetingServer<N, MSG>) -> Self {
        self.greeting = Some(server);
        self
    }

    /// Runs `client` in this app; start requests with [`get`](Self::get).
    pub fn with_http(mut self, client: HttpClient<HEAD, URL>) -> Self {
        self.http = Some(client);
        self
    }

    /// Learns address, gateway and DNS servers by DHCP (the stack needs a free socket slot).
    pub fn with_dhcp(mut self) -> Self {
        self.dhcp = Some(self.stack.sockets.add(dhcpv4::Socket::new()));
        self
    }

    /// The network stack, e.g. to read its address.
    pub fn stack(&mut self) -> &mut Stack<'s> {
        &mut self.stack
    }

    /// The greeting server, if running.
    pub fn greeting(&self) -> Option<&GreetingServer<N, MSG>> {
        self.greeting.as_ref()
    }

    /// The GET client, if any.
    pub fn http(&self) -> Option<&HttpClient<HEAD, URL>> {
        self.http.as_ref()
    }

    /// Starts a GET of `url` (needs [`with_http`](Self::with_http)). The outcome comes as
    /// events, the body through [`Handler::body`].
    pub fn get(&mut self, url: &str, now: Instant) -> Result<(), HttpError> {
        match &mut self.http {
            Some(client) => client.get(url, now),
            None => Err(HttpError::Busy),
        }
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
        let mut more = true;
        for _ in 0..MAX_ROUNDS {
            let changed = self.stack.poll(now, device);
            if !changed && !more {
                break;
            }
            more = self.service(now, handler);
        }
        let mut next = self.stack.poll_at(now);
        if let Some(server) = &self.greeting {
            next = earliest(next, server.poll_at(now));
        }
        if let Some(client) = &self.http {
            next = earliest(next, client.poll_at());
        }
        if more {
            next = Some(now);
        }
        next
    }

    /// Runs every application once; true if any did something.
    fn service(&mut self, now: Instant, handler: &mut impl Handler) -> bool {
        let mut changed = self.service_dhcp(handler);
        if let Some(server) = &mut self.greeting {
            changed |= server.service(now, &mut self.stack.sockets, &mut |event| {
                handler.event(Event::Greeting(event))
            });
        }
        if let Some(client) = &mut self.http {
            // Both closures need the handler; they never run at the same time.
            let handler = core::cell::RefCell::new(&mut *handler);
            changed |= client.service(
                now,
                &mut self.stack,
                &mut |event| handler.borrow_mut().event(Event::Http(event)),
                &mut |chunk| {
                    handler
                        .borrow_mut()
                        .body(chunk)
                        .map_err(|SinkError| HttpError::Sink)
                },
            );
        }
        changed
    }

    fn service_dhcp(&mut self, handler: &mut impl Handler) -> bool {
        let Some(dhcp) = self.dhcp else {
            return false;
        };
        let event = match self.stack.sockets.get_mut::<dhcpv4::Socket>(dhcp).poll() {
            None => return false,
            Some(dhcpv4::Event::Configured(config)) => DhcpEvent::Configured {
                address: config.address,
                router: config.router,
                dns: config.dns_servers.first().copied(),
            },
            Some(dhcpv4::Event::Deconfigured) => DhcpEvent::Deconfigured,
        };
        match event {
            DhcpEvent::Configured {
                address,
                router,
                dns,
                ..
            } => {
                self.stack.set_ipv4(Some(address), router);
                if let (Some(client), Some(dns)) = (&mut self.http, dns) {
                    if !client.has_dns_server() {
                        client.set_dns_servers(&mut self.stack, &[dns]);
                    }
                }
            }
            DhcpEvent::Deconfigured => self.stack.set_ipv4(None, None),
        }
        handler.event(Event::Dhcp(event));
        true
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}
