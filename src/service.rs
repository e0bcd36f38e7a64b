//! Services: the applications one [`App`](crate::App) runs, and the handler they report to.
//!
//! A service owns some sockets of the [`Stack`] and moves them forward each time the
//! platform polls. The greeting server, the GET client and DHCP are services; so is anything
//! a user writes. Services are composed by type — a tuple, an `Option` — so a board links
//! only what it runs, and each reports its own event type to the platform's [`Handler`].
//!
//! # What a service may rely on
//!
//! One [`App::poll`](crate::App::poll) runs this sequence, and nothing else touches the
//! sockets meanwhile:
//!
//! 1. **Frames in**, up to [`INGRESS_BUDGET`](crate::stack::INGRESS_BUDGET). After each
//!    frame that changed a socket, every service's [`after_frame`](Service::after_frame)
//!    runs: the place to listen again on a socket whose connection just ended, so a client
//!    reconnecting in the same burst of frames is accepted instead of refused. If it
//!    returns true, what is queued is sent at once and it runs again (a socket in TIME-WAIT
//!    sends the ACK of the peer's FIN before it is reused).
//! 2. **[`poll`](Service::poll)** of each service, in tuple order, with `now` and the stack.
//!    Data a service writes into a socket is queued, not sent.
//! 3. **Egress**: what the services queued leaves, one segment per socket per pass, while
//!    anyone changed anything (bounded rounds); then a due neighbour-request repeat.
//! 4. **The next deadline**: the earliest of smoltcp's timers and every service's
//!    [`poll_at`](Service::poll_at). The platform calls again by then, or sooner on a frame.
//!
//! A socket may listen again once its connection is over: closed with nothing left to send
//! ([`tcp_is_free`](crate::stack::tcp_is_free)), or in TIME-WAIT once the ACK of the
//! peer's FIN is out. That ACK is queued by the frame that brought the FIN and leaves with
//! the next egress: in `after_frame`, return true and look again on the second call; in
//! `poll`, wait for the next poll. Listening earlier discards the ACK, and the peer resends
//! its FIN into the next connection. [`Listeners`](crate::listeners::Listeners) does this
//! bookkeeping for a server.

use smoltcp::time::Instant;

use crate::stack::{Sockets, Stack};

/// Where the platform receives one service's events, of type `E`.
///
/// A platform running several services implements it once per event type (often with one
/// generic impl over a trait its events share, such as `Display`); a closure `FnMut(E)` is a
/// handler of `E`, which is enough for an app with one service.
pub trait Handler<E> {
    /// Something happened.
    fn event(&mut self, event: E);
}

impl<E, F: FnMut(E)> Handler<E> for F {
    fn event(&mut self, event: E) {
        self(event)
    }
}

/// A handler that drops every event: for a peer or a benchmark that only moves frames.
/// As an HTTP `BodySink` it refuses bodies, so a GET run with it fails
/// instead of losing data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ignore;

impl<E> Handler<E> for Ignore {
    fn event(&mut self, _: E) {}
}

/// An application the poll loop runs, reporting to a handler `H`.
///
/// Implement it for every `H` that can take your events:
///
/// ```
/// use smoltcp::time::Instant;
/// use tcplink::{Handler, Service, Stack};
///
/// /// Counts the polls it is given, and says so.
/// struct Ticker(u32);
///
/// impl<H: Handler<u32> + ?Sized> Service<H> for Ticker {
///     fn poll(&mut self, _now: Instant, _stack: &mut Stack<'_>, handler: &mut H) -> bool {
///         self.0 += 1;
///         handler.event(self.0);
///         false // queued nothing
///     }
///
///     fn poll_at(&self, _now: Instant) -> Option<Instant> {
///         None // only frames wake it
///     }
/// }
/// ```
pub trait Service<H: ?Sized> {
    /// Does what is ready at `now` (step 2 of the sequence in the [module docs](self)).
    /// Returns true if it changed anything — queued data, closed or opened a socket — so
    /// the interface sends and the services run once more.
    fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool;

    /// When it next needs to run even without network input (`None`: only on input).
    fn poll_at(&self, now: Instant) -> Option<Instant>;

    /// A received frame just changed some socket. Runs between frames, so it must be
    /// cheap; returning true asks for what is queued to be sent and for this to run again.
    fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        let _ = sockets;
        false
    }

    /// Whether nothing is in flight (no connection still closing), so a platform may stop
    /// without cutting one off.
    fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        let _ = stack;
        true
    }
}

/// No service.
impl<H: ?Sized> Service<H> for () {
    fn poll(&mut self, _: Instant, _: &mut Stack<'_>, _: &mut H) -> bool {
        false
    }

    fn poll_at(&self, _: Instant) -> Option<Instant> {
        None
    }
}

/// A service present or not, decided at start-up.
impl<H: ?Sized, S: Service<H>> Service<H> for Option<S> {
    fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
        self.as_mut().is_some_and(|s| s.poll(now, stack, handler))
    }

    fn poll_at(&self, now: Instant) -> Option<Instant> {
        self.as_ref().and_then(|s| s.poll_at(now))
    }

    fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
        self.as_mut().is_some_and(|s| s.after_frame(sockets))
    }

    fn is_quiet(&self, stack: &Stack<'_>) -> bool {
        self.as_ref().is_none_or(|s| s.is_quiet(stack))
    }
}

/// Services side by side: each runs in tuple order.
macro_rules! tuple_service {
    ($($s:ident . $i:tt),+) => {
        impl<H: ?Sized, $($s: Service<H>),+> Service<H> for ($($s,)+) {
            fn poll(&mut self, now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
                // Every service runs, whatever the others did.
                false $(| self.$i.poll(now, stack, handler))+
            }

            fn poll_at(&self, now: Instant) -> Option<Instant> {
                let next = None;
                $(let next = crate::time::earliest(next, self.$i.poll_at(now));)+
                next
            }

            fn after_frame(&mut self, sockets: &mut Sockets<'_>) -> bool {
                false $(| self.$i.after_frame(sockets))+
            }

            fn is_quiet(&self, stack: &Stack<'_>) -> bool {
                true $(&& self.$i.is_quiet(stack))+
            }
        }
    };
}

tuple_service!(A.0);
tuple_service!(A.0, B.1);
tuple_service!(A.0, B.1, C.2);
tuple_service!(A.0, B.1, C.2, D.3);
tuple_service!(A.0, B.1, C.2, D.3, E.4);
tuple_service!(A.0, B.1, C.2, D.3, E.4, F.5);
tuple_service!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
tuple_service!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, I.7);
