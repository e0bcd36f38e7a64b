//! A client TCP connection whose every operation has a timeout and whose errors name the peer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::{NetError, Op};
use crate::protocol::RECV_SIZE;

/// A connected stream plus what the error messages need (peer and timeout).
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
}

impl Conn {
    /// Connects with `timeout` and applies it to every later read and write, so no call hangs.
    pub fn connect(peer: SocketAddr, timeout: Duration) -> Result<Conn, NetError> {
        let fail = |e| NetError::new(Op::Connect, peer, timeout, e);
        let stream = TcpStream::connect_timeout(&peer, timeout).map_err(fail)?;
        stream.set_read_timeout(Some(timeout)).map_err(fail)?;
        stream.set_write_timeout(Some(timeout)).map_err(fail)?;
        Ok(Conn {
            stream,
            peer,
            timeout,
        })
    }

    fn err(&self, op: Op, e: std::io::Error) -> NetError {
        NetError::new(op, self.peer, self.timeout, e)
    }

    /// One `recv(1024)`, as the seed does: whatever one read returns (empty at end of stream).
    pub fn recv_once(&mut self) -> Result<Vec<u8>, NetError> {
        let mut buf = [0u8; RECV_SIZE];
        loop {
            match self.stream.read(&mut buf) {
                Ok(n) => return Ok(buf[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err(Op::Read, e)),
            }
        }
    }

    pub fn send(&mut self, data: &[u8]) -> Result<(), NetError> {
        self.stream
            .write_all(data)
            .map_err(|e| self.err(Op::Write, e))
    }

    /// Closes our side; errors are ignored because the session's outcome is already known.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
