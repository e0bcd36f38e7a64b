//! Figure 5: flash and static RAM of the mps2-an385 board firmware, built as users build it
//! (`cargo build --release` in firmware/mps2-an385) with the two size opt-levels and 1, 4
//! and 16 greeting sockets, through the knobs that need no code change:
//! `CARGO_PROFILE_RELEASE_OPT_LEVEL` and the firmware's `TCPLINK_SOCKETS`. Measured with
//! GNU `size -A` (section sizes), into a target directory of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs;
use crate::report::{Section, Table};

/// One build's sizes in bytes.
#[derive(Debug, Clone, Copy)]
struct Size {
    flash: u64,
    ram: u64,
}

fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../firmware/mps2-an385")
}

fn build(dir: &Path, target: &Path, opt: &str, sockets: usize, get: bool) -> Result<Size, String> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--release", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt)
        .env("TCPLINK_SOCKETS", sockets.to_string())
        .env_remove("TCPLINK_DNS");
    if get {
        // Only compiles the GET client in; nothing is fetched at build time.
        cmd.env("TCPLINK_GET_URL", "http://192.168.69.1:8000/blob.bin");
    } else {
        cmd.env_remove("TCPLINK_GET_URL");
    }
    let what = format!("firmware build (opt-level {opt}, {sockets} sockets)");
    procs::run(cmd, &what, Duration::from_secs(900))?;
    let elf = target.join("thumbv7m-none-eabi/release/tcplink-mps2-an385");
    let mut size = Command::new("size");
    size.arg("-A").arg(&elf);
    let text = procs::run(size, "size -A", Duration::from_secs(30))?;
    let section = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    let data = section(".data");
    Ok(Size {
        // What is programmed: vectors, code, constants, and .data's initial values.
        flash: section(".vector_table") + section(".text") + section(".rodata") + data,
        // What is reserved at boot (the stack comes on top).
        ram: data + section(".bss") + section(".uninit"),
    })
}

/// Figure 5.
pub fn figure(counts: &[usize]) -> Result<Section, String> {
    let dir = firmware_dir();
    if !dir.join("Cargo.toml").exists() {
        return Err(format!("no firmware at {}", dir.display()));
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-firmware");
    let mut t = Table::new(&[
        "opt-level",
        "build",
        "sockets",
        "flash (bytes)",
        "static RAM (bytes)",
        "flash ≤ 64 KiB",
        "RAM ≤ 32 KiB",
    ]);
    let mut per_socket = Vec::new();
    let kib = |v: u64| format!("{v} ({:.1} KiB)", v as f64 / 1024.0);
    let ok = |v: u64, max: u64| if v <= max { "yes" } else { "no" }.to_string();
    for opt in ["s", "z"] {
        let mut sizes = Vec::new();
        for &n in counts {
            let s = build(&dir, &target, opt, n, false)?;
            eprintln!(
                "footprint opt-level {opt}, {n:>2} sockets: flash {} RAM {}",
                s.flash, s.ram
            );
            t.row(vec![
                format!("\"{opt}\""),
                "greeting only".into(),
                n.to_string(),
                kib(s.flash),
                kib(s.ram),
                ok(s.flash, 64 * 1024),
                ok(s.ram, 32 * 1024),
            ]);
            sizes.push((n, s));
        }
        let g = build(&dir, &target, opt, 4, true)?;
        eprintln!(
            "footprint opt-level {opt}, 4 sockets + GET: flash {} RAM {}",
            g.flash, g.ram
        );
        t.row(vec![
            format!("\"{opt}\""),
            "greeting + GET client (`TCPLINK_GET_URL`)".into(),
            "4".into(),
            kib(g.flash),
            kib(g.ram),
            ok(g.flash, 64 * 1024),
            ok(g.ram, 32 * 1024),
        ]);
        if let (Some((a, sa)), Some((b, sb))) = (sizes.first(), sizes.last()) {
            if b > a {
                per_socket.push(format!(
                    "opt-level \"{opt}\": {:.0} bytes RAM and {:.0} bytes flash per extra socket",
                    (sb.ram as f64 - sa.ram as f64) / (b - a) as f64,
                    (sb.flash as f64 - sa.flash as f64) / (b - a) as f64
                ));
            }
        }
    }
    let mut s = Section::new("footprint", "5. Footprint of the mps2-an385 firmware");
    s.para(
        "`cargo build --release` in firmware/mps2-an385 (LTO, one codegen unit, panic = abort) \
         with `CARGO_PROFILE_RELEASE_OPT_LEVEL` and `TCPLINK_SOCKETS`; GNU `size -A`. Flash = \
         .vector_table + .text + .rodata + .data; static RAM = .data + .bss (the stack comes \
         on top). Goals: flash ≤ 64 KiB and RAM ≤ 32 KiB with 4 sockets.",
    );
    s.table(&t);
    s.para(&format!(
        "RAM per socket (from {} to {} sockets): {}.",
        counts.first().unwrap_or(&0),
        counts.last().unwrap_or(&0),
        per_socket.join("; ")
    ));
    Ok(s)
}
