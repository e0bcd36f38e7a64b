//! What an ELF links, from `nm`: flash by category (crate, or crate and module for the core
//! and smoltcp) and checks that a build links nothing of a capability it does not use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::procs;

/// One sized symbol.
#[derive(Debug, Clone)]
pub struct Symbol {
    /// Where it starts; functions the linker folded into one (`--icf`) share it.
    pub addr: u64,
    pub name: String,
    pub size: u64,
    /// In flash (code, constants) rather than RAM.
    pub flash: bool,
}

/// The sized symbols of `elf` (`nm -C -S --size-sort`), demangled.
pub fn read(elf: &Path) -> Result<Vec<Symbol>, String> {
    let mut nm = Command::new("nm");
    nm.args(["-C", "-S", "--size-sort"]).arg(elf);
    let text = procs::run(nm, "nm", Duration::from_secs(60))?;
    Ok(text.lines().filter_map(parse_line).collect())
}

/// `ADDR SIZE TYPE NAME`; `None` for lines without a size or of other types.
fn parse_line(line: &str) -> Option<Symbol> {
    let mut parts = line.splitn(4, ' ');
    let (addr, size, kind, name) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let addr = u64::from_str_radix(addr, 16).ok()?;
    let size = u64::from_str_radix(size, 16).ok()?;
    let flash = match kind {
        "t" | "T" | "r" | "R" => true,
        "b" | "B" | "d" | "D" => false,
        _ => return None,
    };
    Some(Symbol {
        addr,
        name: name.to_string(),
        size,
        flash,
    })
}

/// The board's own memory and division routines (firmware/board-common/builtins), which
/// replace compiler_builtins' by name.
const BOARD_BUILTINS: &str = "board builtins (memcpy & co., 64-bit division)";
const BOARD_BUILTIN_SYMBOLS: &[&str] = &[
    "memcpy",
    "memmove",
    "memset",
    "__aeabi_memcpy",
    "__aeabi_memcpy4",
    "__aeabi_memcpy8",
    "__aeabi_memmove",
    "__aeabi_memmove4",
    "__aeabi_memmove8",
    "__aeabi_memset",
    "__aeabi_memset4",
    "__aeabi_memset8",
    "__aeabi_memclr",
    "__aeabi_memclr4",
    "__aeabi_memclr8",
    "__udivmoddi4",
];

/// The category a symbol's flash is counted in.
pub fn category(name: &str) -> String {
    // `<smoltcp::x::Y as tcplink::text::TextOut>::put` belongs to the type's crate.
    let path = name.trim_start_matches(['<', '&', '*']);
    let path = path.strip_prefix("dyn ").unwrap_or(path);
    let path = path.strip_prefix("mut ").unwrap_or(path);
    let segments: Vec<&str> = path
        .split("::")
        .map(|s| s.split(['<', ' ', '(', '{', '>']).next().unwrap_or(""))
        .collect();
    match segments.as_slice() {
        [".Lanon" | "anon", ..] => "unnamed constants".into(),
        [first, ..] if first.starts_with(".L") => "unnamed constants".into(),
        // The board crate (its main inlines board-common's loop and the core) and what it
        // shares with the other boards.
        ["tcplink_mps2_an385" | "tcplink_lm3s6965evb" | "tcplink_board_common", ..] => {
            "board (main loop with the core inlined, driver)".into()
        }
        ["tcplink_board_builtins", ..] => BOARD_BUILTINS.into(),
        ["smoltcp", "socket", kind, ..] => format!("smoltcp::socket::{kind}"),
        ["smoltcp" | "tcplink", module, _, ..] => format!("{}::{module}", segments[0]),
        ["core", "fmt", ..] => "core::fmt".into(),
        ["core" | "alloc", ..] => "core (other)".into(),
        [krate, _, ..] => (*krate).to_string(),
        ["__INTERRUPTS" | "__EXCEPTIONS" | "__RESET_VECTOR"] => "vector table".into(),
        // Instruction sequences LLVM's machine outliner moved out of several functions.
        [outlined] if outlined.starts_with("OUTLINED_FUNCTION_") => "outlined code".into(),
        [symbol] if BOARD_BUILTIN_SYMBOLS.contains(symbol) => BOARD_BUILTINS.into(),
        _ if name.starts_with("__aeabi") || name.starts_with("__udiv") => {
            "compiler_builtins".into()
        }
        _ => "other symbols".into(),
    }
}

/// Flash bytes per category, largest first. Symbols the linker folded into one are counted
/// once, under the first name `nm` lists for them.
pub fn flash_by_category(symbols: &[Symbol]) -> Vec<(String, u64)> {
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    let mut counted = BTreeSet::new();
    for s in symbols.iter().filter(|s| s.flash) {
        if counted.insert(s.addr) {
            *sums.entry(category(&s.name)).or_default() += s.size;
        }
    }
    let mut sums: Vec<_> = sums.into_iter().collect();
    sums.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    sums
}

/// A capability and the symbol paths only it links.
#[derive(Debug, Clone, Copy)]
pub struct Capability {
    pub name: &'static str,
    pub markers: &'static [&'static str],
}

pub const HTTP: Capability = Capability {
    name: "HTTP",
    markers: &["tcplink::http", "tcplink::url", "httparse::"],
};
pub const DNS: Capability = Capability {
    name: "DNS",
    markers: &["smoltcp::socket::dns", "smoltcp::wire::dns"],
};
pub const DHCP: Capability = Capability {
    name: "DHCP",
    markers: &[
        "smoltcp::socket::dhcpv4",
        "smoltcp::wire::dhcpv4",
        "tcplink::dhcp",
    ],
};
pub const UDP_SOCKET: Capability = Capability {
    name: "UDP sockets",
    markers: &["smoltcp::socket::udp"],
};
/// HTTPS: the TLS 1.3 client, its layer in the core, and the P-256 curve it brings.
pub const TLS: Capability = Capability {
    name: "TLS",
    markers: &["embedded_tls::", "tcplink::tls", "p256::"],
};
/// Socket parking (the core's `parking` feature): the board's server has no spare sockets.
pub const PARKING: Capability = Capability {
    name: "socket parking",
    markers: &[
        "tcplink::parking",
        "GreetingServer<_,_>::park",
        "SocketSet::remove",
    ],
};
pub const FMT: Capability = Capability {
    name: "core::fmt",
    markers: &["core::fmt"],
};

/// The symbols of `symbols` that belong to `capability`.
pub fn linked<'a>(symbols: &'a [Symbol], capability: &Capability) -> Vec<&'a str> {
    symbols
        .iter()
        .filter(|s| capability.markers.iter().any(|m| s.name.contains(m)))
        .filter(|s| capability.name != FMT.name || !is_own_fmt_impl(&s.name))
        .map(|s| s.name.as_str())
        .collect()
}

/// A type's own `Debug`/`Display` impl (`<T as core::fmt::Debug>::fmt`) is not the
/// formatting machinery: it links that only by calling into it, and what it calls
/// (`core::fmt::write`, `core::fmt::Formatter::pad`, ...) is caught by its own name. (webpki's
/// signature algorithm trait requires `Debug`: the core's impl prints nothing.)
fn is_own_fmt_impl(name: &str) -> bool {
    name.starts_with('<') && !name.starts_with("<core::fmt") && name.contains(" as core::fmt::")
}

/// Checks that `symbols` link every capability of `present` and none of `absent`.
pub fn check(
    symbols: &[Symbol],
    present: &[Capability],
    absent: &[Capability],
) -> Result<(), String> {
    let mut problems = Vec::new();
    for c in absent {
        let found = linked(symbols, c);
        if !found.is_empty() {
            problems.push(format!(
                "{} is linked but not used: {}",
                c.name,
                found[..found.len().min(5)].join(", ")
            ));
        }
    }
    for c in present {
        if linked(symbols, c).is_empty() {
            problems.push(format!(
                "{} is used but no symbol of it is linked (has the check gone blind?)",
                c.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_follow_the_type_not_the_trait() {
        assert_eq!(
            category("smoltcp::socket::tcp::Socket::send_slice"),
            "smoltcp::socket::tcp"
        );
        assert_eq!(
            category("<tcplink_mps2_an385::console::Console as tcplink::text::TextOut>::put"),
            "board (main loop with the core inlined, driver)"
        );
        assert_eq!(category("tcplink::text::TextOut::decimal"), "tcplink::text");
        assert_eq!(category("core::fmt::write"), "core::fmt");
        assert_eq!(
            category("compiler_builtins::int::specialized_div_rem::u64_div_rem"),
            "compiler_builtins"
        );
        assert_eq!(category("__aeabi_uldivmod"), "compiler_builtins");
        assert_eq!(category("memmove"), BOARD_BUILTINS);
        assert_eq!(category("__udivmoddi4"), BOARD_BUILTINS);
        assert_eq!(
            category("tcplink_board_builtins::mem::copy_forward"),
            BOARD_BUILTINS
        );
        assert_eq!(category(".Lanon.f9e6bc70.173"), "unnamed constants");
        assert_eq!(category("__INTERRUPTS"), "vector table");
        assert_eq!(category("OUTLINED_FUNCTION_12"), "outlined code");
    }

    #[test]
    fn check_reports_unused_and_missing_capabilities() {
        let line = |s: &str| parse_line(s).unwrap();
        let symbols = [
            line("00001000 00000100 t tcplink::http::client::HttpClient::service"),
            line("00002000 00000040 t core::fmt::write"),
            line("20000000 00000400 b tcplink_mps2_an385::main::VAR"),
            line("00003000 00000008 t <tcplink::tls::X as core::fmt::Debug>::fmt"),
        ];
        assert_eq!(
            linked(&symbols, &FMT),
            ["core::fmt::write"],
            "a type's own Debug impl is not core::fmt"
        );
        assert!(!symbols[2].flash);
        assert_eq!(check(&symbols, &[HTTP], &[DHCP]), Ok(()));
        let err = check(&symbols, &[DNS], &[FMT]).unwrap_err();
        assert!(
            err.contains("core::fmt is linked but not used: core::fmt::write"),
            "{err}"
        );
        assert!(err.contains("DNS is used but no symbol"), "{err}");
        assert_eq!(
            flash_by_category(&symbols),
            vec![
                ("tcplink::http".to_string(), 256),
                ("core::fmt".to_string(), 64),
                ("tcplink::tls".to_string(), 8)
            ]
        );
    }

    #[test]
    fn folded_functions_count_once() {
        let line = |s: &str| parse_line(s).unwrap();
        // `--icf=all` leaves two names on one body.
        let symbols = [
            line("00005a20 0000000c T __aeabi_memcpy4"),
            line("00005a20 0000000c T __aeabi_memcpy8"),
            line("00006000 00000010 t OUTLINED_FUNCTION_3"),
        ];
        assert_eq!(
            flash_by_category(&symbols),
            vec![
                ("outlined code".to_string(), 0x10),
                (BOARD_BUILTINS.to_string(), 0xc),
            ]
        );
    }
}
