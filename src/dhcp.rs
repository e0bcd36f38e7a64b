//! DHCP: the interface's address, gateway and DNS server from a lease (feature `dhcp`).
//!
//! [`App::with_dhcp`](crate::app::App::with_dhcp) adds the client; [`App::poll`](crate::app::App::poll)
//! applies each lease to the stack and reports it as an [`Event::Dhcp`](crate::app::Event::Dhcp).

use core::fmt;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::dhcpv4;
use smoltcp::time::Duration;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

use crate::stack::Stack;
use crate::text::{self, Render, TextOut};

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
pub(crate) enum Polled {
    /// Nothing happened.
    Idle,
    /// The interface changed, but that is no news (smoltcp's first "deconfigured").
    Quiet,
    /// A lease was obtained or lost; the stack already uses it.
    News(DhcpEvent),
}

/// The DHCP client socket and whether it has held a lease.
pub(crate) struct Dhcp {
    socket: SocketHandle,
    /// Whether DHCP has held a lease (its first "deconfigured" is not news).
    leased: bool,
}

impl Dhcp {
    /// Adds the client's socket to `stack` (it needs a free socket slot).
    pub(crate) fn new(stack: &mut Stack<'_>) -> Self {
        let mut socket = dhcpv4::Socket::new();
        socket.set_retry_config(retry());
        Self {
            socket: stack.sockets.add(socket),
            leased: false,
        }
    }

    /// Applies what the client learned to the stack's address and route.
    pub(crate) fn poll(&mut self, stack: &mut Stack<'_>) -> Polled {
        let socket = stack.sockets.get_mut::<dhcpv4::Socket>(self.socket);
        let Some(event) = socket.poll() else {
            return Polled::Idle;
        };
        let event = match event {
            dhcpv4::Event::Configured(config) => DhcpEvent::Configured {
                address: config.address,
                router: config.router,
                dns: config.dns_servers.first().copied(),
            },
            dhcpv4::Event::Deconfigured => DhcpEvent::Deconfigured,
        };
        match event {
            DhcpEvent::Configured {
                address, router, ..
            } => {
                self.leased = true;
                stack.set_ipv4(Some(address), router);
            }
            DhcpEvent::Deconfigured => {
                stack.set_ipv4(None, None);
                // smoltcp reports "deconfigured" once at start; only a lost lease is news.
                if !core::mem::replace(&mut self.leased, false) {
                    return Polled::Quiet;
                }
            }
        }
        Polled::News(event)
    }
}
