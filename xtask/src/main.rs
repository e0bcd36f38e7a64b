//! `cargo xtask test`: README's test command. Sets up what the tests need, builds the board
//! firmware, runs `cargo test --workspace` and prints what ran, what was skipped (why, and the
//! command that would run it) and what failed. `cargo xtask ci`: the other CI checks.

mod ci;
#[cfg(test)]
mod circles;
mod report;
mod setup;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::{Parser, Subcommand};

use report::Report;

/// Where the tests append their skips (`tcplink_host::prereq::SKIP_LOG_VAR`; the xtask does not
/// depend on tcplink-host, so the name is repeated here).
const SKIP_LOG_VAR: &str = "TCPLINK_SKIP_LOG";
use setup::Machine;

#[derive(Parser)]
#[command(about = "tcplink's own commands")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what the tests need (as root), build the board firmware, run every test, and
    /// print a table of what ran, was skipped and failed. Exit 0 only if nothing failed (and,
    /// under CI=true, nothing was skipped).
    Test {
        /// Never install packages or rustup targets; tests that need them are skipped.
        #[arg(long)]
        no_install: bool,
    },
    /// The checks besides the tests: fmt, clippy, docs, the core on thumbv7em, the board
    /// firmware's build and size, and a benchmark smoke run.
    Ci,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = repo_root();
    let ok = match cli.command {
        Cmd::Test { no_install } => test(&root, !no_install),
        Cmd::Ci => ci::run(&root),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The repository: the parent of this crate's directory.
fn repo_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// The cargo that runs us (`cargo xtask` sets CARGO), so the tests use the same toolchain.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn test(root: &Path, install: bool) -> bool {
    let machine = Machine::probe();
    println!(
        "== cargo xtask test: {}, {}{}",
        if machine.root { "root" } else { "not root" },
        if install {
            "installing what is missing where allowed"
        } else {
            "--no-install"
        },
        if in_ci() {
            ", CI=true: a skip fails"
        } else {
            ""
        }
    );
    println!("== 1/4 prerequisites (Debian packages, rustup targets)");
    let mut setup_failures = Vec::new();
    if let Err(e) = setup::packages(&machine, install) {
        setup_failures.push(format!("packages: {e}"));
    }
    let missing_targets = setup::targets(install);

    println!(
        "== 2/4 board firmware (firmware/mps2-an385, firmware/lm3s6965evb, for the QEMU tests)"
    );
    if let Err(e) = ci::build_board(root) {
        setup_failures.push(format!("board firmware: {e}"));
    }

    println!("== 3/4 cargo test --no-fail-fast: the workspace, then tests/dependent");
    let mut report = None;
    for suite in SUITES {
        let names = match test_binaries(root, suite) {
            Ok(names) => names,
            Err(e) => {
                println!("{e}");
                setup_failures.push(format!("building the tests failed ({})", suite.join(" ")));
                continue;
            }
        };
        if names.is_empty() {
            continue;
        }
        let report = report.get_or_insert_with(|| Report::new(BTreeMap::new()));
        if let Err(e) = run_tests(root, suite, names, report) {
            setup_failures.push(e);
        }
    }

    println!("\n== 4/4 summary");
    let context = Context {
        machine,
        install,
        missing_targets,
    };
    summarize(report.as_ref(), &setup_failures, &context)
}

/// What each `cargo test` run covers: the workspace, then tests/dependent, a crate outside it
/// that depends on tcplink as a user's crate would (no `[patch]`: the embedded-tls fixes must
/// reach it through tcplink's own dependency). It shares the workspace's target directory,
/// where most of what it needs is already built.
const SUITES: [&[&str]; 2] = [
    &["--workspace"],
    &[
        "--manifest-path",
        "tests/dependent/Cargo.toml",
        "--locked",
        "--target-dir",
        "target",
    ],
];

/// Builds every test binary and maps each binary's file name to its source, relative to the
/// repository (`host/tests/greet.rs`), so two `tests/http.rs` of different crates stay apart.
fn test_binaries(root: &Path, suite: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let out = cargo()
        .arg("test")
        .args(suite)
        .args(["--no-run", "--message-format=json"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo test --no-run failed ({})", out.status));
    }
    let mut names = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(exe), Some(src)) = (
            msg["executable"].as_str(),
            msg["target"]["src_path"].as_str(),
        ) else {
            continue;
        };
        let file = Path::new(exe).file_name().unwrap_or_default();
        let src = Path::new(src).strip_prefix(root).unwrap_or(Path::new(src));
        names.insert(
            file.to_string_lossy().into_owned(),
            src.display().to_string(),
        );
    }
    Ok(names)
}

/// Runs `cargo test` over `suite`, echoing its output and reading it into `report`.
fn run_tests(
    root: &Path,
    suite: &[&str],
    names: BTreeMap<String, String>,
    report: &mut Report,
) -> Result<(), String> {
    let (reader, writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let writer2 = writer.try_clone().map_err(|e| format!("pipe: {e}"))?;
    // One pipe for both streams keeps cargo's `Running` lines, the tests' results and their
    // SKIP lines in order.
    let skip_log = std::env::temp_dir().join(format!("tcplink-skips-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&skip_log);
    let mut child = cargo()
        .arg("test")
        .args(suite)
        .arg("--no-fail-fast")
        .current_dir(root)
        .env("CARGO_TERM_COLOR", "never")
        .env(SKIP_LOG_VAR, &skip_log)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    report.names(names);
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
        println!("{line}");
        report.line(&line);
    }
    child.wait().map_err(|e| format!("cargo test: {e}"))?;
    // No file: nothing was skipped.
    report.skips(&std::fs::read_to_string(&skip_log).unwrap_or_default());
    let _ = std::fs::remove_file(&skip_log);
    Ok(())
}

/// What the summary needs to say how to enable a skipped test.
struct Context {
    machine: Machine,
    install: bool,
    missing_targets: Vec<&'static str>,
}

impl Context {
    /// The one command that would let a test skipped for `reason` run.
    fn enable_with(&self, reason: &str) -> String {
        if reason.contains("not root") {
            return "sudo cargo xtask test".into();
        }
        if reason.contains("TCPLINK_SEED_DIR") {
            return "TCPLINK_SEED_DIR=/path/to/seed cargo xtask test".into();
        }
        if reason.contains("/dev/net/tun") {
            return "sudo modprobe tun".into();
        }
        let program = reason
            .strip_suffix(" is not installed (not on PATH)")
            .or_else(|| reason.contains("`ip` (iproute2)").then_some("ip"));
        if let Some(package) = program.and_then(setup::package_of) {
            return if !self.machine.root {
                "sudo cargo xtask test".into()
            } else if !self.install && self.machine.apt {
                "cargo xtask test (without --no-install)".into()
            } else {
                format!("apt-get install {package}")
            };
        }
        "see the reason".into()
    }
}

/// Prints the table; returns whether the run passed.
fn summarize(report: Option<&Report>, setup_failures: &[String], context: &Context) -> bool {
    let mut passed = setup_failures.is_empty();
    if let Some(report) = report {
        let width = report
            .groups
            .iter()
            .map(|g| g.name.len())
            .max()
            .unwrap_or(0)
            .max(10);
        println!(
            "{:<width$}  {:>4}  {:>7}  {:>6}  {:>7}",
            "test group", "ran", "skipped", "failed", "ignored"
        );
        for g in &report.groups {
            let failed = if g.finished {
                g.failed.len().max(g.result_failed).to_string()
            } else {
                "crash".into()
            };
            println!(
                "{:<width$}  {:>4}  {:>7}  {:>6}  {:>7}",
                g.name,
                g.ran(),
                g.skipped.len(),
                failed,
                g.ignored
            );
        }
        let ran: usize = report.groups.iter().map(|g| g.ran()).sum();
        let skipped = report.skipped().count();
        let failed: usize = report
            .groups
            .iter()
            .map(|g| g.failed.len().max(g.result_failed))
            .sum();
        println!("{:<width$}  {ran:>4}  {skipped:>7}  {failed:>6}", "total");

        // Skips grouped by reason, each with the command that enables them.
        let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (g, test, reason) in report.skipped() {
            by_reason
                .entry(reason)
                .or_default()
                .push(format!("{} {test}", g.name));
        }
        if !by_reason.is_empty() {
            println!("\nskipped ({skipped}):");
            for (reason, tests) in &by_reason {
                println!("  {reason}");
                println!("    enable with: {}", context.enable_with(reason));
                for t in tests {
                    println!("    - {t}");
                }
            }
            if in_ci() {
                println!("CI=true: skipped tests count as failures");
                passed = false;
            }
        }
        let failures: Vec<String> = report
            .groups
            .iter()
            .filter(|g| g.failed())
            .flat_map(|g| {
                let crashed = (!g.finished).then(|| format!("{} (did not finish)", g.name));
                g.failed
                    .iter()
                    .map(move |t| format!("{} {t}", g.name))
                    .chain(crashed)
            })
            .collect();
        if report.any_failed() {
            println!("\nfailed ({}):", failures.len());
            for f in &failures {
                println!("  - {f}");
            }
            passed = false;
        }
    }
    if !context.missing_targets.is_empty() {
        println!(
            "\nrustup targets missing: {} (rustup target add {})",
            context.missing_targets.join(" "),
            context.missing_targets.join(" ")
        );
    }
    for f in setup_failures {
        println!("\nfailed: {f}");
    }
    println!("\n{}", if passed { "PASSED" } else { "FAILED" });
    passed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(root: bool, install: bool) -> Context {
        Context {
            machine: Machine { root, apt: true },
            install,
            missing_targets: Vec::new(),
        }
    }

    #[test]
    fn each_skip_reason_gets_the_command_that_enables_it() {
        let user = context(false, true);
        let root = context(true, true);
        let root_no_install = context(true, false);
        let not_root = "not root (effective uid 1001; CAP_NET_ADMIN and CAP_SYS_ADMIN are needed)";
        assert_eq!(user.enable_with(not_root), "sudo cargo xtask test");
        let seed = "the seed's tcp_client.py is not at /x/tcp_client.py (set TCPLINK_SEED_DIR to the seed's directory)";
        assert_eq!(
            root.enable_with(seed),
            "TCPLINK_SEED_DIR=/path/to/seed cargo xtask test"
        );
        let tool = "dnsmasq is not installed (not on PATH)";
        assert_eq!(user.enable_with(tool), "sudo cargo xtask test");
        assert_eq!(
            root_no_install.enable_with(tool),
            "cargo xtask test (without --no-install)"
        );
        assert_eq!(
            root.enable_with("setpriv is not installed (not on PATH)"),
            "apt-get install util-linux"
        );
    }
}
