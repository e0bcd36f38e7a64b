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

use smoltcp::phy::Device;
use smoltcp::time::Instant;

use crate::greeting::{GreetingEvent, GreetingServer};
use crate::stack::Stack;

/// Something an application reports to the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// From the greeting server.
    Greeting(GreetingEvent),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Greeting(event) => event.fmt(f),
        }
    }
}

/// Where the platform receives what the applications report.
pub trait Handler {
    /// Something happened.
    fn event(&mut self, event: Event);
}

impl<F: FnMut(Event)> Handler for F {
    fn event(&mut self, event: Event) {
        self(event)
    }
}

/// Upper bound on interface/application rounds in one [`App::poll`], so one call is bounded
/// work even under a flood; leftover work is reported as an immediate deadline.
const MAX_ROUNDS: usize = 8;

/// The stack and its applications: the greeting server on `N` sockets with `MSG`-byte reads.
pub struct App<'s, const N: usize, const MSG: usize = 1024> {
    stack: Stack<'s>,
    greeting: Option<GreetingServer<N, MSG>>,
}

impl<'s, const N: usize, const MSG: usize> App<'s, N, MSG> {
    /// An app with no applications yet.
    pub fn new(stack: Stack<'s>) -> Self {
        Self {
            stack,
            greeting: None,
        }
    }

    /// Runs `server` in this app.
    pub fn with_greeting(mut self, server: GreetingServer<N, MSG>) -> Self {
        self.greeting = Some(server);
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

    /// Does all work that is ready at `now`: frames in and out, accepts, replies, timers.
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
            more = false;
            if let Some(server) = &mut self.greeting {
                more |= server.service(now, &mut self.stack.sockets, &mut |event| {
                    handler.event(Event::Greeting(event))
                });
            }
        }
        let mut next = self.stack.poll_at(now);
        if let Some(server) = &self.greeting {
            next = earliest(next, server.poll_at(now));
        }
        if more {
            next = Some(now);
        }
        next
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
