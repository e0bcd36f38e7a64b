//! The stop signals as a readable descriptor, so the poll loop's one poll(2) wakes for them
//! and the program exits through its normal path (temporary files removed, pcap complete, TAP
//! offloads off). SIGHUP (terminal closed, ssh dropped) and SIGQUIT stop it just as SIGINT and
//! SIGTERM do: dying of them would leave all three undone.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

/// The signals that stop the program.
const STOP_SIGNALS: [libc::c_int; 4] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT];

/// The read end of a self-pipe that the stop signals write to.
pub struct Shutdown {
    read: UnixStream,
}

impl Shutdown {
    /// Installs the handlers. From now on these signals no longer kill the process: the poll
    /// loop must check [`requested`](Self::requested) whenever the descriptor is readable.
    pub fn install() -> io::Result<Self> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        for signal in STOP_SIGNALS {
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        Ok(Self { read })
    }

    /// Whether a signal arrived (drains the pipe).
    pub fn requested(&self) -> bool {
        let mut buf = [0u8; 16];
        let mut got = false;
        // Bounded: the pipe holds at most a few bytes per signal delivered.
        for _ in 0..64 {
            match (&self.read).read(&mut buf) {
                Ok(n) if n > 0 => got = true,
                _ => break,
            }
        }
        got
    }
}

impl AsFd for Shutdown {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}
