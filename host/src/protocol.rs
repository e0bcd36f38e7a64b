//! The seed's greeting protocol: the constants and the reply rule shared by client and server.

/// What the server sends first on every connection.
pub const WELCOME: &[u8] = b"Welcome";
/// The message that ends a session.
pub const EXIT: &[u8] = b"exit";
/// The names the seed's client sends.
pub const DEFAULT_NAMES: [&str; 3] = ["Alice", "Bob", "Jack"];
/// The size of one `recv(1024)` in the seed.
pub const RECV_SIZE: usize = 1024;

/// The server's answer to one message: `Hello, X!` (bytes that are not UTF-8 are replaced,
/// where the seed's `decode('utf-8')` would have raised).
pub fn reply(message: &[u8]) -> Vec<u8> {
    format!("Hello, {}!", String::from_utf8_lossy(message)).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_wraps_name() {
        assert_eq!(reply(b"Alice"), b"Hello, Alice!");
        assert_eq!(reply(b"\xff"), "Hello, \u{fffd}!".as_bytes());
    }
}
