//! How the greeting server turns received bytes into messages and messages into replies.
//!
//! Seed-compatible: the seed's server answers whatever one `recv(1024)` returned, so one read is
//! one message. Within a read, `\n` or `\r\n` separates messages, so a line-oriented client
//! (`nc`, telnet) works too. Empty lines are not messages. Bytes need not
//! be UTF-8: they are echoed back as they came.

/// Sent once when a client connects.
pub const WELCOME: &[u8] = b"Welcome";
/// The message that ends a session.
pub const EXIT: &[u8] = b"exit";
/// What is put before a message in its reply.
pub const REPLY_PREFIX: &[u8] = b"Hello, ";
/// What is put after a message in its reply.
pub const REPLY_SUFFIX: &[u8] = b"!";
/// How many bytes a reply adds to its message.
pub const REPLY_OVERHEAD: usize = REPLY_PREFIX.len() + REPLY_SUFFIX.len();

/// The first message in `read`, and how many bytes of `read` it used up (its line ending too).
///
/// `None` when what is left holds no message (it is empty, or only line endings).
pub fn next_message(read: &[u8]) -> Option<(&[u8], usize)> {
    let mut start = 0;
    while start < read.len() {
        let rest = &read[start..];
        let line = match rest.iter().position(|&b| b == b'\n') {
            // A line ending is `\n` or `\r\n`; a `\r` elsewhere is data.
            Some(end) => {
                start += end + 1;
                let line = &rest[..end];
                line.strip_suffix(b"\r").unwrap_or(line)
            }
            None => {
                start += rest.len();
                rest
            }
        };
        if !line.is_empty() {
            return Some((line, start));
        }
    }
    None
}

/// Whether `message` ends the session.
pub fn is_exit(message: &[u8]) -> bool {
    message == EXIT
}

/// Length of the reply to `message`.
pub const fn reply_len(message: &[u8]) -> usize {
    message.len() + REPLY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(read: &[u8]) -> heapless::Vec<&[u8], 16> {
        let mut out = heapless::Vec::new();
        let mut at = 0;
        while let Some((msg, used)) = next_message(&read[at..]) {
            out.push(msg).unwrap();
            at += used;
        }
        out
    }

    #[test]
    fn one_read_is_one_message() {
        assert_eq!(all(b"Alice"), [b"Alice" as &[u8]]);
    }

    #[test]
    fn lines_are_messages_and_crlf_is_stripped() {
        assert_eq!(all(b"Alice\nBob\r\n"), [b"Alice" as &[u8], b"Bob"]);
        assert_eq!(all(b"\r\n\n a \n"), [b" a " as &[u8]]);
        assert_eq!(all(b"a\rb\r"), [b"a\rb\r" as &[u8]], "a lone CR is data");
        assert!(all(b"\n\r\n").is_empty());
    }

    #[test]
    fn exit_is_exact() {
        assert!(is_exit(b"exit") && !is_exit(b"exit2") && !is_exit(b"Exit"));
        assert_eq!(reply_len(b"Bob"), b"Hello, Bob!".len());
    }
}
