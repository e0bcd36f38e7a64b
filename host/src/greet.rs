//! The seed's tcp_client.py: the same exchange and the same output, with timeouts.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use crate::client::Conn;
use crate::error::SessionError;
use crate::protocol::EXIT;

/// Runs one seed session against `peer` and writes its transcript to `out`.
///
/// Like the seed: print one `recv(1024)` (the welcome), then for each name send it and print
/// one `recv(1024)`, then send `exit` and close. Each received chunk is decoded as UTF-8
/// (lossily) and followed by `\n`, as Python's `print` does, so the output is byte-identical to
/// the seed client's. `timeout` bounds the connect and every read and write.
pub fn greet<S: AsRef<str>>(
    peer: SocketAddr,
    names: &[S],
    timeout: Duration,
    out: &mut dyn Write,
) -> Result<(), SessionError> {
    let mut conn = Conn::connect(peer, timeout)?;
    let mut print = |data: &[u8]| -> Result<(), SessionError> {
        let line = String::from_utf8_lossy(data);
        writeln!(out, "{line}")
            .and_then(|()| out.flush())
            .map_err(SessionError::Output)
    };
    print(&conn.recv_once()?)?;
    for name in names {
        conn.send(name.as_ref().as_bytes())?;
        print(&conn.recv_once()?)?;
    }
    conn.send(EXIT)?;
    conn.close();
    Ok(())
}
