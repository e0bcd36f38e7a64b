//! `tcplink-host greet` against `embassy-tap serve` gives the seed's exact transcript and log
//! lines (root: a namespace of its own; otherwise skipped through tcplink_host::prereq).

#[path = "../../greeting_transcript.rs"]
mod greeting_transcript;

#[test]
fn host_greet_gets_the_seed_transcript() {
    greeting_transcript::seed_transcript("embassygreet", env!("CARGO_BIN_EXE_embassy-tap"));
}
