//! `embassy-tap`: embassy-net (smoltcp under embassy's async API) on a Linux TAP through
//! embassy-net-tuntap, run by embassy's std executor: a contender of `tcplink-bench`
//! (issue 16). Written the way embassy's examples are: one task runs the stack, and the
//! greeting server is 64 tasks, each looping accept / serve / close on its own socket.

use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Config, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_net_tuntap::TunTapDevice;
use embassy_time::{with_timeout, Duration};
use embedded_io_async::Write as _;
use static_cell::StaticCell;

/// Greeting sockets, one task each, as `tcplink-tap serve --sockets 64`.
const SOCKETS: usize = 64;
/// Each greeting socket's receive and send buffer (a greeting is a few bytes).
const GREETING_BUFFER: usize = 1024;
/// The GET socket's receive buffer (its window), as tcplink-tap's GET socket.
const GET_WINDOW: usize = 1 << 20;

#[derive(Parser)]
#[command(name = "embassy-tap")]
struct Cli {
    /// The TAP to attach to (it must exist).
    #[arg(long)]
    tap: String,
    /// The device's address and prefix, e.g. 192.168.69.2/24.
    #[arg(long)]
    ip: String,
    #[arg(long, default_value = "02:00:00:00:00:02")]
    mac: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Clone)]
enum Cmd {
    /// The seed's greeting server; runs until killed.
    Serve {
        #[arg(long, default_value_t = 9999)]
        port: u16,
    },
    /// GET URL (http://A.B.C.D:PORT/PATH), the body counted; prints `N bytes`.
    Get {
        url: String,
        #[arg(long, default_value_t = 120)]
        timeout_s: u64,
    },
}

#[embassy_executor::task]
async fn net_task(mut runner: Runner<'static, TunTapDevice>) -> ! {
    runner.run().await
}

/// The seed's protocol on one socket: `Welcome`, one `Hello, X!` per received segment (the
/// seed's recv(1024)), close on `exit` or when the peer closes; the seed's log lines.
#[embassy_executor::task(pool_size = SOCKETS)]
async fn greeting_task(stack: Stack<'static>, port: u16) -> ! {
    let mut rx = [0; GREETING_BUFFER];
    let mut tx = [0; GREETING_BUFFER];
    loop {
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        if socket.accept(port).await.is_err() {
            continue;
        }
        let Some(peer) = socket.remote_endpoint() else {
            continue;
        };
        println!("Accept new connection from {}:{}...", peer.addr, peer.port);
        if serve(&mut socket).await.is_ok() {
            println!("Connection from {}:{} close.", peer.addr, peer.port);
        }
        socket.close();
        let _ = socket.flush().await;
    }
}

async fn serve(socket: &mut TcpSocket<'_>) -> Result<(), embassy_net::tcp::Error> {
    socket.write_all(b"Welcome").await?;
    let mut msg = [0; 1024];
    let mut reply = [0; 1024 + 8];
    loop {
        let n = socket.read(&mut msg).await?;
        if n == 0 || &msg[..n] == b"exit" {
            return Ok(());
        }
        reply[..7].copy_from_slice(b"Hello, ");
        reply[7..7 + n].copy_from_slice(&msg[..n]);
        reply[7 + n] = b'!';
        socket.write_all(&reply[..n + 8]).await?;
    }
}

/// One GET on a socket with a 1 MiB window; the body is counted and discarded.
#[embassy_executor::task]
async fn get_task(stack: Stack<'static>, server: Ipv4Addr, port: u16, path: String, limit: u64) {
    let outcome = with_timeout(Duration::from_secs(limit), get(stack, server, port, &path)).await;
    match outcome {
        Ok(Ok(bytes)) => {
            println!("{bytes} bytes");
            std::process::exit(0);
        }
        Ok(Err(e)) => eprintln!("embassy-tap: GET failed: {e}"),
        Err(_) => eprintln!("embassy-tap: GET timed out after {limit} s"),
    }
    std::process::exit(1);
}

async fn get(
    stack: Stack<'static>,
    server: Ipv4Addr,
    port: u16,
    path: &str,
) -> Result<u64, String> {
    stack.wait_config_up().await;
    let rx = vec![0; GET_WINDOW].leak();
    let tx = vec![0; 4096].leak();
    let mut socket = TcpSocket::new(stack, rx, tx);
    socket
        .connect((server, port))
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {server}:{port}\r\nConnection: close\r\n\r\n");
    socket
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("request: {e:?}"))?;
    let mut buf = vec![0u8; 64 * 1024];
    // The head, then the body: counted up to Content-Length (or until the server closes).
    let mut head = Vec::new();
    let (length, mut body) = loop {
        let n = socket
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e:?}"))?;
        if n == 0 {
            return Err("connection closed in the response head".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&head[..end]).into_owned();
            if !text.starts_with("HTTP/1.1 200") && !text.starts_with("HTTP/1.0 200") {
                return Err(format!("status line {:?}", text.lines().next()));
            }
            let length = text.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<u64>().ok())?
            });
            break (length, (head.len() - end - 4) as u64);
        }
    };
    while length.is_none_or(|l| body < l) {
        let n = socket
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e:?}"))?;
        if n == 0 {
            break;
        }
        body += n as u64;
    }
    if length.is_some_and(|l| body != l) {
        return Err(format!("{body} of {} bytes", length.unwrap_or(0)));
    }
    socket.close();
    let _ = socket.flush().await;
    Ok(body)
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut mac = [0; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        let part = parts.next().ok_or("expected six hex bytes")?;
        *byte = u8::from_str_radix(part, 16).map_err(|e| e.to_string())?;
    }
    match parts.next() {
        None => Ok(mac),
        Some(_) => Err("expected six hex bytes".into()),
    }
}

/// `http://A.B.C.D[:PORT]/PATH` as (address, port, path).
fn parse_url(url: &str) -> Result<(Ipv4Addr, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs with an IPv4 address")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|e| format!("port: {e}"))?),
        None => (authority, 80),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((
        host.parse().map_err(|e| format!("host {host}: {e}"))?,
        port,
        path.to_string(),
    ))
}

fn setup(cli: &Cli) -> Result<(TunTapDevice, Config), String> {
    let (ip, prefix) = cli.ip.split_once('/').ok_or("--ip: expected A.B.C.D/N")?;
    let ip: Ipv4Addr = ip.parse().map_err(|e| format!("--ip: {e}"))?;
    let prefix: u8 = prefix.parse().map_err(|e| format!("--ip prefix: {e}"))?;
    let mut device =
        TunTapDevice::new(&cli.tap).map_err(|e| format!("cannot attach TAP {}: {e}", cli.tap))?;
    device.set_hardware_address(parse_mac(&cli.mac).map_err(|e| format!("--mac: {e}"))?);
    let config = Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ip, prefix),
        gateway: None,
        dns_servers: Default::default(),
    });
    Ok((device, config))
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let cli = Cli::parse();
    let (device, config) = match setup(&cli) {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("embassy-tap: {e}");
            std::process::exit(1);
        }
    };
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    static RESOURCES: StaticCell<StackResources<{ SOCKETS + 1 }>> = StaticCell::new();
    let (stack, runner) =
        embassy_net::new(device, config, RESOURCES.init(StackResources::new()), seed);
    spawner.spawn(net_task(runner).expect("net task"));
    match cli.command {
        Cmd::Serve { port } => {
            for _ in 0..SOCKETS {
                spawner.spawn(greeting_task(stack, port).expect("greeting task pool"));
            }
            println!("Waiting for connection...");
        }
        Cmd::Get { url, timeout_s } => match parse_url(&url) {
            Ok((server, port, path)) => {
                spawner.spawn(get_task(stack, server, port, path, timeout_s).expect("GET task"));
            }
            Err(e) => {
                eprintln!("embassy-tap: {url}: {e}");
                std::process::exit(1);
            }
        },
    }
}
