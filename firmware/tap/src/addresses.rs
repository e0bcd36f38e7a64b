//! The device's IPv6 addresses on stdout, next to the seed's lines and the DHCP lease: those
//! it starts with, then each one it learns from a router advertisement (SLAAC), so a user or
//! a test knows where to reach it.
//!
//! Only when IPv6 was asked for (`--ip6`, `--slaac`): an IPv4 run prints exactly what it did
//! before.

use smoltcp::wire::{Ipv6Address, Ipv6Cidr};

/// The addresses already shown, to tell which are new.
#[derive(Debug, Default)]
pub struct Ipv6Addresses {
    shown: Vec<Ipv6Cidr>,
    /// The static ones (`--ip6`), named as such.
    configured: Vec<Ipv6Cidr>,
}

impl Ipv6Addresses {
    /// Shows addresses, the `configured` ones (`--ip6`) named static.
    pub fn new(configured: &[Ipv6Cidr]) -> Self {
        Self {
            shown: Vec::new(),
            configured: configured.to_vec(),
        }
    }

    /// One line per address of `current` not shown before: `IPv6: link-local ADDR/PREFIX`,
    /// `IPv6: static ...`, or `IPv6: SLAAC ..., router ROUTER` for one learned from `router`.
    pub fn new_lines(
        &mut self,
        current: impl IntoIterator<Item = Ipv6Cidr>,
        router: Option<Ipv6Address>,
    ) -> Vec<String> {
        let mut lines = Vec::new();
        for cidr in current {
            if self.shown.contains(&cidr) {
                continue;
            }
            self.shown.push(cidr);
            lines.push(if cidr.address().is_unicast_link_local() {
                format!("IPv6: link-local {cidr}")
            } else if self.configured.contains(&cidr) {
                format!("IPv6: static {cidr}")
            } else {
                match router {
                    Some(router) => format!("IPv6: SLAAC {cidr}, router {router}"),
                    None => format!("IPv6: SLAAC {cidr}"),
                }
            });
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv6Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn each_address_once_named_by_origin() {
        let link_local = cidr("fe80::ff:fe00:2/64");
        let fixed = cidr("fd00:69::2/64");
        let learned = cidr("fd00:69::ff:fe00:2/64");
        let router = "fe80::1".parse().unwrap();
        let mut shown = Ipv6Addresses::new(&[fixed]);
        assert_eq!(
            shown.new_lines([link_local, fixed], None),
            [
                "IPv6: link-local fe80::ff:fe00:2/64",
                "IPv6: static fd00:69::2/64"
            ]
        );
        assert!(shown.new_lines([link_local, fixed], None).is_empty());
        assert_eq!(
            shown.new_lines([link_local, fixed, learned], Some(router)),
            ["IPv6: SLAAC fd00:69::ff:fe00:2/64, router fe80::1"]
        );
        assert!(shown
            .new_lines([link_local, learned], Some(router))
            .is_empty());
    }
}
