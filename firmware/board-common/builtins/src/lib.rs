//! Compact replacements for the compiler_builtins routines the board firmware links: memory
//! copies and fills, and 64-bit division.
//!
//! compiler_builtins defines these symbols weakly, so the linker takes ours. Theirs are
//! tuned for speed (3.8 KB of the greeting firmware's 27.8 KB flash); ours are a word or a
//! bit at a time, a few hundred bytes, and fast enough for a board whose frames are 1.5 KB.
//! The tests run on the host: `cargo test -p tcplink-board-builtins --target host-tuple`
//! (on the host the symbols keep their Rust names, so the test binary keeps libc's).
//!
//! `#![no_builtins]`: LLVM must not turn the loops back into calls to the very functions
//! they implement.
// The host's test harness needs std; the firmware gets none.
#![cfg_attr(not(test), no_std)]
#![no_builtins]

pub mod div;
pub mod mem;
