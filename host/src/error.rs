//! Client-side errors, worded as one line that names the cause.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// The socket operation that failed, so the message can say what was being attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Connect,
    Read,
    Write,
}

/// A socket operation against `peer` failed.
#[derive(Debug)]
pub struct NetError {
    pub op: Op,
    pub peer: SocketAddr,
    /// The timeout that was in force, for the "timed out after" wording.
    pub timeout: Duration,
    pub source: io::Error,
}

impl NetError {
    pub fn new(op: Op, peer: SocketAddr, timeout: Duration, source: io::Error) -> Self {
        NetError {
            op,
            peer,
            timeout,
            source,
        }
    }

    /// Whether the operation ran out of time (Linux reports an expired `SO_RCVTIMEO` as EAGAIN).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    }
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peer = self.peer;
        let secs = self.timeout.as_secs_f64();
        match (self.op, self.source.kind()) {
            (Op::Connect, io::ErrorKind::ConnectionRefused) => {
                write!(f, "connection refused by {peer}")
            }
            _ if self.is_timeout() => {
                let what = match self.op {
                    Op::Connect => "connecting to",
                    Op::Read => "waiting for data from",
                    Op::Write => "sending to",
                };
                write!(f, "timed out after {secs} s {what} {peer}")
            }
            (_, io::ErrorKind::ConnectionReset) => write!(f, "connection reset by {peer}"),
            (_, io::ErrorKind::BrokenPipe) => write!(f, "connection closed by {peer}"),
            (op, _) => {
                let what = match op {
                    Op::Connect => "connect to",
                    Op::Read => "read from",
                    Op::Write => "write to",
                };
                write!(f, "cannot {what} {peer}: {}", self.source)
            }
        }
    }
}

impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Why a client session failed.
#[derive(Debug)]
pub enum SessionError {
    /// The network failed.
    Net(NetError),
    /// The peer answered something other than the protocol's reply.
    Unexpected {
        peer: SocketAddr,
        expected: Vec<u8>,
        got: Vec<u8>,
    },
    /// Writing the transcript (stdout) failed.
    Output(io::Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Net(e) => e.fmt(f),
            SessionError::Unexpected {
                peer,
                expected,
                got,
            } => write!(
                f,
                "unexpected reply from {peer}: expected {:?}, got {:?}",
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(got)
            ),
            SessionError::Output(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Net(e) => Some(e),
            SessionError::Unexpected { .. } => None,
            SessionError::Output(e) => Some(e),
        }
    }
}

impl From<NetError> for SessionError {
    fn from(e: NetError) -> Self {
        SessionError::Net(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(op: Op, kind: io::ErrorKind) -> String {
        NetError::new(
            op,
            "127.0.0.1:9999".parse().unwrap(),
            Duration::from_secs(5),
            io::Error::from(kind),
        )
        .to_string()
    }

    #[test]
    fn messages_name_the_cause() {
        assert_eq!(
            err(Op::Connect, io::ErrorKind::ConnectionRefused),
            "connection refused by 127.0.0.1:9999"
        );
        assert_eq!(
            err(Op::Read, io::ErrorKind::WouldBlock),
            "timed out after 5 s waiting for data from 127.0.0.1:9999"
        );
        assert_eq!(
            err(Op::Write, io::ErrorKind::ConnectionReset),
            "connection reset by 127.0.0.1:9999"
        );
    }
}
