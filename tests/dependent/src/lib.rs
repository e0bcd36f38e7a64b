//! A crate that depends on tcplink the way a user's crate does: by path, outside tcplink's
//! workspace, with no `[patch]` section. It has no code of its own; its tests
//! (`tests/fixes.rs`) fetch over HTTPS through tcplink and show that the embedded-tls fixes
//! tcplink carries as the renamed crate `tcplink-embedded-tls` (third_party/README.md) reach
//! a dependent. `cargo xtask test` runs them.

pub use tcplink;
