//! `lwip-tap`: lwIP 2.2 on a Linux TAP, a contender of `tcplink-bench` (issue 16). The
//! arguments are parsed here; the stack, its TAP netif, the poll loop, the greeting server
//! and the GET are C (c/), built by build.rs.

use std::ffi::{c_char, c_int, CString};
use std::net::Ipv4Addr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

extern "C" {
    fn lwip_tap_serve(tap: *const c_char, ip: u32, prefix: u8, mac: *const u8, port: u16) -> c_int;
    #[allow(clippy::too_many_arguments)]
    fn lwip_tap_get(
        tap: *const c_char,
        ip: u32,
        prefix: u8,
        mac: *const u8,
        server: u32,
        port: u16,
        uri: *const c_char,
        timeout_s: u32,
    ) -> c_int;
}

#[derive(Parser)]
#[command(name = "lwip-tap")]
struct Cli {
    /// The TAP to attach to (it must exist).
    #[arg(long)]
    tap: String,
    /// The device's address and prefix, e.g. 192.168.69.2/24.
    #[arg(long, value_parser = parse_cidr)]
    ip: (Ipv4Addr, u8),
    #[arg(long, default_value = "02:00:00:00:00:02", value_parser = parse_mac)]
    mac: [u8; 6],
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The seed's greeting server; runs until killed.
    Serve {
        #[arg(long, default_value_t = 9999)]
        port: u16,
    },
    /// GET URL (http://A.B.C.D:PORT/PATH) with lwIP's httpc; prints `N bytes`.
    Get {
        url: String,
        #[arg(long, default_value_t = 120)]
        timeout_s: u32,
    },
}

fn parse_cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (ip, prefix) = s.split_once('/').ok_or("expected A.B.C.D/N")?;
    let prefix: u8 = prefix.parse().map_err(|e| format!("prefix: {e}"))?;
    if prefix > 32 {
        return Err("prefix above 32".into());
    }
    Ok((ip.parse().map_err(|e| format!("address: {e}"))?, prefix))
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let mut mac = [0; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        let part = parts.next().ok_or("expected six hex bytes")?;
        *byte = u8::from_str_radix(part, 16).map_err(|e| e.to_string())?;
    }
    if parts.next().is_some() {
        return Err("expected six hex bytes".into());
    }
    Ok(mac)
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Ok(tap) = CString::new(cli.tap) else {
        eprintln!("lwip-tap: TAP name contains NUL");
        return ExitCode::FAILURE;
    };
    let (ip, prefix) = cli.ip;
    let rc = match cli.command {
        // SAFETY: every pointer is to a NUL-terminated string or a 6-byte array that lives
        // until the call returns; the C side only reads them.
        Cmd::Serve { port } => unsafe {
            lwip_tap_serve(tap.as_ptr(), ip.to_bits(), prefix, cli.mac.as_ptr(), port)
        },
        Cmd::Get { url, timeout_s } => {
            let (server, port, path) = match parse_url(&url) {
                Ok(parts) => parts,
                Err(e) => {
                    eprintln!("lwip-tap: {url}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let Ok(uri) = CString::new(path) else {
                eprintln!("lwip-tap: URL contains NUL");
                return ExitCode::FAILURE;
            };
            // SAFETY: as above; `uri` is only read during the call.
            unsafe {
                lwip_tap_get(
                    tap.as_ptr(),
                    ip.to_bits(),
                    prefix,
                    cli.mac.as_ptr(),
                    server.to_bits(),
                    port,
                    uri.as_ptr(),
                    timeout_s,
                )
            }
        }
    };
    if rc == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
