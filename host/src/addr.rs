//! Parsing of `ADDR:PORT` arguments.

use std::net::{SocketAddr, ToSocketAddrs};

/// Resolves `ADDR:PORT` (an IP literal, IPv6 in brackets as `[fd00:69::2]:9999`, or a host
/// name such as `localhost`) to the first address.
///
/// Host names are accepted so `localhost:9999` works like the seed's `socket.connect`; IPv4
/// results are preferred because the seed's sockets are `AF_INET`.
pub fn resolve(spec: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // `fd00::1:80` would resolve as address fd00::1, port 80: reject the ambiguity.
    if spec
        .rsplit_once(':')
        .is_some_and(|(host, _)| host.contains(':'))
        && !spec.starts_with('[')
    {
        return Err(format!(
            "{spec:?}: an IPv6 address takes brackets before the port, as [fd00:69::2]:9999"
        ));
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

    #[test]
    fn ipv6_literals_in_brackets() {
        let v6 = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            resolve("[fd00:69::2]:9999").unwrap(),
            v6("[fd00:69::2]:9999")
        );
        // The listen addresses: every address of both families, or the TAP's own.
        assert_eq!(resolve("[::]:9999").unwrap(), v6("[::]:9999"));
        assert_eq!(
            resolve("[fd00:69::1]:8000").unwrap(),
            v6("[fd00:69::1]:8000")
        );
        assert_eq!(resolve("[fe80::1%1]:80").unwrap(), v6("[fe80::1%1]:80"));
        // Without brackets the port cannot be told from the address; no port at all.
        assert!(resolve("fd00:69::2:9999").is_err());
        assert!(resolve("[fd00:69::2]").is_err());
        assert!(resolve("[fd00:69::2]:65536").is_err());
    }
}
