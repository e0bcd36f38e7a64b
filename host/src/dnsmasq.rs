//! dnsmasq for tests: DHCP and DNS on the test namespace's TAP, every file under a state
//! directory, in the foreground.

use std::ffi::OsString;
use std::path::Path;

/// The arguments that run dnsmasq on `interface`: DHCP for 192.168.69.50-60 (gateway and DNS
/// 192.168.69.1, its own address), the name `files.test` → 192.168.69.1, DNS on port 53,
/// its pid and lease files in `state`.
pub fn args(interface: &str, state: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "--no-daemon",
        "--bind-interfaces",
        "--dhcp-range=192.168.69.50,192.168.69.60,12h",
        "--address=/files.test/192.168.69.1",
        "--no-resolv",
        "--no-hosts",
        "--port=53",
        // Offer at once instead of pinging the address for 3 s first.
        "--no-ping",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    args.push(format!("--interface={interface}").into());
    args.push(format!("--pid-file={}", state.join("pid").display()).into());
    args.push(format!("--dhcp-leasefile={}", state.join("leases").display()).into());
    args
}
