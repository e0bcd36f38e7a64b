//! Checks the build-time settings of the App this crate builds (the GET's URL, the HTTPS
//! trust anchor) and puts the CA certificate where `src/run.rs` includes it from.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=TCPLINK_GET_URL");
    println!("cargo:rerun-if-env-changed=TCPLINK_SOCKETS");
    println!("cargo:rerun-if-env-changed=TCPLINK_CA_DER");
    // The GET client is the `get` feature (it turns on the core's HTTP and DNS, which an
    // environment variable cannot); the URL says what to fetch. One without the other is a
    // mistake, caught here rather than by a build that silently ignores the URL.
    let get = env::var_os("CARGO_FEATURE_GET").is_some();
    let url = env::var_os("TCPLINK_GET_URL").is_some();
    if url && !get {
        panic!("TCPLINK_GET_URL is set: build with `--features get` to compile the GET client in");
    }
    if get && !url {
        panic!("`--features get` needs TCPLINK_GET_URL=http://host[:port]/path");
    }
    // HTTPS trusts exactly one CA, given as a DER file at build time and compiled in
    // (OUT_DIR/ca.der, `include_bytes!` in src/main.rs): a board has no system store.
    if env::var_os("CARGO_FEATURE_TLS").is_some() {
        let Some(path) = env::var_os("TCPLINK_CA_DER") else {
            panic!(
                "`--features tls` needs TCPLINK_CA_DER=/path/ca.der, the CA (DER) that signed \
                 the server's certificate"
            );
        };
        let path = PathBuf::from(path);
        let der =
            fs::read(&path).unwrap_or_else(|e| panic!("TCPLINK_CA_DER={}: {e}", path.display()));
        // A PEM file by mistake would only fail at the handshake as "unknown CA".
        if der.first() != Some(&0x30) {
            panic!(
                "TCPLINK_CA_DER={} is not DER (PEM? `openssl x509 -outform der`)",
                path.display()
            );
        }
        fs::write(out.join("ca.der"), der).expect("write ca.der");
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
