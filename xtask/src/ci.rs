//! `cargo xtask ci`: the checks CI runs besides the tests, in order, stopping at the first
//! failure. Also builds the board firmware for `cargo xtask test`.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cargo;

/// The board firmware's own workspace (its target and flags live in its .cargo/config.toml).
const BOARD: &str = "firmware/mps2-an385";
const BOARD_ELF: &str = "target/thumbv7m-none-eabi/release/tcplink-mps2-an385";

/// A cargo command for the board's workspace: without the host build's settings, which would
/// override its target and flags.
fn board_cargo(root: &Path) -> Command {
    let mut cmd = cargo();
    cmd.current_dir(root.join(BOARD))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("TCPLINK_GET_URL");
    cmd
}

/// `cargo build --release` of the board firmware.
pub fn build_board(root: &Path) -> Result<(), String> {
    step(board_cargo(root).args(["build", "--release"]))
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

pub fn run(root: &Path) -> bool {
    let in_root = |cmd: &mut Command| {
        cmd.current_dir(root);
    };
    let steps: Vec<(&str, Command)> = vec![
        ("fmt", {
            let mut c = cargo();
            c.args(["fmt", "--all", "--", "--check"]);
            in_root(&mut c);
            c
        }),
        ("fmt (board)", {
            let mut c = board_cargo(root);
            c.args(["fmt", "--", "--check"]);
            c
        }),
        ("clippy", {
            let mut c = cargo();
            c.args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]);
            in_root(&mut c);
            c
        }),
        ("clippy (board)", {
            let mut c = board_cargo(root);
            c.args(["clippy", "--release", "--", "-D", "warnings"]);
            c
        }),
        ("core docs (broken links fail)", {
            let mut c = cargo();
            c.args(["doc", "-p", "tcplink", "--no-deps"])
                .env("RUSTDOCFLAGS", "-D warnings");
            in_root(&mut c);
            c
        }),
        ("core on a microcontroller target", {
            let mut c = cargo();
            c.args([
                "build",
                "-p",
                "tcplink",
                "--target",
                "thumbv7em-none-eabihf",
            ]);
            in_root(&mut c);
            c
        }),
        ("core with defmt", {
            let mut c = cargo();
            c.args([
                "check",
                "-p",
                "tcplink",
                "--target",
                "thumbv7em-none-eabihf",
            ])
            .args(["--features", "defmt"]);
            in_root(&mut c);
            c
        }),
        ("core with log", {
            let mut c = cargo();
            c.args([
                "check",
                "-p",
                "tcplink",
                "--target",
                "thumbv7em-none-eabihf",
            ])
            .args(["--features", "log"]);
            in_root(&mut c);
            c
        }),
        ("board firmware", {
            let mut c = board_cargo(root);
            c.args(["build", "--release"]);
            c
        }),
        ("board footprint", {
            let mut c = Command::new("size");
            c.arg(BOARD_ELF).current_dir(root.join(BOARD));
            c
        }),
        ("benchmark harness smoke run (tiny sizes)", {
            let mut c = cargo();
            c.args(["run", "-q", "-p", "tcplink-bench", "--", "all", "--quick"]);
            in_root(&mut c);
            c
        }),
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
