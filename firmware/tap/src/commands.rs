//! The commands: build the stack and the applications asked for, then run the poll loop.
//!
//! Memory is sized the core's way, by const generics, but allocated once on the heap here:
//! a 64-socket server's buffers are too big for a comfortable stack frame.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use managed::ManagedSlice;
use smoltcp::iface::SocketStorage;
use smoltcp::time::Duration;
use tcplink::dhcp::Dhcp;
use tcplink::greeting::{GreetingConfig, GreetingServer};
use tcplink::http::{HttpClient, HttpConfig, HttpError, HttpStorage, NoTls, Secure};
use tcplink::tls::{TlsLayer, TlsStorage};
use tcplink::{App, Stack, StackConfig, TcpBuffers};
use tcplink_rustls::RustlsLayer;

use crate::addresses::Ipv6Addresses;
use crate::cli::{
    FetchArgs, GetArgs, NetArgs, RunArgs, ServeArgs, TlsEngine, MAX_HEAD, MAX_HEADERS, MAX_URL,
    SUPPORTED_SOCKETS,
};
use crate::download::{default_name, Download};
use crate::runner::{Node, Stop};
use crate::session::{shown_url, Console, Fetch};
use crate::trust::Anchors;

/// Largest greeting message, the seed's `recv(1024)`.
const MSG: usize = 1024;
/// A greeting socket's buffers: a whole read in (answered in place), a small buffer out that
/// replies stream through.
type GreetingBuffers = TcpBuffers<MSG, 256>;
/// The GET socket: the receive buffer is the TCP window the body streams through. A sender
/// on the same host fills any window within one round trip, so the window sets the rate:
/// 256 KiB → 1 MiB bought a median +15 % on a 1 GiB GET at MTU 1500 (5 alternating runs),
/// 4 MiB only noise more. The request is its URL plus a few hundred bytes.
type GetStorage = HttpStorage<{ 1024 * 1024 }, { MAX_URL + 1024 }>;
/// The GET client's capacities: generous for the real web (curl accepts heads up to 300 KiB);
/// the `--max-url/--max-head/--max-headers` limits apply within them. The client lives on
/// the stack, so the head buffer stays well below the main thread's 8 MiB. `https://` goes
/// through the TLS layer it is given.
type GetClient<'a> = HttpClient<MAX_HEAD, MAX_URL, MAX_HEADERS, &'a mut dyn Secure>;

/// What one run does.
struct Plan<'a> {
    net: &'a NetArgs,
    serve: Option<&'a ServeArgs>,
    fetch: Option<(&'a str, &'a FetchArgs)>,
}

/// `serve`.
pub fn serve(net: &NetArgs, args: &ServeArgs) -> Result<ExitCode> {
    run_plan(&Plan {
        net,
        serve: Some(args),
        fetch: None,
    })
}

/// `get URL`.
pub fn get(net: &NetArgs, args: &GetArgs) -> Result<ExitCode> {
    run_plan(&Plan {
        net,
        serve: None,
        fetch: Some((&args.url, &args.fetch)),
    })
}

/// `run [--get URL]`: serve, fetching at the same time.
pub fn run(net: &NetArgs, args: &RunArgs) -> Result<ExitCode> {
    run_plan(&Plan {
        net,
        serve: Some(&args.serve),
        fetch: args.get.as_deref().map(|url| (url, &args.fetch)),
    })
}

/// Picks the compiled greeting server size and runs. `--sockets N` clients are served at
/// once; the server has as many sockets again in reserve for connections still closing
/// (FIN handshakes retransmitted on a lossy link), so those never cost a client its service.
fn run_plan(plan: &Plan<'_>) -> Result<ExitCode> {
    let net = plan.net;
    let mut node = Node::open(&net.tap, net.pcap.clone(), !net.no_offload, net.io)?;
    match plan.serve.map_or(1, |s| s.sockets) {
        1 => run_on::<2>(&mut node, plan),
        2 => run_on::<4>(&mut node, plan),
        4 => run_on::<8>(&mut node, plan),
        8 => run_on::<16>(&mut node, plan),
        16 => run_on::<32>(&mut node, plan),
        32 => run_on::<64>(&mut node, plan),
        64 => run_on::<128>(&mut node, plan),
        n => bail!("{n} sockets is not a built-in size; use one of {SUPPORTED_SOCKETS:?}"),
    }
}

/// Builds the app with a greeting server on `N` sockets, half of them its reserve (if serving), the GET client (if
/// fetching) and DHCP (if asked), and runs it.
fn run_on<const N: usize>(node: &mut Node, plan: &Plan<'_>) -> Result<ExitCode> {
    let net = plan.net;
    let slots = plan.serve.map_or(0, |_| N) + plan.fetch.map_or(0, |_| 2) + usize::from(net.dhcp);
    // Grown as sockets join the set (smoltcp's walks cover every slot, used or not), so the
    // server's walks are as long as its busiest moment so far, not as its capacity.
    let storage = ManagedSlice::Owned(Vec::<SocketStorage>::with_capacity(slots));
    // The greeting server parks its spare sockets here, out of smoltcp's walks.
    let mut parking: Vec<SocketStorage> = (0..plan.serve.map_or(0, |_| N))
        .map(|_| SocketStorage::EMPTY)
        .collect();
    let mut greeting_buffers = plan
        .serve
        .map(|_| boxed_array::<GreetingBuffers, N>(GreetingBuffers::new));
    let mut get_storage = plan.fetch.map(|_| Box::new(GetStorage::new()));
    // HTTPS: rustls (the default), or the board's engine with its record buffers (16 KiB)
    // and its TLS task on the heap; only the chosen one is built, and only for a fetch.
    let (anchors, engine) = match plan.fetch {
        Some((_, args)) => (Anchors::load(&args.tls)?, Some(args.tls.tls_engine)),
        None => (Anchors::default(), None),
    };
    let mut anchor_list = Vec::new();
    let verify = anchors.verify(&mut anchor_list);
    if let Some(engine) = engine {
        log::info!("TLS engine: {engine:?}");
    }
    let mut tls_storage = (engine == Some(TlsEngine::Embedded))
        .then(|| Box::new(TlsStorage::<{ tcplink::tls::RECORD_RX }>::new()));
    let mut tls_task = tls_storage.as_deref_mut().map(|storage| {
        let (wire, task) = storage.split(rand_core::OsRng, verify);
        (wire, Box::pin(task))
    });
    let mut embedded = tls_task
        .as_mut()
        .map(|(wire, task)| TlsLayer::new(wire, task.as_mut()));
    let mut rustls = (engine == Some(TlsEngine::Rustls)).then(|| RustlsLayer::new(verify));
    // Without a fetch there is no GET client to give a layer to.
    let mut no_tls = NoTls;
    let tls: &mut dyn Secure = match (embedded.as_mut(), rustls.as_mut()) {
        (Some(layer), _) => layer,
        (None, Some(layer)) => layer,
        (None, None) => &mut no_tls,
    };

    let now = node.clock.now();
    let mut stack =
        Stack::new(&stack_config(net), &mut node.nic, storage, now).with_parking(&mut parking);
    let greeting = match (plan.serve, greeting_buffers.as_deref_mut()) {
        (Some(args), Some(buffers)) => Some(GreetingServer::<N, MSG>::new(
            greeting_config(args),
            &mut stack,
            buffers,
        )),
        _ => None,
    };
    let http_config = plan
        .fetch
        .map_or_else(HttpConfig::default, |(_, args)| http_config(args));
    let http = get_storage.as_deref_mut().map(|storage| {
        let client: GetClient<'_> =
            HttpClient::new(http_config, &mut stack, storage, &net.dns).with_secure(tls);
        client
    });

    // DHCP first: a lease reaches the GET in the same poll.
    let dhcp = net.dhcp.then(|| Dhcp::new(&mut stack));
    let mut app = App::new(stack, (dhcp, greeting, http));

    let fetch = match plan.fetch {
        Some((url, args)) => {
            let (_, _, http) = app.services_mut();
            http.as_mut()
                .ok_or(HttpError::NoClient)
                .and_then(|client| client.get(url, now))
                .map_err(|e| anyhow!("GET {}: {e}", shown_url(url)))?;
            let download = match &args.output {
                Some(path) if path.as_os_str() == "-" => Download::stdout(),
                Some(path) => Download::create(path)?,
                None => Download::create(&default_name(url))?,
            };
            let idle = Duration::from_secs(args.timeout_s);
            let max_time = args.max_time.map(Duration::from_secs);
            Some(Fetch::new(url, download, idle, max_time, now))
        }
        None => None,
    };
    let mut console = Console::new(plan.serve.is_some(), fetch);
    if net.ipv6() {
        console = console.with_ipv6(Ipv6Addresses::new(&net.ip6));
    }
    if plan.serve.is_some() {
        console.waiting();
    }
    let stop = node.run(&mut app, &mut console)?;
    log::info!("stopped: {stop:?}");
    if plan.serve.is_none() && stop == Stop::Signal {
        bail!("interrupted; nothing saved");
    }
    Ok(if console.fetch_failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn stack_config(net: &NetArgs) -> StackConfig {
    // Distinct initial sequence numbers and ports on every start, so a restarted device
    // does not collide with connections the host still remembers.
    let mut config = StackConfig::unaddressed(net.mac.0)
        .with_seed(RandomState::new().hash_one(std::process::id()));
    config.ip = net.ip;
    config.gateway = net.gateway;
    // At most StackConfig::MAX_STATIC_IPV6 of them: NetArgs::check.
    for cidr in &net.ip6 {
        config = config.with_ipv6(cidr.address(), cidr.prefix_len());
    }
    if net.slaac {
        config = config.with_slaac();
    }
    config
}

/// The core's HTTP settings from `get`/`run` flags. `--timeout-s` is the core's idle timeout:
/// only a server silent that long fails the GET.
fn http_config(args: &FetchArgs) -> HttpConfig {
    let limits = &args.limits;
    HttpConfig::default()
        .with_idle_timeout(Duration::from_secs(args.timeout_s))
        .with_max_url(limits.max_url)
        .with_max_head(limits.max_head)
        .with_max_headers(limits.max_headers)
}

fn greeting_config(args: &ServeArgs) -> GreetingConfig {
    GreetingConfig::default()
        .with_port(args.port)
        .with_reply_delay(Duration::from_millis(args.delay_ms))
        .with_idle_timeout(Duration::from_secs(args.idle_timeout_s))
        .with_reserve(args.sockets)
}

/// `[T; N]` on the heap, built element by element (never on the stack first).
fn boxed_array<T, const N: usize>(mut make: impl FnMut() -> T) -> Box<[T; N]> {
    let items: Box<[T]> = (0..N).map(|_| make()).collect();
    match items.try_into() {
        Ok(array) => array,
        Err(_) => unreachable!("exactly N items were collected"),
    }
}
