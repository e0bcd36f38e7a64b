//! An isolated network namespace with a TAP interface: where the tcplink device runs on Linux.
//!
//! The host side of the TAP is 192.168.69.1/24 and fd00:69::1/64 inside the namespace; the
//! device (smoltcp on that TAP) is 192.168.69.2 and fd00:69::2. Everything lives in the namespace, so tests never touch the
//! machine's own interfaces and can run in parallel under distinct namespace names.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::prereq;

/// The host side of the TAP link, inside the namespace.
pub const HOST_IP: &str = "192.168.69.1";
/// The tcplink device's address on the TAP link.
pub const DEVICE_IP: &str = "192.168.69.2";
/// The link's prefix length.
pub const PREFIX: u8 = 24;
/// The host side of the TAP link, IPv6 (a unique local address, RFC 4193).
pub const HOST_IP6: &str = "fd00:69::1";
/// The tcplink device's static IPv6 address on the TAP link.
pub const DEVICE_IP6: &str = "fd00:69::2";
/// The IPv6 link's prefix length; 64, as SLAAC needs.
pub const PREFIX6: u8 = 64;

/// The default namespace name of the CLI.
pub const DEFAULT_NAME: &str = "tcplink";
/// The default TAP name of the CLI.
pub const DEFAULT_TAP: &str = "tap0";

const TUN_DEVICE: &str = "/dev/net/tun";
/// CAP_NET_ADMIN (interfaces, addresses) and CAP_SYS_ADMIN (`ip netns` mounts and setns).
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// A network namespace with a persistent TAP; deleted (with the TAP) when dropped.
#[derive(Debug)]
pub struct Namespace {
    name: String,
    tap: String,
}

impl Namespace {
    /// Creates namespace `name` with TAP `tap` (192.168.69.1/24, fd00:69::1/64, up) and lo up;
    /// replaces a stale one.
    pub fn create(name: &str, tap: &str) -> io::Result<Namespace> {
        check_name("namespace", name, 255)?;
        // IFNAMSIZ is 16 including the NUL.
        check_name("TAP", tap, 15)?;
        privileges().map_err(|reason| io::Error::new(io::ErrorKind::PermissionDenied, reason))?;
        if exists(name)? {
            ip(&["netns", "del", name])?;
        }
        ip(&["netns", "add", name])?;
        // From here on the guard deletes the namespace again if a later step fails.
        let ns = Namespace {
            name: name.to_string(),
            tap: tap.to_string(),
        };
        let cidr = format!("{HOST_IP}/{PREFIX}");
        ip(&["-n", name, "tuntap", "add", tap, "mode", "tap"])?;
        // No duplicate address detection on the TAP at all: its link-local address is then
        // valid the moment the device attaches, not a second later, so radvd answers the
        // device's first router solicitation (SLAAC in tens of ms instead of ~5 s: smoltcp
        // asks again only after 4 s). And no router advertisements taken: the host side is
        // the router (radvd in the SLAAC test) and keeps its fixed addresses. Slashes: a TAP
        // name may contain a dot.
        let no_dad = format!("net/ipv6/conf/{tap}/accept_dad=0");
        let no_ra = format!("net/ipv6/conf/{tap}/accept_ra=0");
        run_in(name, &["sysctl", "-qw", &no_dad, &no_ra])?;
        ip(&["-n", name, "addr", "add", &cidr, "dev", tap])?;
        // `nodad`: usable at once. Duplicate address detection would keep it tentative (not
        // bindable) for a second or more, and for good while the TAP has no carrier.
        let cidr6 = format!("{HOST_IP6}/{PREFIX6}");
        ip(&["-n", name, "-6", "addr", "add", &cidr6, "dev", tap, "nodad"])?;
        ip(&["-n", name, "link", "set", tap, "up"])?;
        ip(&["-n", name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn tap(&self) -> &str {
        &self.tap
    }

    /// `ip netns exec NAME program` as a Command ready for args.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // Deleting the namespace destroys the TAP in it too.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Deletes namespace `name` (and its TAP) if it exists; returns whether it existed.
pub fn delete(name: &str) -> io::Result<bool> {
    check_name("namespace", name, 255)?;
    if !exists(name)? {
        return Ok(false);
    }
    ip(&["netns", "del", name])?;
    Ok(true)
}

/// Whether `ip netns list` shows namespace `name`.
pub fn exists(name: &str) -> io::Result<bool> {
    let out = ip_output(&["netns", "list"])?;
    // Lines look like `tcplink (id: 3)` or just `tcplink`.
    Ok(out
        .lines()
        .any(|line| line.split_whitespace().next() == Some(name)))
}

/// Whether TAP/netns tests can run here: Ok(()) or Err(reason) (not root, no `ip`, no /dev/net/tun).
pub fn privileges() -> Result<(), String> {
    check_capabilities()?;
    match Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err("`ip` (iproute2) is not installed or not on PATH".into())
        }
        Err(e) => return Err(format!("cannot run `ip`: {e}")),
    }
    if !Path::new(TUN_DEVICE).exists() {
        return Err(format!(
            "{TUN_DEVICE} is missing (no TUN/TAP support; try `modprobe tun`)"
        ));
    }
    Ok(())
}

/// For tests: true if the privileged test may run; otherwise [`prereq::skip`]s with the reason
/// (printed `SKIP <test>: <reason>`, or a panic under CI=true).
pub fn require_privileges(test: &str) -> bool {
    match privileges() {
        Ok(()) => true,
        Err(reason) => prereq::skip(test, &reason),
    }
}

/// Reads the effective capabilities from /proc, since being root is not enough in a container
/// that dropped them, and a non-root user may hold them.
fn check_capabilities() -> Result<(), String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::trim)
    };
    let uid = field("Uid:")
        .and_then(|v| v.split_whitespace().nth(1))
        .unwrap_or("?");
    let caps = field("CapEff:")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .ok_or("cannot parse CapEff in /proc/self/status")?;
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    if has(CAP_NET_ADMIN) && has(CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(format!(
            "not root (effective uid {uid}; CAP_NET_ADMIN and CAP_SYS_ADMIN are needed)"
        ))
    }
}

fn check_name(what: &str, name: &str, max: usize) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid {what} name {name:?} (1..={max} of A-Z a-z 0-9 - _ .)"),
        ))
    }
}

/// Runs `program ARGS` inside namespace `name`.
fn run_in(name: &str, program_args: &[&str]) -> io::Result<()> {
    let mut args = vec!["netns", "exec", name];
    args.extend_from_slice(program_args);
    ip(&args)
}

/// Runs `ip ARGS`; a failure carries the command and ip's own message.
fn ip(args: &[&str]) -> io::Result<()> {
    ip_output(args).map(drop)
}

fn ip_output(args: &[&str]) -> io::Result<String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                io::Error::new(e.kind(), "`ip` (iproute2) is not installed or not on PATH")
            } else {
                io::Error::new(e.kind(), format!("cannot run `ip`: {e}"))
            }
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(io::Error::other(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("TAP", "tap0", 15).is_ok());
        assert!(check_name("TAP", "a-very-long-tap-name", 15).is_err());
        assert!(check_name("namespace", "../x", 255).is_err());
        assert!(check_name("namespace", "", 255).is_err());
        assert!(check_name("namespace", "has space", 255).is_err());
    }
}
