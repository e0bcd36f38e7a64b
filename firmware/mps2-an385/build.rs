//! Puts memory.x where the linker finds it, so cortex-m-rt's link.x can include it.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    // The GET client is compiled in only when a URL is given.
    println!("cargo::rustc-check-cfg=cfg(tcplink_get)");
    println!("cargo:rerun-if-env-changed=TCPLINK_GET_URL");
    println!("cargo:rerun-if-env-changed=TCPLINK_SOCKETS");
    if env::var_os("TCPLINK_GET_URL").is_some() {
        println!("cargo:rustc-cfg=tcplink_get");
    }
}
