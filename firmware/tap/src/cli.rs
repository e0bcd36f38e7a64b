//! The command line: what to run, on which TAP, with which addresses.

use std::path::PathBuf;

use clap::builder::TypedValueParser;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use smoltcp::wire::{EthernetAddress, IpAddress, Ipv4Address, Ipv4Cidr, Ipv6Cidr};
use tcplink::stack::StackConfig;

use crate::tap::IoMode;

/// Socket counts the greeting server is built for. The core sizes its sockets with a const
/// generic (RAM fixed at compile time, as on a board), so each count is its own compiled
/// instance; these cover the useful range without compiling 64 of them.
pub const SUPPORTED_SOCKETS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// The tcplink core (a no_std smoltcp device) on a Linux TAP interface: the seed's greeting
/// server and HTTP GET client, answering on the TAP as a separate host would.
#[derive(Debug, Parser)]
#[command(name = "tcplink-tap", version)]
pub struct Cli {
    #[command(flatten)]
    pub net: NetArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The device's network: where it is attached and how it is addressed.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// TAP interface to attach to; opened if it exists, created (down, unconfigured) if not.
    #[arg(long, value_name = "NAME", value_parser = parse_tap_name)]
    pub tap: String,

    /// Ethernet address of the device (not the TAP's own, host-side address).
    #[arg(long, value_name = "MAC", default_value = "02:00:00:00:00:02", value_parser = parse_mac)]
    pub mac: EthernetAddress,

    /// Static IPv4 address and prefix of the device, e.g. 192.168.69.2/24.
    #[arg(long, value_name = "ADDR/PREFIX", value_parser = parse_cidr,
          required_unless_present_any = ["dhcp", "ip6", "slaac"], conflicts_with = "dhcp")]
    pub ip: Option<Ipv4Cidr>,

    /// Default gateway (with --ip).
    #[arg(long, value_name = "IP", requires = "ip")]
    pub gateway: Option<Ipv4Address>,

    /// Get the address, gateway and DNS servers by DHCP instead.
    #[arg(long)]
    pub dhcp: bool,

    /// Static IPv6 address and prefix of the device, e.g. fd00:69::2/64; repeat for a second
    /// one. The link-local address (fe80::/64, from the MAC) is always there.
    #[arg(long, value_name = "ADDR/PREFIX", value_parser = parse_cidr6, action = ArgAction::Append)]
    pub ip6: Vec<Ipv6Cidr>,

    /// Take an IPv6 address (and the default route) from router advertisements (SLAAC).
    #[arg(long)]
    pub slaac: bool,

    /// DNS server (IPv4 or IPv6) for host names in URLs; repeat for more (up to 4). Given, it
    /// is used instead of the one DHCP offers.
    #[arg(long = "dns", value_name = "IP", value_parser = parse_ip)]
    pub dns: Vec<IpAddress>,

    /// Attach the TAP without TCP segmentation and checksum offload: the host then sends
    /// 1514-byte frames (at MTU 1500) with finished checksums, as to a NIC without offloads
    /// (for comparisons with stacks that have none; bulk transfers are slower).
    #[arg(long)]
    pub no_offload: bool,

    /// How frames cross the TAP: `uring` (io_uring: reads kept armed, a loop turn's frames
    /// sent in one submission, one system call per turn) or `read-write` (read(2) and write(2)
    /// per frame, poll(2) to sleep). Where io_uring is unavailable (old kernel, seccomp,
    /// io_uring_disabled) `uring` runs as `read-write`, with a warning saying why.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = IoMode::Uring)]
    pub io: IoMode,

    /// Record every frame, both directions, to FILE (pcap; tcpdump -r FILE, Wireshark).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Log what the device does on stderr (-v info, -vv debug incl. smoltcp, -vvv trace);
    /// RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the greeting server (the seed's tcp_server.py) until SIGINT, SIGTERM, SIGHUP or SIGQUIT.
    Serve(ServeArgs),
    /// Fetch an http:// or https:// URL: print the response head, save the body, print its
    /// size.
    Get(GetArgs),
    /// Run the greeting server, and fetch a URL at the same time if --get is given.
    ///
    /// Serves until SIGINT, SIGTERM, SIGHUP or SIGQUIT; exits non-zero if the fetch failed.
    Run(RunArgs),
}

/// The greeting server's settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TCP port to listen on.
    #[arg(long, default_value_t = 9999, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// Clients served at once; one more is refused (RST) at once. One of 1, 2, 4, 8, 16, 32, 64.
    /// As many sockets again are kept for connections still closing.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = parse_sockets)]
    pub sockets: usize,

    /// Wait this long before each reply (the seed sleeps 1000 ms); other clients are not held up.
    #[arg(long, value_name = "MS", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub delay_ms: u64,

    /// Close a connection that sends nothing for this long.
    #[arg(long, value_name = "S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_s: u64,
}

/// One fetch.
#[derive(Debug, Clone, Args)]
pub struct GetArgs {
    /// http:// or https://host[:port]/path (host name, IPv4 address, or IPv6 address in
    /// brackets).
    pub url: String,
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Capacity of the GET client's URL buffer: the most `--max-url` may ask for.
pub const MAX_URL: usize = 64 * 1024;
/// Capacity of the GET client's response head buffer: the most `--max-head` may ask for.
pub const MAX_HEAD: usize = 256 * 1024;
/// Headers the GET client has room for: the most `--max-headers` may ask for.
pub const MAX_HEADERS: usize = 1024;

/// Limits of a fetch, within the client's compiled capacities.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Longest URL, given or from a redirect's Location (at most 65536).
    #[arg(long, value_name = "BYTES", default_value_t = 8192,
          value_parser = clap::value_parser!(u64).range(16..=MAX_URL as u64).map(|n| n as usize))]
    pub max_url: usize,

    /// Largest response head: status line and headers (at most 262144).
    #[arg(long, value_name = "BYTES", default_value_t = 65536,
          value_parser = clap::value_parser!(u64).range(64..=MAX_HEAD as u64).map(|n| n as usize))]
    pub max_head: usize,

    /// Most headers in a response (at most 1024).
    #[arg(long, value_name = "N", default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(1..=MAX_HEADERS as u64).map(|n| n as usize))]
    pub max_headers: usize,
}

/// Where a fetch saves, and how long it may take.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// Save the body here; `-` writes it to stdout (the head and messages then go to stderr)
    /// [default: the URL's last path segment, or index.html].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Give up when the server sends nothing for this long (an idle timeout, like wget's
    /// --read-timeout: a slow download that keeps making progress goes on).
    #[arg(long, value_name = "S", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub timeout_s: u64,

    #[command(flatten)]
    pub limits: LimitArgs,

    /// Give up if the whole fetch (DNS, connect, transfer) takes longer than this [default:
    /// no limit].
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub max_time: Option<u64>,

    #[command(flatten)]
    pub tls: TlsArgs,
}

/// How `https://` servers are trusted, and which TLS engine talks to them.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Trust the CA certificates in this PEM file (one or several) instead of the system's
    /// store (/etc/ssl/certs/ca-certificates.crt). The chain is checked by webpki (RFC 5280:
    /// path built in any order, as curl does; extendedKeyUsage, pathLen, name constraints,
    /// dates, host name) with either engine.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's certificate at all (like curl -k). Anyone on the path can
    /// then read and change the download; a warning says so.
    #[arg(long)]
    pub insecure: bool,

    /// The TLS engine behind the HTTP client.
    #[arg(long, value_name = "ENGINE", value_enum, default_value_t = TlsEngine::Rustls)]
    pub tls_engine: TlsEngine,
}

/// The TLS engines `--tls-engine` picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsEngine {
    /// rustls (tcplink-rustls): TLS 1.3 and 1.2; X25519, P-256, P-384;
    /// AES-128/256-GCM, ChaCha20-Poly1305; ECDSA, RSA and Ed25519 certificates
    Rustls,
    /// The board's engine (embedded-tls, no heap): TLS 1.3 only; X25519, P-256; AES-128-GCM;
    /// ECDSA P-256/P-384 and RSA certificates
    Embedded,
}

/// Serve, optionally fetching at the same time.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Fetch this http:// or https:// URL while serving.
    #[arg(long, value_name = "URL")]
    pub get: Option<String>,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Interface names are at most 15 bytes (IFNAMSIZ - 1); the kernel would silently truncate a
/// longer one and attach to some other interface.
fn parse_tap_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && !s
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0);
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not an interface name (1 to 15 bytes, no '/', ':' or spaces)"
        ))
    }
}

fn parse_mac(s: &str) -> Result<EthernetAddress, String> {
    let mac: EthernetAddress = s
        .parse()
        .map_err(|()| format!("{s:?} is not a MAC address like 02:00:00:00:00:02"))?;
    if !mac.is_unicast() {
        return Err(format!(
            "{s} is a multicast address; a device needs a unicast one"
        ));
    }
    Ok(mac)
}

fn parse_cidr(s: &str) -> Result<Ipv4Cidr, String> {
    let cidr: Ipv4Cidr = s
        .parse()
        .map_err(|()| format!("{s:?} is not ADDR/PREFIX like 192.168.69.2/24"))?;
    if cidr.prefix_len() == 0 || cidr.prefix_len() > 32 {
        return Err(format!("prefix of {s} must be 1..=32"));
    }
    Ok(cidr)
}

fn parse_cidr6(s: &str) -> Result<Ipv6Cidr, String> {
    let cidr: Ipv6Cidr = s
        .parse()
        .map_err(|()| format!("{s:?} is not ADDR/PREFIX like fd00:69::2/64"))?;
    let addr = cidr.address();
    if cidr.prefix_len() == 0 || cidr.prefix_len() > 128 {
        return Err(format!("prefix of {s} must be 1..=128"));
    }
    if addr.is_multicast() || addr.is_unspecified() || addr.is_loopback() {
        return Err(format!("{s} is not an address a device can have"));
    }
    Ok(cidr)
}

fn parse_ip(s: &str) -> Result<IpAddress, String> {
    s.parse()
        .map_err(|()| format!("{s:?} is not an IPv4 or IPv6 address"))
}

impl NetArgs {
    /// Checks what clap cannot: the number of static IPv6 addresses the core has room for.
    pub fn check(&self) -> Result<(), String> {
        let max = StackConfig::MAX_STATIC_IPV6;
        if self.ip6.len() > max {
            return Err(format!(
                "--ip6 given {} times; the device has room for {max}",
                self.ip6.len()
            ));
        }
        Ok(())
    }

    /// Whether the device is told to use IPv6 beyond its link-local address.
    pub fn ipv6(&self) -> bool {
        !self.ip6.is_empty() || self.slaac
    }
}

fn parse_sockets(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if SUPPORTED_SOCKETS.contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} sockets is not a built-in size; use one of {SUPPORTED_SOCKETS:?} \
             (the core fixes the count at compile time)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn static_or_dhcp_exactly_one() {
        let base = ["tcplink-tap", "--tap", "tap0"];
        let with = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra));
        assert!(with(&["serve"]).is_err());
        assert!(with(&["--ip", "192.168.69.2/24", "--dhcp", "serve"]).is_err());
        assert!(with(&["--dhcp", "serve"]).is_ok());
        let cli = with(&["--ip", "192.168.69.2/24", "serve", "--sockets", "16"]).unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("not serve")
        };
        assert_eq!((serve.port, serve.sockets), (9999, 16));
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let err = Cli::try_parse_from([
            "tcplink-tap",
            "--tap",
            "t",
            "--ip",
            "1.2.3.4/24",
            "serve",
            "--sockets",
            "3",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a built-in size"), "{err}");
        assert!(parse_tap_name("tap0").is_ok());
        assert!(parse_tap_name("a-very-long-tap-name").is_err());
        assert!(parse_tap_name("../x").is_err());
        assert!(parse_mac("01:00:5e:00:00:01").is_err());
        assert!(parse_mac("02:00:00:00:00:02").is_ok());
        assert!(parse_cidr("192.168.69.2").is_err());
        assert!(parse_cidr("192.168.69.2/0").is_err());
    }

    #[test]
    fn ipv6_addresses_and_servers() {
        let base = ["tcplink-tap", "--tap", "tap0"];
        let with = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra));
        // IPv6 alone is enough to address the device; so is SLAAC.
        let cli = with(&["--ip6", "fd00:69::2/64", "--ip6", "fd00:70::2/64", "serve"]).unwrap();
        assert_eq!(
            cli.net.ip6,
            [
                "fd00:69::2/64".parse().unwrap(),
                "fd00:70::2/64".parse().unwrap()
            ]
        );
        assert!(cli.net.check().is_ok() && cli.net.ipv6() && cli.net.ip.is_none());
        assert!(with(&["--slaac", "serve"]).unwrap().net.ipv6());
        let v4 = with(&["--ip", "192.168.69.2/24", "serve"]).unwrap();
        assert!(!v4.net.ipv6());
        // Dual stack, with a DNS server of each family.
        let cli = with(&[
            "--ip",
            "192.168.69.2/24",
            "--ip6",
            "fd00:69::2/64",
            "--slaac",
            "--dns",
            "fd00:69::1",
            "--dns",
            "192.168.69.1",
            "serve",
        ])
        .unwrap();
        assert_eq!(
            cli.net.dns,
            [
                IpAddress::Ipv6("fd00:69::1".parse().unwrap()),
                IpAddress::Ipv4(Ipv4Address::new(192, 168, 69, 1))
            ]
        );
        let mut args = Vec::new();
        let addrs: Vec<String> = (0..=StackConfig::MAX_STATIC_IPV6)
            .map(|i| format!("fd0{i}::2/64"))
            .collect();
        for addr in &addrs {
            args.extend(["--ip6", addr.as_str()]);
        }
        args.push("serve");
        let err = with(&args).unwrap().net.check().unwrap_err();
        let room = format!("room for {}", StackConfig::MAX_STATIC_IPV6);
        assert!(err.contains(&room), "{err}");
        assert!(parse_cidr6("fd00:69::2").is_err());
        assert!(parse_cidr6("fd00:69::2/0").is_err());
        assert!(parse_cidr6("fd00:69::2/129").is_err());
        assert!(parse_cidr6("ff02::1/64").is_err());
        assert!(parse_cidr6("::1/128").is_err());
        assert!(parse_cidr6("192.168.69.2/24").is_err());
        assert!(parse_ip("fd00:69::1").is_ok());
        assert!(parse_ip("[fd00:69::1]").is_err());
    }
}
