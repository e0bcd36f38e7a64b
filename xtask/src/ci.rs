//! `cargo xtask ci`: the checks CI runs besides the tests, in order, stopping at the first
//! failure. Also builds the board firmware for `cargo xtask test`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cargo;

/// The board firmware's own workspace (its target and flags live in its .cargo/config.toml).
const BOARD: &str = "firmware/mps2-an385";
const BOARD_ELF: &str = "target/thumbv7m-none-eabi/release/tcplink-mps2-an385";
/// The second board (Stellaris Ethernet controller), its own workspace too.
const BOARD2: &str = "firmware/lm3s6965evb";
const BOARD2_ELF: &str = "target/thumbv7m-none-eabi/release/tcplink-lm3s6965evb";
/// What the boards share (its own workspace: the builtins' host tests run there).
const BOARD_COMMON: &str = "firmware/board-common";

/// A cargo command for the board's workspace: without the host build's settings, which would
/// override its target and flags.
fn board_cargo(root: &Path) -> Command {
    board_cargo_in(root, BOARD)
}

/// [`board_cargo`] in the firmware workspace `dir`.
fn board_cargo_in(root: &Path, dir: &str) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root.join(dir))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("TCPLINK_GET_URL");
    cmd
}

/// `cargo build --release` of each board's firmware.
pub fn build_board(root: &Path) -> Result<(), String> {
    step(board_cargo(root).args(["build", "--release"]))?;
    step(board_cargo_in(root, BOARD2).args(["build", "--release"]))
}

/// Runs `cmd` with its output shown; an error names it.
fn step(cmd: &mut Command) -> Result<(), String> {
    println!("$ {}", shown(cmd));
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", shown(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", shown(cmd)))
    }
}

/// `cmd` as one would type it (cwd and env aside).
fn shown(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program())
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let args = cmd.get_args().map(|a| a.to_string_lossy().into_owned());
    std::iter::once(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `cargo ARGS` in the repository's root.
fn root_cargo(root: &Path, args: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.args(args).current_dir(root);
    cmd
}

/// `cargo ARGS` in the board's workspace.
fn board(root: &Path, args: &[&str]) -> Command {
    board_in(root, BOARD, args)
}

/// `cargo ARGS` in the firmware workspace `dir`.
fn board_in(root: &Path, dir: &str, args: &[&str]) -> Command {
    let mut cmd = board_cargo_in(root, dir);
    cmd.args(args);
    cmd
}

/// Clippy of the core alone for the microcontroller target with `features` (none: `""`).
fn core_features(root: &Path, features: &str) -> Command {
    const MCU: [&str; 6] = [
        "clippy",
        "-p",
        "tcplink",
        "--target",
        "thumbv7em-none-eabihf",
        "--no-default-features",
    ];
    let mut cmd = root_cargo(root, &MCU);
    cmd.args(["--features", features, "--", "-D", "warnings"]);
    cmd
}

/// `cargo clippy` arguments for tcplink-board-common on the boards' target with `features`.
fn common_clippy(features: &str) -> Vec<&str> {
    let mut args = vec![
        "clippy",
        "-p",
        "tcplink-board-common",
        "--target",
        "thumbv7m-none-eabi",
    ];
    if !features.is_empty() {
        args.extend(["--features", features]);
    }
    args.extend(["--", "-D", "warnings"]);
    args
}

/// The crate outside the workspace that depends on tcplink as a user's would.
const DEPENDENT: &str = "tests/dependent/Cargo.toml";

pub fn run(root: &Path) -> bool {
    const MCU: &str = "thumbv7em-none-eabihf";
    let mut get_build = board(
        root,
        &["clippy", "--release", "--features", "get,dhcp,ipv6,debug"],
    );
    get_build
        .args(["--", "-D", "warnings"])
        .env("TCPLINK_GET_URL", "http://192.168.69.1:8000/");
    // The HTTPS board build: the URL and the trust anchor it needs at build time (the
    // footprint's CA; nothing is fetched).
    let mut tls_build = board(
        root,
        &["clippy", "--release", "--features", "tls,dhcp,ipv6,debug"],
    );
    tls_build
        .args(["--", "-D", "warnings"])
        .env("TCPLINK_GET_URL", "https://192.168.69.1:8443/")
        .env("TCPLINK_CA_DER", root.join("tests/bench/footprint-ca.der"));
    let mut docs = root_cargo(root, &["doc", "-p", "tcplink", "--no-deps"]);
    docs.env("RUSTDOCFLAGS", "-D warnings");
    let mut docs_bare = root_cargo(
        root,
        &["doc", "-p", "tcplink", "--no-deps", "--no-default-features"],
    );
    docs_bare.env("RUSTDOCFLAGS", "-D warnings");
    let mut docs_embassy = root_cargo(root, &["doc", "-p", "tcplink-embassy", "--no-deps"]);
    docs_embassy.env("RUSTDOCFLAGS", "-D warnings");
    let mut docs_rustls = root_cargo(root, &["doc", "-p", "tcplink-rustls", "--no-deps"]);
    docs_rustls.env("RUSTDOCFLAGS", "-D warnings");
    let mut size = Command::new("size");
    size.arg(BOARD_ELF).current_dir(root.join(BOARD));
    let mut size2 = Command::new("size");
    size2.arg(BOARD2_ELF).current_dir(root.join(BOARD2));
    let mut common_tls = board_in(root, BOARD_COMMON, &common_clippy("tls,dhcp,ipv6,debug"));
    common_tls
        .env("TCPLINK_GET_URL", "https://192.168.69.1:8443/")
        .env("TCPLINK_CA_DER", root.join("tests/bench/footprint-ca.der"));
    let mut get_build2 = board_in(
        root,
        BOARD2,
        &["clippy", "--release", "--features", "get,dhcp,ipv6,debug"],
    );
    get_build2
        .args(["--", "-D", "warnings"])
        .env("TCPLINK_GET_URL", "http://192.168.69.1:8000/");
    let clippy = [
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ];
    let steps: Vec<(&str, Command)> =
        vec![
        ("fmt", root_cargo(root, &["fmt", "--all", "--", "--check"])),
        ("fmt (board)", board(root, &["fmt", "--", "--check"])),
        (
            "fmt (lm3s6965evb board)",
            board_in(root, BOARD2, &["fmt", "--", "--check"]),
        ),
        (
            "fmt (board-common)",
            board_in(root, BOARD_COMMON, &["fmt", "--all", "--", "--check"]),
        ),
        (
            "fmt (tests/dependent)",
            root_cargo(root, &["fmt", "--manifest-path", DEPENDENT, "--", "--check"]),
        ),
        ("clippy", root_cargo(root, &clippy)),
        (
            "clippy (tests/dependent, a crate depending on tcplink from outside the workspace)",
            root_cargo(
                root,
                &[
                    "clippy",
                    "--manifest-path",
                    DEPENDENT,
                    "--locked",
                    "--target-dir",
                    "target",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        ),
        (
            "clippy (board)",
            board(root, &["clippy", "--release", "--", "-D", "warnings"]),
        ),
        (
            "clippy (board: GET + DHCP + DNS + IPv6, debug panics)",
            get_build,
        ),
        (
            "clippy (board: HTTPS GET + DHCP + DNS + IPv6, debug panics)",
            tls_build,
        ),
        // The shared crate is a path dependency of the boards, not a member of their
        // workspaces, so their clippy runs do not lint it: its own, with and without
        // every capability.
        (
            "clippy (board-common)",
            board_in(root, BOARD_COMMON, &common_clippy("")),
        ),
        (
            "clippy (board-common: HTTPS GET + DHCP + DNS + IPv6, debug panics)",
            common_tls,
        ),
        (
            "clippy (lm3s6965evb board)",
            board_in(root, BOARD2, &["clippy", "--release", "--", "-D", "warnings"]),
        ),
        (
            "clippy (lm3s6965evb board: GET + DHCP + DNS + IPv6, debug panics)",
            get_build2,
        ),
        (
            "board builtins (memcpy & co., 64-bit division; tests run on the host)",
            board_in(
                root,
                BOARD_COMMON,
                &["test", "-p", "tcplink-board-builtins", "--target", "host-tuple"],
            ),
        ),
        ("core docs (broken links fail)", docs),
        ("core docs without default features (broken links fail)", docs_bare),
        ("embassy adapter docs (broken links fail)", docs_embassy),
        ("rustls engine docs (broken links fail)", docs_rustls),
        (
            "porting skeleton (examples/board-skeleton) on a microcontroller target",
            root_cargo(
                root,
                &[
                    "clippy",
                    "--manifest-path",
                    "examples/board-skeleton/Cargo.toml",
                    "--target",
                    MCU,
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        ),
        // The fuzz targets run under cargo-fuzz (nightly, sanitizers), which CI does not
        // install; checking that they compile on stable keeps them from rotting.
        (
            "fuzz targets compile (fuzz/, run them with cargo-fuzz)",
            root_cargo(
                root,
                &[
                    "check",
                    "--manifest-path",
                    "fuzz/Cargo.toml",
                    "--bins",
                    "--locked",
                ],
            ),
        ),
        (
            "fmt (porting skeleton)",
            root_cargo(
                root,
                &[
                    "fmt",
                    "--manifest-path",
                    "examples/board-skeleton/Cargo.toml",
                    "--",
                    "--check",
                ],
            ),
        ),
        // The embassy adapter, with embassy-time and without (a board's own `Clock`), and
        // with two real embassy drivers (firmware/embassy/board, its own workspace).
        (
            "embassy adapter on a microcontroller target",
            root_cargo(root, &["build", "-p", "tcplink-embassy", "--target", MCU]),
        ),
        (
            "embassy adapter without embassy-time on a microcontroller target",
            root_cargo(
                root,
                &[
                    "build",
                    "-p",
                    "tcplink-embassy",
                    "--no-default-features",
                    "--target",
                    MCU,
                ],
            ),
        ),
        (
            "embassy adapter with ENC28J60 and W5500 drivers (firmware/embassy/board) on a microcontroller target",
            root_cargo(
                root,
                &[
                    "clippy",
                    "--manifest-path",
                    "firmware/embassy/board/Cargo.toml",
                    "--target",
                    MCU,
                    "--",
                    "-D",
                    "warnings",
                ],
            ),
        ),
        (
            "fmt (embassy board)",
            root_cargo(
                root,
                &[
                    "fmt",
                    "--manifest-path",
                    "firmware/embassy/board/Cargo.toml",
                    "--",
                    "--check",
                ],
            ),
        ),
        (
            "core on a microcontroller target",
            root_cargo(root, &["build", "-p", "tcplink", "--target", MCU]),
        ),
        // Each capability alone and none at all: what a board picks must build on its own.
        ("core, no capability", core_features(root, "")),
        ("core, dhcp only", core_features(root, "dhcp")),
        ("core, dns only", core_features(root, "dns")),
        ("core, http only", core_features(root, "http")),
        ("core, ipv6 only (static and link-local)", core_features(root, "ipv6")),
        ("core, ipv6 with slaac", core_features(root, "slaac")),
        ("core, http + ipv6", core_features(root, "http,ipv6")),
        ("core, parking only", core_features(root, "parking")),
        // HTTPS (embedded-tls, our verifier) without alloc on the MCU target; the default
        // features above include it too.
        ("core, tls only", core_features(root, "tls")),
        (
            "core with defmt",
            root_cargo(
                root,
                &[
                    "check",
                    "-p",
                    "tcplink",
                    "--target",
                    MCU,
                    "--features",
                    "defmt",
                ],
            ),
        ),
        (
            "core with log",
            root_cargo(
                root,
                &[
                    "check",
                    "-p",
                    "tcplink",
                    "--target",
                    MCU,
                    "--features",
                    "log",
                ],
            ),
        ),
        ("board firmware", board(root, &["build", "--release"])),
        ("board footprint", size),
        (
            "lm3s6965evb board firmware",
            board_in(root, BOARD2, &["build", "--release"]),
        ),
        ("lm3s6965evb board footprint", size2),
        (
            "board footprint budgets (flash/RAM; nothing linked of an unused capability)",
            root_cargo(root, &["run", "-q", "-p", "tcplink-bench", "--", "budget"]),
        ),
        (
            "benchmark peer stacks (lwIP and embassy-net on a TAP) build",
            root_cargo(
                root,
                // tcplink-bench too, as the bench builds them: see `tapfig::bins` on why
                // embassy-net's smoltcp 0.13 and the core's smoltcp build only together with it.
                &[
                    "build",
                    "-p",
                    "tcplink-bench",
                    "-p",
                    "tcplink-tap",
                    "-p",
                    "tcplink-host",
                    "-p",
                    "tcplink-bench-lwip",
                    "-p",
                    "tcplink-bench-embassy",
                ],
            ),
        ),
        (
            "benchmark harness smoke run (tiny sizes; as root one short round of the peer stacks)",
            root_cargo(
                root,
                &["run", "-q", "-p", "tcplink-bench", "--", "all", "--quick"],
            ),
        ),
    ];
    for (name, mut cmd) in steps {
        println!("== {name}");
        if let Err(e) = step(&mut cmd) {
            println!("FAILED: {name}: {e}");
            return false;
        }
    }
    println!("PASSED");
    true
}
