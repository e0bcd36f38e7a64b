//! How the greeting server turns received bytes into messages and messages into replies.
//!
//! Seed-compatible: the seed's server answers whatever one `recv(1024)` returned, so one read is
//! one message. Within a read, `\n` or `\r\n` separates messages, so a line-oriented client
//! (`nc`, telnet) works too. Empty lines are not messages. Bytes need not
//! be UTF-8: they are echoed back as they came.
//!
//! The server answers in place: a read stays in the socket's receive buffer, and these
//! functions look at it through small windows, so a message of any length streams out as one
//! reply without being copied whole.

/// Sent once when a client connects.
pub const WELCOME: &[u8] = b"Welcome";
/// The message that ends a session.
pub const EXIT: &[u8] = b"exit";
/// What is put before a message in its reply.
pub const REPLY_PREFIX: &[u8] = b"Hello, ";
/// What is put after a message in its reply.
pub const REPLY_SUFFIX: &[u8] = b"!";

/// The length of the line ending `seen` starts with (`\n` or `\r\n`), if it starts with one.
pub fn line_ending(seen: &[u8]) -> Option<usize> {
    match seen {
        [b'\n', ..] => Some(1),
        [b'\r', b'\n', ..] => Some(2),
        _ => None,
    }
}

/// How much of a message's next bytes can be answered now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// Bytes of the message: echo them.
    pub data: usize,
    /// Bytes consumed from the read: `data` plus the line ending if the message ends here.
    pub used: usize,
    /// Whether the message ends after `data`.
    pub ends: bool,
}

/// The next part of a message that starts at `seen`, a window of the read; `whole`: `seen`
/// reaches the end of the read.
///
/// A message ends at a line ending or at the end of the read. A `\r` that ends a window which
/// is not the whole read is held back (it may start `\r\n`); with windows of two bytes or
/// more, every call makes progress.
pub fn message_part(seen: &[u8], whole: bool) -> Part {
    match seen.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let data = if end > 0 && seen[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            Part {
                data,
                used: end + 1,
                ends: true,
            }
        }
        None if whole => Part {
            data: seen.len(),
            used: seen.len(),
            ends: true,
        },
        None => {
            let data = seen.len() - usize::from(seen.last() == Some(&b'\r'));
            Part {
                data,
                used: data,
                ends: false,
            }
        }
    }
}

/// Whether the message that starts at `seen` (a window of at least [`EXIT_WINDOW`] bytes, or
/// the whole rest of the read if `whole`) is `exit`.
pub fn starts_exit(seen: &[u8], whole: bool) -> bool {
    match seen.strip_prefix(EXIT) {
        Some(after) => (after.is_empty() && whole) || line_ending(after).is_some(),
        None => false,
    }
}

/// How many bytes [`starts_exit`] needs to see: `exit\r\n`.
pub const EXIT_WINDOW: usize = EXIT.len() + 2;

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// The messages of one read, answered through windows of `window` bytes the way the
    /// server streams them.
    fn all(read: &[u8], window: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            while let Some(n) = line_ending(&read[at..]) {
                at += n;
            }
            if at == read.len() {
                return out;
            }
            let mut message = Vec::new();
            loop {
                let end = read.len().min(at + window);
                let part = message_part(&read[at..end], end == read.len());
                message.extend_from_slice(&read[at..at + part.data]);
                at += part.used;
                if part.ends {
                    break;
                }
            }
            out.push(message);
        }
    }

    #[test]
    fn one_read_is_one_message() {
        for window in [2, 3, 64] {
            assert_eq!(all(b"Alice", window), [b"Alice".to_vec()]);
        }
    }

    #[test]
    fn lines_are_messages_and_crlf_is_stripped() {
        for window in [2, 3, 4, 64] {
            assert_eq!(
                all(b"Alice\nBob\r\n", window),
                [b"Alice".to_vec(), b"Bob".to_vec()]
            );
            assert_eq!(all(b"\r\n\n a \n", window), [b" a ".to_vec()]);
            assert_eq!(
                all(b"a\rb\r", window),
                [b"a\rb\r".to_vec()],
                "a lone CR is data"
            );
            assert_eq!(all(b"ab\r\r\nc", window), [b"ab\r".to_vec(), b"c".to_vec()]);
            assert!(all(b"\n\r\n", window).is_empty());
        }
    }

    #[test]
    fn exit_is_exact() {
        assert!(starts_exit(b"exit", true) && starts_exit(b"exit\r\nx", false));
        assert!(starts_exit(b"exit\nab", false));
        assert!(!starts_exit(b"exit2", true) && !starts_exit(b"Exit", true));
        assert!(!starts_exit(b"exit\r", true), "a lone CR is data");
        assert!(!starts_exit(b"exit\rx", false));
    }
}
