//! radvd for tests: router advertisements on a namespace's TAP, so a device there configures
//! its own IPv6 address by SLAAC. Its config and pid file live in a directory the caller owns
//! (a temp dir), so a run leaves nothing behind and needs no system configuration.

use std::path::Path;
use std::process::Stdio;

use crate::child::ChildGuard;
use crate::netns::Namespace;

/// radvd.conf advertising `prefix` (e.g. `fd00:69::/64`) on `interface`: on-link and
/// autonomous (hosts form addresses in it), every 3 to 4 s (radvd's shortest interval), so a
/// device that misses the first advertisement waits seconds, not minutes.
pub fn config(interface: &str, prefix: &str) -> String {
    format!(
        "interface {interface} {{\n    AdvSendAdvert on;\n    MinRtrAdvInterval 3;\n    \
         MaxRtrAdvInterval 4;\n    prefix {prefix} {{\n        AdvOnLink on;\n        \
         AdvAutonomous on;\n    }};\n}};\n"
    )
}

/// Writes `dir/radvd.conf` for `prefix` on `ns`'s TAP and starts radvd inside `ns` in the
/// foreground, its pid file and log (`radvd.log`) in `dir`. Killed when the guard drops.
///
/// Panics if radvd cannot start, like the other [`ChildGuard`] helpers (it is for tests).
pub fn spawn(ns: &Namespace, dir: &Path, prefix: &str) -> ChildGuard {
    let conf = dir.join("radvd.conf");
    std::fs::write(&conf, config(ns.tap(), prefix))
        .unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
    let mut cmd = ns.command("radvd");
    cmd.args(["--nodaemon", "--logmethod", "logfile", "--logfile"])
        .arg(dir.join("radvd.log"))
        .arg("--config")
        .arg(&conf)
        .arg("--pidfile")
        .arg(dir.join("radvd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ChildGuard::spawn(&mut cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_advertises_an_autonomous_prefix() {
        let conf = config("tap0", "fd00:69::/64");
        assert!(conf.starts_with("interface tap0 {\n"), "{conf}");
        assert!(conf.contains("AdvSendAdvert on;"), "{conf}");
        assert!(
            conf.contains(
                "prefix fd00:69::/64 {\n        AdvOnLink on;\n        AdvAutonomous on;\n    };\n"
            ),
            "{conf}"
        );
        assert!(conf.ends_with("};\n"), "{conf}");
    }
}
