//! `tcplink-host greet` against `lwip-tap serve` gives the seed's exact transcript and log
//! lines (root: a namespace of its own; otherwise skipped through tcplink_host::prereq).

#[path = "../../greeting_transcript.rs"]
mod greeting_transcript;

#[test]
fn host_greet_gets_the_seed_transcript() {
    greeting_transcript::seed_transcript("lwipgreet", env!("CARGO_BIN_EXE_lwip-tap"));
}
