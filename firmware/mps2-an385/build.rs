//! Puts memory.x and device.x where the linker finds them, so cortex-m-rt's link.x can
//! include them. The App's build-time settings (URL, sockets, CA) are checked by
//! tcplink-board-common's build.rs.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    fs::write(out.join("device.x"), include_bytes!("device.x")).expect("write device.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=device.x");
    println!("cargo:rerun-if-changed=build.rs");
}
