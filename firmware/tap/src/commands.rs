//! The commands: build the stack and the applications asked for, then run the poll loop.
//!
//! Memory is sized the core's way, by const generics, but allocated once on the heap here:
//! a 64-socket server's buffers are too big for a comfortable stack frame.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use anyhow::{bail, Result};
use smoltcp::iface::SocketStorage;
use smoltcp::time::Duration;
use tcplink::app::App;
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::stack::{Stack, StackConfig, TcpBuffers};

use crate::cli::{FetchArgs, GetArgs, NetArgs, ServeArgs, SUPPORTED_SOCKETS};
use crate::output::GreetingLog;
use crate::runner::Node;

/// Largest greeting message, the seed's `recv(1024)`.
const MSG: usize = 1024;
/// A greeting socket's buffers: a whole read in, the longest reply (MSG + 8) out.
type GreetingBuffers = TcpBuffers<2048, 2048>;

/// `serve`, or `run` (serve plus an optional fetch).
pub fn serve(net: &NetArgs, args: &ServeArgs, fetch: Option<(String, FetchArgs)>) -> Result<()> {
    if fetch.is_some() {
        bail!("--get needs the core's HTTP client, which this build does not have yet");
    }
    check_net(net)?;
    let mut node = Node::open(&net.tap, net.pcap.clone())?;
    match args.sockets {
        1 => serve_on::<1>(&mut node, net, args),
        2 => serve_on::<2>(&mut node, net, args),
        4 => serve_on::<4>(&mut node, net, args),
        8 => serve_on::<8>(&mut node, net, args),
        16 => serve_on::<16>(&mut node, net, args),
        32 => serve_on::<32>(&mut node, net, args),
        64 => serve_on::<64>(&mut node, net, args),
        n => bail!("{n} sockets is not a built-in size; use one of {SUPPORTED_SOCKETS:?}"),
    }
}

/// `get URL`.
pub fn get(net: &NetArgs, args: &GetArgs) -> Result<()> {
    let _ = (net, args);
    bail!("get needs the core's HTTP client, which this build does not have yet")
}

fn check_net(net: &NetArgs) -> Result<()> {
    if net.dhcp {
        bail!("--dhcp needs the core's DHCP client, which this build does not have yet");
    }
    Ok(())
}

/// The greeting server on `N` sockets until a signal.
fn serve_on<const N: usize>(node: &mut Node, net: &NetArgs, args: &ServeArgs) -> Result<()> {
    let mut storage: Vec<SocketStorage> = (0..N).map(|_| SocketStorage::EMPTY).collect();
    let mut buffers = boxed_array::<GreetingBuffers, N>(GreetingBuffers::new);
    let now = node.clock.now();
    let mut stack = Stack::new(&stack_config(net), &mut node.nic, &mut storage, now);
    let server = GreetingServer::<N, MSG>::new(greeting_config(args), &mut stack, &mut buffers);
    let mut app = App::new(stack).with_greeting(server);
    let mut log = GreetingLog::default();
    log.start();
    node.run(&mut app, &mut log)?;
    Ok(())
}

fn stack_config(net: &NetArgs) -> StackConfig {
    StackConfig {
        mac: net.mac,
        ip: net.ip,
        gateway: net.gateway,
        // Distinct initial sequence numbers and ports on every start, so a restarted device
        // does not collide with connections the host still remembers.
        random_seed: RandomState::new().hash_one(std::process::id()),
    }
}

fn greeting_config(args: &ServeArgs) -> GreetingConfig {
    GreetingConfig {
        port: args.port,
        reply_delay: Duration::from_millis(args.delay_ms),
        idle_timeout: Duration::from_secs(args.idle_timeout_s),
    }
}

/// `[T; N]` on the heap, built element by element (never on the stack first).
fn boxed_array<T, const N: usize>(mut make: impl FnMut() -> T) -> Box<[T; N]> {
    let items: Box<[T]> = (0..N).map(|_| make()).collect();
    match items.try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("exactly N items were collected"),
    }
}
