//! Received checksums are verified on the TAP: a segment forged onto the host side of the TAP
//! (AF_PACKET, in sequence on the live connection) with a wrong TCP checksum is dropped and
//! counted, during a GET and during a greeting session; the same segment with a correct
//! checksum is taken, which shows the injection reaches the device.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;

/// The forger.
const INJECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/inject_frame.py");
/// The body: two pieces with a 1.5 s pause between them, when the forger strikes.
const PIECE: usize = 300_000;
/// What the forger writes as the next body bytes.
const FORGED: &[u8] = b"EVILEVILEVILEVIL";
/// The warning a run with dropped frames ends with.
const ONE_DROPPED: &str = "TAP tap0: 1 received frame(s) dropped for a wrong checksum";

/// A GET from the pausing server while the forger injects FORGED with a `good` or bad
/// checksum; returns the GET's output and the saved file.
fn get_with_forgery(lab: &Lab, out_dir: &Path, good: bool) -> (std::process::Output, Vec<u8>) {
    let which = if good { "good" } else { "bad" };
    let mut forger = Server::spawn(
        lab.cmd("python3")
            .args([INJECT, "get", DEVICE_IP, "8000", which]),
    );
    assert_eq!(forger.next_line(), "sniffing");
    let out_file = out_dir.join(which);
    let url = format!("http://{HOST_IP}:8000/file");
    let out = lab.run(
        lab.tap(&STATIC_NET)
            .args(["get", &url, "-o"])
            .arg(&out_file),
    );
    let acked = if good {
        "acknowledged"
    } else {
        "not acknowledged"
    };
    assert_eq!(forger.next_line(), format!("injected, {acked}"));
    let saved = std::fs::read(&out_file).unwrap_or_default();
    (out, saved)
}

#[test]
fn get_drops_a_segment_with_a_bad_checksum() {
    let Some(lab) = Lab::new("csumget", &["python3"]) else {
        return;
    };
    let body = random_bytes(2 * PIECE);
    let (_http, _root) = paced_server(&lab, 8000, &body, PIECE, "1.5");
    let out_dir = tempfile::tempdir().unwrap();

    // Wrong checksum: dropped and counted; the file is the server's, byte for byte.
    let (out, saved) = get_with_forgery(&lab, out_dir.path(), false);
    success(&out);
    assert_eq!(sha256_hex(&saved), sha256_hex(&body), "file corrupted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.ends_with(&format!("{ONE_DROPPED}\n")), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");

    // Right checksum, same path: the device takes the forged bytes as the body's next ones.
    let (out, saved) = get_with_forgery(&lab, out_dir.path(), true);
    success(&out);
    let mut forged = body.clone();
    forged[PIECE..PIECE + FORGED.len()].copy_from_slice(FORGED);
    assert_eq!(saved.len(), body.len());
    assert!(
        saved == forged,
        "a correct forged segment must be accepted (first difference at {:?})",
        saved.iter().zip(&forged).position(|(a, b)| a != b)
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// The forging greeting client (inject_frame.py greet) against `tcplink-tap serve`.
fn greet_with_forgery(lab: &Lab, good: bool) -> (String, String) {
    let mut server = lab.serve(&STATIC_NET, &[]);
    let which = if good { "good" } else { "bad" };
    let out = lab.run(
        lab.cmd("python3")
            .args([INJECT, "greet", DEVICE_IP, "9999", which])
            .stderr(Stdio::piped()),
    );
    let client = success(&out);
    if client.contains("no answer") {
        // The session went on to its normal end: the server logs it.
        while !server.seen.iter().any(|l| closed(l).is_some()) {
            server.next_line();
        }
    }
    let stderr = server.stop();
    (client, stderr)
}

#[test]
fn greeting_drops_a_segment_with_a_bad_checksum() {
    let Some(lab) = Lab::new("csumgreet", &["python3"]) else {
        return;
    };
    let (client, stderr) = greet_with_forgery(&lab, false);
    assert_eq!(
        client,
        format!(
            "Welcome\nno answer\n{}",
            TRANSCRIPT.strip_prefix("Welcome\n").unwrap()
        )
    );
    assert!(stderr.ends_with(&format!("{ONE_DROPPED}\n")), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");

    let (client, stderr) = greet_with_forgery(&lab, true);
    assert_eq!(client, "Welcome\nanswered Hello, EVIL!\n");
    assert_eq!(stderr, "");
}
