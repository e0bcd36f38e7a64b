//! Parsing of `ADDR:PORT` arguments.

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `ADDR:PORT` (an IP literal or a host name such as `localhost`) to the first address.
///
/// Host names are accepted so `localhost:9999` works like the seed's `socket.connect`; IPv4
/// results are preferred because the seed's sockets are `AF_INET`.
pub fn resolve(spec: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {spec:?} (expected ADDR:PORT): {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{spec:?} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_localhost() {
        assert_eq!(
            resolve("127.0.0.1:9999").unwrap(),
            "127.0.0.1:9999".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(resolve("localhost:80").unwrap().port(), 80);
        assert!(resolve("127.0.0.1").is_err());
        assert!(resolve("127.0.0.1:99999").is_err());
    }
}
