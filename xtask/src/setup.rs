//! What the tests need from the machine: Debian packages and rustup targets, checked first and
//! installed when allowed (root with apt-get for packages; rustup for targets).

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A Debian package the tests need, and a program it provides (how it is checked; `""` for a
/// package without one, checked with dpkg-query).
pub struct Package {
    pub name: &'static str,
    pub program: &'static str,
}

impl Package {
    const fn new(name: &'static str, program: &'static str) -> Package {
        Package { name, program }
    }
}

/// Every Debian package a test uses. Add a line when a test starts using a new tool.
pub const PACKAGES: &[Package] = &[
    // `ip`: network namespaces and TAP devices for the TAP and QEMU tests.
    Package::new("iproute2", "ip"),
    // The emulated Cortex-M3 board (host/tests/board_qemu.rs).
    Package::new("qemu-system-arm", "qemu-system-arm"),
    // DHCP and DNS inside the test namespace (firmware/tap/tests/get.rs).
    Package::new("dnsmasq", "dnsmasq"),
    // Reads the pcap files tcplink-tap writes (firmware/tap/tests/serve.rs).
    Package::new("tcpdump", "tcpdump"),
    // Checks that tcplink-tap switches the TAP's offloads off again.
    Package::new("ethtool", "ethtool"),
    // The seed's own programs, http.server and the tests' small Python clients.
    Package::new("python3", "python3"),
    // `size`: the board firmware's footprint (cargo xtask ci, the benchmarks).
    Package::new("binutils", "size"),
    // `setpriv`: runs tcplink-tap without privileges in a test.
    Package::new("util-linux", "setpriv"),
    // nginx: a real HTTP server for the TAP GET tests, the benchmark's nginx row and the
    // board's HTTPS GET (host/tests/board_qemu.rs).
    Package::new("nginx", "nginx"),
    // curl: the kernel-to-kernel client the benchmark's nginx row compares with.
    Package::new("curl", "curl"),
    // `nft`: drops 5 % of the TAP's frames in the greeting-under-loss test (this kernel may
    // have no netem).
    Package::new("nftables", "nft"),
    // lwIP built for the board's Cortex-M3, beside tcplink's footprint (tcplink-bench budget).
    Package::new("gcc-arm-none-eabi", "arm-none-eabi-gcc"),
    // The C library headers lwIP's build includes.
    Package::new("libnewlib-arm-none-eabi", ""),
    // The host C compiler and <linux/if_tun.h>: lwIP on a TAP, tcplink-bench's peer stack
    // (tests/bench/lwip-tap, built by `cc` in its build.rs; its transcript test and the
    // bench smoke run).
    Package::new("gcc", "gcc"),
    Package::new("linux-libc-dev", ""),
    // socat: an ordinary line-oriented client for the greeting server (tests/interop.rs).
    Package::new("socat", "socat"),
    // `kill`: the TAP tests stop tcplink-tap with SIGTERM.
    Package::new("procps", "kill"),
    // `ping`: echo over IPv4 and IPv6 to the device (firmware/tap/tests/ping.rs, board_qemu.rs).
    Package::new("iputils-ping", "ping"),
    // Router advertisements for the device's SLAAC address (firmware/tap/tests/ipv6.rs).
    Package::new("radvd", "radvd"),
    // `openssl s_server -tls1_3`: a TLS 1.3 server for the HTTPS TAP tests (firmware/tap/tests/https.rs);
    // the CA and certificates of the board's HTTPS test (host/tests/board_qemu.rs).
    Package::new("openssl", "openssl"),
];

/// Rustup targets: the core's microcontroller check and the board firmware.
pub const TARGETS: &[&str] = &["thumbv7em-none-eabihf", "thumbv7m-none-eabi"];

/// What this run may do to the machine.
pub struct Machine {
    pub root: bool,
    pub apt: bool,
}

impl Machine {
    pub fn probe() -> Machine {
        Machine {
            root: effective_uid() == Some(0),
            apt: find_program("apt-get").is_some(),
        }
    }

    pub fn can_install_packages(&self) -> bool {
        self.root && self.apt
    }
}

/// The effective uid, from /proc (no libc call needed).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    uids.split_whitespace().nth(1)?.parse().ok()
}

/// `command -v program`, also looking in the sbin directories a non-root PATH may lack.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|file| file.is_file())
}

fn installed(package: &Package) -> bool {
    if !package.program.is_empty() {
        // What the tests look for; `dpkg -s` also succeeds for a removed package whose
        // configuration files are left ("deinstall ok config-files").
        return find_program(package.program).is_some();
    }
    Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Status}", package.name])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout == b"installed")
}

/// The packages of [`PACKAGES`] not installed here.
pub fn missing_packages() -> Vec<&'static str> {
    PACKAGES
        .iter()
        .filter(|p| !installed(p))
        .map(|p| p.name)
        .collect()
}

/// The Debian package that provides `program`, if the list has it.
pub fn package_of(program: &str) -> Option<&'static str> {
    PACKAGES
        .iter()
        .find(|p| p.program == program)
        .map(|p| p.name)
}

/// Checks the packages and installs the missing ones if `install` and the machine allow it.
/// Returns the ones still missing (their tests will print SKIP).
pub fn packages(machine: &Machine, install: bool) -> Result<Vec<&'static str>, String> {
    let missing = missing_packages();
    if missing.is_empty() {
        println!("packages: all {} present", PACKAGES.len());
        return Ok(missing);
    }
    println!("packages: missing {}", missing.join(" "));
    if !install {
        println!("packages: --no-install given, not installing; their tests will be skipped");
        return Ok(missing);
    }
    if !machine.can_install_packages() {
        let why = if machine.root {
            "no apt-get here"
        } else {
            "not root"
        };
        println!("packages: cannot install ({why}); their tests will be skipped");
        return Ok(missing);
    }
    println!(
        "packages: apt-get update && apt-get install -y {}",
        missing.join(" ")
    );
    run_quiet(Command::new("apt-get").args(["update", "-qq"]))?;
    run_quiet(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still = missing_packages();
    if !still.is_empty() {
        return Err(format!(
            "still missing after apt-get install: {}",
            still.join(" ")
        ));
    }
    Ok(still)
}

/// Checks the rustup targets and adds the missing ones if `install`. Returns those still missing.
pub fn targets(install: bool) -> Vec<&'static str> {
    let Ok(out) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        println!(
            "targets: rustup not found; assuming the toolchain has {}",
            TARGETS.join(", ")
        );
        return Vec::new();
    };
    let have = String::from_utf8_lossy(&out.stdout).into_owned();
    let missing: Vec<&str> = TARGETS
        .iter()
        .copied()
        .filter(|t| !have.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        println!("targets: {} present", TARGETS.join(", "));
        return missing;
    }
    if !install {
        println!(
            "targets: missing {} (--no-install: not adding)",
            missing.join(" ")
        );
        return missing;
    }
    println!("targets: rustup target add {}", missing.join(" "));
    if let Err(e) = run_quiet(
        Command::new("rustup")
            .arg("target")
            .arg("add")
            .args(&missing),
    ) {
        println!("targets: {e}");
        return missing;
    }
    Vec::new()
}

/// Runs `cmd`; on failure returns its output in the error.
pub fn run_quiet(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
