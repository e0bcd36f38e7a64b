//! tcplink: the classic TCP lesson — a greeting server and an HTTP GET client — as an
//! embedded device would run it.
//!
//! The crate is `no_std` and never allocates: every buffer is a fixed array sized by const
//! generics and handed in by the caller, sockets live in a [`managed`] slice, and time is an
//! argument ([`smoltcp::time::Instant`]), never read from a clock. One [`app::App`] drives the
//! smoltcp interface and every application in a single cooperative poll loop, the loop a
//! microcontroller's `main` calls.
//!
//! * [`stack`] — the smoltcp `Interface` plus its `SocketSet`: static IPv4, and with the
//!   `ipv6` feature link-local, static and SLAAC IPv6 addresses.
//! * [`neighbor`] — neighbour resolution on the wire (ARP, IPv6 neighbour discovery): early
//!   repeats of the first request, the watched next hop.
//! * [`greeting`] — the seed's `tcp_server.py`: `Welcome`, `Hello, X!`, `exit`.
//! * [`dhcp`] — address, gateway and DNS server from a DHCP lease.
//! * `discovery` — SLAAC's router discovery, watched for two flaws of smoltcp 0.14.
//! * [`framing`] — how the greeting server cuts received bytes into messages.
//! * [`http`] — the seed's `http_get.py`: a streaming HTTP/1.1 GET client with DNS.
//! * [`tls`] — HTTPS: TLS 1.3 under the GET client, with strict certificate verification.
//! * [`url`] — `http://` and `https://` URLs parsed in place.
//! * [`link`] — an in-memory Ethernet link for tests and demos: real frames, no OS.
//! * [`text`] — the events' log lines written without `core::fmt`.
//! * [`app`] — the poll loop that ties them together and reports [`app::Event`]s.
//!
//! Cargo features choose what is compiled: `dhcp`, `dns`, `http`, `ipv6`, `slaac` and `tls`
//! (all on by default). A board that only serves greetings turns them off and links TCP
//! alone.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
