//! Compiles lwIP 2.2 (the C sources of the crates.io `lwip` crate, located through
//! tests/bench/lwip's manifest, as tcplink-bench's footprint figure does) with the host C
//! compiler, together with this contender's port in c/: options, TAP netif, greeting
//! server, GET.

use std::path::{Path, PathBuf};
use std::process::Command;

fn lwip_sources(manifest_dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(manifest_dir.join("../lwip/Cargo.toml"))
        .output()
        .expect("cannot run cargo metadata for the lwIP sources");
    assert!(
        out.status.success(),
        "cargo metadata (lwIP sources) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == "lwip"))
        .and_then(|p| p["manifest_path"].as_str())
        .expect("cargo metadata lists no lwip package");
    let src = Path::new(manifest).parent().expect("lwip dir").join("src");
    assert!(
        src.join("include/lwip/init.h").exists(),
        "no lwIP sources in {}",
        src.display()
    );
    src
}

fn c_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    files
}

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let src = lwip_sources(&here);
    let port = here.join("c");
    println!("cargo:rerun-if-changed=c");
    println!("cargo:rerun-if-changed=../lwip/Cargo.toml");
    let mut build = cc::Build::new();
    build
        .include(&port)
        .include(src.join("include"))
        .files(c_files(&src.join("core")))
        .files(c_files(&src.join("core/ipv4")))
        .file(src.join("netif/ethernet.c"))
        .file(src.join("apps/http/http_client.c"))
        .files(c_files(&port))
        // lwIP's own code is not ours to keep warning-free.
        .warnings(false);
    build.compile("lwip_tap");
}
