//! lwIP 2.2 built for the board's CPU, the yardstick of the footprint figure: its C sources
//! come from crates.io through cargo (tests/bench/lwip/Cargo.toml), the options and a
//! minimal raw-API program doing the board's work are in tests/bench/lwip, and Debian's
//! arm-none-eabi-gcc compiles them with -Os for a Cortex-M3, linked with --gc-sections.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs;

/// Where this crate keeps the lwIP port files and the sources' manifest.
fn port_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lwip")
}

/// The lwIP source tree (`src/` of the `lwip` crate), fetched by cargo if needed.
pub fn sources() -> Result<PathBuf, String> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--manifest-path",
    ])
    .arg(port_dir().join("Cargo.toml"));
    let json = procs::run(
        cmd,
        "cargo metadata (lwIP sources)",
        Duration::from_secs(600),
    )?;
    let meta: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    let manifest = meta["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == "lwip"))
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("cargo metadata lists no lwip package")?;
    let src = Path::new(manifest)
        .parent()
        .ok_or("lwip manifest has no directory")?
        .join("src");
    if !src.join("include/lwip/init.h").exists() {
        return Err(format!("no lwIP sources in {}", src.display()));
    }
    Ok(src)
}

/// What lwIP is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    /// TCP, IPv4, ARP, ICMP: the greeting server.
    TcpOnly,
    /// The same with UDP, DHCP and DNS: the greeting server and a GET by name.
    Full,
}

impl Config {
    pub fn label(self) -> &'static str {
        match self {
            Config::TcpOnly => "lwIP 2.2, TCP only (greeting server)",
            Config::Full => "lwIP 2.2, TCP + UDP + DHCP + DNS (greeting + GET)",
        }
    }
}

/// Builds lwIP and the raw-API program with `config` into `out`; returns the ELF.
pub fn build(src: &Path, config: Config, out: &Path) -> Result<PathBuf, String> {
    const GCC: &str = "arm-none-eabi-gcc";
    let dir = out.join(match config {
        Config::TcpOnly => "lwip-tcp",
        Config::Full => "lwip-full",
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let port = port_dir();
    let mut files = Vec::new();
    for sub in ["core", "core/ipv4"] {
        let entries = std::fs::read_dir(src.join(sub)).map_err(|e| format!("{sub}: {e}"))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_some_and(|e| e == "c") {
                files.push(path);
            }
        }
    }
    files.sort();
    files.push(src.join("netif/ethernet.c"));
    files.push(port.join("app.c"));
    let cpu = ["-mcpu=cortex-m3", "-mthumb", "-Os"];
    let mut cc = Command::new(GCC);
    cc.current_dir(&dir)
        .args(cpu)
        .args(["-ffunction-sections", "-fdata-sections", "-c"])
        .arg(format!(
            "-DTCPLINK_LWIP_FULL={}",
            u8::from(config == Config::Full)
        ))
        .arg("-I")
        .arg(port.join("port"))
        .arg("-I")
        .arg(src.join("include"))
        .args(&files);
    procs::run(cc, GCC, Duration::from_secs(600)).map_err(|e| {
        format!("{e} (needs Debian's gcc-arm-none-eabi and libnewlib-arm-none-eabi)")
    })?;
    let mut objects: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "o"))
        .collect();
    objects.sort();
    let elf = dir.join("lwip.elf");
    let mut link = Command::new(GCC);
    link.current_dir(&dir)
        .args(cpu)
        .args(["-Wl,--gc-sections", "-nostartfiles", "-Wl,-e,main"])
        .args(["--specs=nano.specs", "--specs=nosys.specs"])
        .args(&objects)
        .arg("-o")
        .arg(&elf);
    procs::run(link, "arm-none-eabi-gcc (link)", Duration::from_secs(120))?;
    Ok(elf)
}
