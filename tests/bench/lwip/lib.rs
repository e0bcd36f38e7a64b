//! Nothing to compile: this package exists so cargo fetches lwIP's sources (see Cargo.toml).
