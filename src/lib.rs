//! tcplink: a `no_std`, allocation-free TCP application stack on [smoltcp], for devices
//! that run many services in one cooperative poll loop.
//!
//! Every buffer is a fixed array sized by const generics and handed in by the caller,
//! sockets live in a [`managed`] slice, and time is an argument ([`smoltcp::time::Instant`]),
//! never read from a clock. One [`App`] drives the smoltcp interface and every
//! [`Service`] — yours and the ready-made ones — in a single call, [`App::poll`], the
//! call a microcontroller's `main` loop makes. Each service reports its own typed events to
//! the platform's [`Handler`].
//!
//! ```
//! use smoltcp::iface::SocketStorage;
//! use smoltcp::time::Instant;
//! use tcplink::greeting::{GreetingConfig, GreetingEvent, GreetingServer};
//! use tcplink::link::Link;
//! use tcplink::{App, Stack, StackConfig, TcpBuffers};
//!
//! let link: Link<2, 16> = Link::new(); // an in-memory Ethernet link; a board has its driver
//! let mut nic = link.port(0);
//! let mut slots = [SocketStorage::EMPTY; 4];
//! let mut buffers = [const { TcpBuffers::<1024, 256>::new() }; 4];
//! let config = StackConfig::new([2, 0, 0, 0, 0, 2], [10, 0, 0, 2], 24);
//! let mut stack = Stack::new(&config, &mut nic, &mut slots, Instant::ZERO);
//! let greeting = GreetingServer::<4>::new(GreetingConfig::default(), &mut stack, &mut buffers);
//! let mut app = App::new(stack, (greeting,)); // more services go into the tuple
//! let mut log = |event: GreetingEvent| println!("{event}");
//! let next = app.poll(Instant::ZERO, &mut nic, &mut log); // sleep until a frame or `next`
//! # assert_eq!(next, None);
//! ```
//!
//! (Items of a feature that is off are named without links.) The ready-made services are the classic TCP lesson's two programs and what they need on
//! a real network:
//!
//! * [`greeting`] — the seed's `tcp_server.py`: `Welcome`, `Hello, X!`, `exit`, many
//!   clients at once, refusal when full.
//! * `http` — the seed's `http_get.py`: a streaming HTTP/1.1 GET client with DNS,
//!   redirects, IPv4 and IPv6, and HTTPS through `tls`.
//! * `dhcp` — address, gateway and DNS servers from a DHCP lease.
//!
//! The building blocks:
//!
//! * [`stack`] — the smoltcp `Interface` and its sockets: static IPv4, IPv6 (link-local,
//!   static, SLAAC), the DNS servers the network gave.
//! * [`service`] — the [`Service`] trait, the order a poll runs things in, [`Handler`].
//! * [`listeners`] — a listener pool for your own server: backlog, refusal when full,
//!   relisten after TIME-WAIT.
//! * [`app`] — [`App`]: the stack and its services.
//! * [`link`] — an in-memory Ethernet link for tests and demos: real frames, no OS.
//! * `url`, [`text`], [`time`] — URLs parsed in place, log lines without `core::fmt`,
//!   deadlines.
//!
//! # Features
//!
//! Each capability is a Cargo feature; a board turns default features off and names what it
//! uses, so nothing else is linked.
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `ipv6` | yes | IPv6 beside IPv4: link-local and static addresses, `ping -6` |
//! | `slaac` | yes | addresses and the IPv6 default route from router advertisements |
//! | `dhcp` | yes | `dhcp::Dhcp`: address, gateway and DNS servers from a lease |
//! | `dns` | yes | name resolution through smoltcp's DNS socket |
//! | `http` | yes | `http::HttpClient` and `url` (implies `dns`) |
//! | `tls` | yes | HTTPS: TLS 1.3 without a heap under the GET client |
//! | `tls-web` | yes | P-384 certificates and room for an RSA leaf key (hosts) |
//! | `x25519` | yes | X25519 key exchange beside P-256, its key share sent first |
//! | `parking` | yes | `Stack::with_parking`: spare sockets kept out of smoltcp's walks |
//! | `log` | no | log through the `log` facade |
//! | `defmt` | no | log through `defmt`, and `defmt::Format` on events |
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod app;
#[cfg(feature = "dhcp")]
pub mod dhcp;
#[cfg(feature = "slaac")]
mod discovery;
mod framing;
pub mod greeting;
#[cfg(feature = "http")]
pub mod http;
pub mod link;
pub mod listeners;
mod neighbor;
mod parking;
pub mod service;
pub mod stack;
pub mod text;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "http")]
pub mod url;

pub use app::App;
pub use service::{Handler, Ignore, Service};
pub use smoltcp;
pub use stack::{Sockets, Stack, StackConfig, TcpBuffers};
