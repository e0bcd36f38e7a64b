//! DHCP: the interface's address, gateway and DNS server from a lease (feature `dhcp`).
//!
//! [`Dhcp`] is a [`Service`]: run it beside the others and each lease is applied to the
//! stack — address, default route, DNS servers (which the GET client uses when it was
//! given none) — and reported to the handler as a [`DhcpEvent`].

use core::fmt;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::dhcpv4;
use smoltcp::time::{Duration, Instant};
#[cfg(feature = "dns")]
use smoltcp::wire::IpAddress;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

use crate::service::{Handler, Service};
use crate::stack::Stack;
use crate::text::{self, Render, TextOut};

/// What DHCP did to the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
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

impl Render for DhcpEvent {
    fn render(&self, out: &mut dyn TextOut) {
        match self {
            Self::Configured {
                address,
                router,
                dns,
            } => {
                out.put("DHCP: address ");
                out.ipv4_cidr(*address);
                if let Some(router) = router {
                    out.put(", gateway ");
                    out.ipv4(*router);
                }
                if let Some(dns) = dns {
                    out.put(", DNS ");
                    out.ipv4(*dns);
                }
            }
            Self::Deconfigured => out.put("DHCP: lease lost"),
        }
    }
}

impl fmt::Display for DhcpEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        text::display(self, f)
    }
}

/// DHCP retries. smoltcp waits 10 s before it repeats a DISCOVER, as long as a GET waits
/// for an address: one frame lost while a link comes up (a TAP just attached) would fail the
/// GET. A few seconds, as RFC 2131 §4.1 suggests, leaves room for two more tries.
fn retry() -> dhcpv4::RetryConfig {
    let mut retry = dhcpv4::RetryConfig::default();
    retry.discover_timeout = Duration::from_secs(3);
    retry.initial_request_timeout = Duration::from_secs(2);
    retry
}

/// What one look at the DHCP client found.
enum Polled {
    /// Nothing happened.
    Idle,
    /// The interface changed, but that is no news (smoltcp's first "deconfigured").
    Quiet,
    /// A lease was obtained or lost; the stack already uses it.
    News(DhcpEvent),
}

/// The DHCP client: a [`Service`] that keeps the stack addressed from a lease.
pub struct Dhcp {
    socket: SocketHandle,
    /// Whether DHCP has held a lease (its first "deconfigured" is not news).
    leased: bool,
}

impl Dhcp {
    /// Adds the client's socket to `stack` (it needs a free socket slot).
    pub fn new(stack: &mut Stack<'_>) -> Self {
        let mut socket = dhcpv4::Socket::new();
        socket.set_retry_config(retry());
        Self {
            socket: stack.add_socket(socket),
            leased: false,
        }
    }

    /// Starts over: drops the lease (the next poll reports it lost, if there was one) and
    /// asks for a new one at once. For a platform that sees its link come back up: the
    /// network may be another one, and waiting for the old lease's renewal would be slow.
    pub fn reset(&mut self, stack: &mut Stack<'_>) {
        stack.sockets.get_mut::<dhcpv4::Socket>(self.socket).reset();
    }

    /// Applies what the client learned to the stack's address, route and DNS servers.
    fn apply(&mut self, stack: &mut Stack<'_>) -> Polled {
        let socket = stack.sockets.get_mut::<dhcpv4::Socket>(self.socket);
        let Some(event) = socket.poll() else {
            return Polled::Idle;
        };
        let event = match event {
            dhcpv4::Event::Configured(config) => {
                let (address, router) = (config.address, config.router);
                let dns = config.dns_servers.first().copied();
                self.leased = true;
                stack.set_ipv4(Some(address), router);
                // The first server, as the event reports it (a device asks one at a time).
                #[cfg(feature = "dns")]
                stack.set_dns_servers(dns.map(IpAddress::Ipv4).as_slice());
                DhcpEvent::Configured {
                    address,
                    router,
                    dns,
                }
            }
            dhcpv4::Event::Deconfigured => {
                stack.set_ipv4(None, None);
                #[cfg(feature = "dns")]
                stack.set_dns_servers(&[]);
                // smoltcp reports "deconfigured" once at start; only a lost lease is news.
                if !core::mem::replace(&mut self.leased, false) {
                    return Polled::Quiet;
                }
                DhcpEvent::Deconfigured
            }
        };
        Polled::News(event)
    }
}

impl<H: Handler<DhcpEvent> + ?Sized> Service<H> for Dhcp {
    fn poll(&mut self, _now: Instant, stack: &mut Stack<'_>, handler: &mut H) -> bool {
        match self.apply(stack) {
            Polled::Idle => false,
            Polled::Quiet => true,
            Polled::News(event) => {
                handler.event(event);
                true
            }
        }
    }

    fn poll_at(&self, _now: Instant) -> Option<Instant> {
        // The socket's own timers are in the interface's deadline.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::Link;
    use crate::stack::StackConfig;
    use crate::Ignore;
    use smoltcp::iface::SocketStorage;

    #[test]
    fn reset_asks_again_at_once() {
        let link: Link<2, 8> = Link::new();
        let mut device = link.port(0);
        let mut storage = [SocketStorage::EMPTY; 1];
        let config = StackConfig::unaddressed([2, 0, 0, 0, 0, 1]);
        let mut stack = Stack::new(&config, &mut device, &mut storage, Instant::ZERO);
        let dhcp = Dhcp::new(&mut stack);
        let mut app = crate::App::new(stack, dhcp);
        let mut sent_at = |app: &mut crate::App<'_, Dhcp>, ms: i64| {
            app.poll(Instant::from_millis(ms), &mut device, &mut Ignore);
            link.stats(0).sent
        };
        assert_eq!(sent_at(&mut app, 0), 1, "the first DISCOVER");
        assert_eq!(sent_at(&mut app, 1000), 1, "no repeat before 3 s");
        let (stack, dhcp) = app.parts();
        dhcp.reset(stack);
        assert_eq!(sent_at(&mut app, 1000), 2, "a new DISCOVER at once");
    }
}
