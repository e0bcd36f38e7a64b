//! tcplink-host: the "normal OS" side of tcplink, on kernel sockets.
//!
//! These are the peers the no_std core is tested and demonstrated against: the seed's greeting
//! client (`greet`), a concurrent load generator (`load`), a thread-per-connection greeting
//! server that is the kernel-stack baseline (`greeting_server`), a static HTTP server for test
//! pages (`http_server`), the network-namespace/TAP helper (`netns`), an nginx config for test runs (`nginx`), router advertisements for SLAAC
//! (`radvd`), test prerequisites (`prereq`), and bounded child
//! processes for tests (`child`).
#![forbid(unsafe_code)]

pub mod addr;
pub mod child;
mod client;
pub mod dnsmasq;
pub mod error;
pub mod greet;
pub mod greeting_server;
pub mod http_server;
pub mod load;
pub mod netns;
pub mod nginx;
pub mod prereq;
pub mod protocol;
pub mod radvd;

pub use error::{NetError, Op, SessionError};
pub use greet::greet;
pub use greeting_server::{GreetingServer, GreetingServerHandle};
pub use http_server::{HttpServer, HttpServerHandle};
pub use load::{run_load, LoadConfig, LoadReport};
