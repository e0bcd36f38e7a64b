//! The one poll loop: the interface and every service, driven by the platform's clock.
//!
//! A platform calls [`App::poll`] whenever a frame may have arrived or the returned deadline
//! has passed, and may sleep in between (`poll(2)` on a TAP descriptor, `wfi` on a board).
//!
//! ```
//! use smoltcp::iface::SocketStorage;
//! use smoltcp::time::Instant;
//! use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
//! use tcplink::link::Link;
//! use tcplink::{App, Stack, StackConfig, TcpBuffers};
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
//! let mut app = App::new(stack, greeting);
//! let next = app.poll(now, &mut device, &mut |event: GreetingEvent| {
//!     let _ = event; // print it, log it, count it
//! });
//! assert_eq!(next, None); // nothing to do until a frame arrives
//! ```

use smoltcp::phy::Device;
use smoltcp::time::Instant;

use crate::service::Service;
use crate::stack::{Round, Sockets, Stack};

/// The stack and the services it runs: `S` is one [`Service`], a tuple of them, an
/// `Option` of one, or `()` for none.
pub struct App<'s, S = ()> {
    stack: Stack<'s>,
    services: S,
}

impl<'s, S> App<'s, S> {
    /// Runs `services` on `stack`. Build each service on the stack first (it adds its
    /// sockets), then hand both over.
    pub fn new(stack: Stack<'s>, services: S) -> Self {
        Self { stack, services }
    }

    /// The network stack, e.g. to read its addresses.
    pub fn stack(&self) -> &Stack<'s> {
        &self.stack
    }

    /// The network stack, mutably.
    pub fn stack_mut(&mut self) -> &mut Stack<'s> {
        &mut self.stack
    }

    /// The services, e.g. to read a server's counters.
    pub fn services(&self) -> &S {
        &self.services
    }

    /// The services, mutably: start a GET, tell a client to connect. Between polls, so a
    /// service never runs twice at once.
    pub fn services_mut(&mut self) -> &mut S {
        &mut self.services
    }

    /// The stack and the services at once, for a service call that needs the stack (such
    /// as `HttpClient::cancel`).
    pub fn parts(&mut self) -> (&mut Stack<'s>, &mut S) {
        (&mut self.stack, &mut self.services)
    }

    /// Whether no connection is still closing: the platform may stop without cutting one
    /// off (e.g. after a GET, once its FIN or RST is out). `H` is the handler type the app
    /// is polled with (`app.is_quiet::<Console>()`): services are typed by what they report to.
    pub fn is_quiet<H: ?Sized>(&self) -> bool
    where
        S: Service<H>,
    {
        self.services.is_quiet(&self.stack)
    }

    /// Does all work that is ready at `now`: frames in and out, every service's turn, timers
    /// (the sequence in [`crate::service`]). Services report to `handler`.
    ///
    /// Returns when to call again even if no frame arrives (`None`: only on a frame). The
    /// deadline may already be `now` when a round limit left work over.
    pub fn poll<D: Device + ?Sized, H: ?Sized>(
        &mut self,
        now: Instant,
        device: &mut D,
        handler: &mut H,
    ) -> Option<Instant>
    where
        S: Service<H>,
    {
        self.stack.run(
            now,
            device,
            &mut Running {
                services: &mut self.services,
                handler,
            },
        )
    }
}

/// The services and their handler, as the stack's poll sequence sees them.
struct Running<'a, S, H: ?Sized> {
    services: &'a mut S,
    handler: &'a mut H,
}

impl<'s, S: Service<H>, H: ?Sized> Round<'s> for Running<'_, S, H> {
    fn after_frame(&mut self, sockets: &mut Sockets<'s>) -> bool {
        self.services.after_frame(sockets)
    }

    fn run(&mut self, now: Instant, stack: &mut Stack<'s>) -> bool {
        self.services.poll(now, stack, self.handler)
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.services.poll_at(now)
    }
}

#[cfg(test)]
mod tests {
    use core::cell::RefCell;

    use smoltcp::iface::SocketStorage;
    use smoltcp::time::Duration;

    use super::*;
    use crate::link::Link;
    use crate::StackConfig;

    /// A service that records its turns in a shared log, asks for `busy` more turns, and
    /// has a fixed deadline.
    struct Probe<'l> {
        name: char,
        log: &'l RefCell<heapless::Vec<char, 64>>,
        busy: usize,
        deadline: Option<Instant>,
        quiet: bool,
    }

    impl<'l> Probe<'l> {
        fn new(name: char, log: &'l RefCell<heapless::Vec<char, 64>>) -> Self {
            Self {
                name,
                log,
                busy: 0,
                deadline: None,
                quiet: true,
            }
        }
    }

    impl<H: crate::Handler<char> + ?Sized> Service<H> for Probe<'_> {
        fn poll(&mut self, _: Instant, _: &mut Stack<'_>, handler: &mut H) -> bool {
            let _ = self.log.borrow_mut().push(self.name);
            handler.event(self.name);
            if self.busy > 0 {
                self.busy -= 1;
                return true;
            }
            false
        }

        fn poll_at(&self, _: Instant) -> Option<Instant> {
            self.deadline
        }

        fn is_quiet(&self, _: &Stack<'_>) -> bool {
            self.quiet
        }
    }

    fn with_app<S>(
        services: S,
        run: impl FnOnce(&mut App<'_, S>, &mut crate::link::Port<'_, 2, 8>),
    ) {
        let link: Link<2, 8> = Link::new();
        let mut port = link.port(0);
        let mut slots = [SocketStorage::EMPTY; 1];
        let config = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
        let stack = Stack::new(&config, &mut port, &mut slots[..], Instant::ZERO);
        let mut app = App::new(stack, services);
        run(&mut app, &mut port);
    }

    #[test]
    fn services_run_in_tuple_order_and_report_to_one_handler() {
        let log = RefCell::new(heapless::Vec::new());
        let (a, b) = (Probe::new('a', &log), Probe::new('b', &log));
        with_app((a, None::<Probe<'_>>, b), |app, port| {
            let mut seen = heapless::Vec::<char, 8>::new();
            let next = app.poll(Instant::ZERO, port, &mut |c: char| {
                let _ = seen.push(c);
            });
            assert_eq!(next, None, "no deadline anywhere");
            assert_eq!(seen, ['a', 'b']);
        });
        assert_eq!(*log.borrow(), ['a', 'b']);
    }

    #[test]
    fn the_earliest_deadline_of_any_service_comes_back() {
        let log = RefCell::new(heapless::Vec::new());
        let (mut a, mut b) = (Probe::new('a', &log), Probe::new('b', &log));
        a.deadline = Some(Instant::from_millis(70));
        b.deadline = Some(Instant::from_millis(30));
        with_app((a, b), |app, port| {
            let next = app.poll(Instant::ZERO, port, &mut crate::Ignore);
            assert_eq!(next, Some(Instant::from_millis(30)));
            app.services_mut().1.deadline = None;
            let next = app.poll(Instant::ZERO, port, &mut crate::Ignore);
            assert_eq!(next, Some(Instant::from_millis(70)));
        });
    }

    #[test]
    fn a_busy_service_runs_again_within_the_round_limit_then_asks_to_be_called_at_once() {
        let log = RefCell::new(heapless::Vec::new());
        let mut a = Probe::new('a', &log);
        a.busy = 2;
        with_app((a,), |app, port| {
            let next = app.poll(Instant::ZERO, port, &mut crate::Ignore);
            assert_eq!(next, None, "done within the call");
        });
        // Two busy turns and the one that found nothing left.
        assert_eq!(*log.borrow(), ['a', 'a', 'a']);
        log.borrow_mut().clear();
        let mut a = Probe::new('a', &log);
        a.busy = 100;
        let now = Instant::ZERO + Duration::from_secs(1);
        with_app((a,), |app, port| {
            let next = app.poll(now, port, &mut crate::Ignore);
            assert_eq!(next, Some(now), "work left over: call again at once");
        });
        assert_eq!(log.borrow().len(), 8, "bounded rounds per call");
    }

    #[test]
    fn the_app_is_quiet_only_when_every_service_is() {
        let log = RefCell::new(heapless::Vec::new());
        let (a, mut b) = (Probe::new('a', &log), Probe::new('b', &log));
        b.quiet = false;
        with_app((a, b), |app, _| {
            assert!(!app.is_quiet::<crate::Ignore>());
            app.services_mut().1.quiet = true;
            assert!(app.is_quiet::<crate::Ignore>());
            let (stack, services) = app.parts();
            assert!(stack.ipv4().is_some());
            assert_eq!(services.0.name, 'a');
        });
    }
}
