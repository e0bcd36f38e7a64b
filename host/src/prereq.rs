//! What a test needs from the machine (a program on PATH, the seed's scripts) and the one way
//! a test that cannot have it stops: a `SKIP <test>: <reason>` line, or a panic under `CI=true`.
//!
//! `cargo xtask test` counts the `SKIP` lines to report skipped tests, so they go straight to
//! the process's stderr: libtest captures `eprintln!` of passing tests, not direct writes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable naming the directory with the seed's Python programs.
pub const SEED_DIR_VAR: &str = "TCPLINK_SEED_DIR";

/// The environment variable naming a file each skip is also appended to, one
/// `<test binary>\t<test>\t<reason>` line per skip: `cargo xtask test` counts skips from it,
/// since a `SKIP` line on stderr can land in the middle of libtest's own output lines.
pub const SKIP_LOG_VAR: &str = "TCPLINK_SKIP_LOG";

/// Whether this is a CI run (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Stops a test that cannot run here: under `CI=true` panics with the reason; otherwise prints
/// `SKIP <test>: <reason>` to stderr. Returns false, for `if !require_x(..) { return; }`.
///
/// `<test>` is libtest's name for the running test (its thread name) when there is one,
/// otherwise `test`.
pub fn skip(test: &str, reason: &str) -> bool {
    let current = std::thread::current();
    let name = current.name().filter(|n| *n != "main").unwrap_or(test);
    if in_ci() {
        panic!("{name} cannot run in CI: {reason}");
    }
    let _ = writeln!(std::io::stderr().lock(), "SKIP {name}: {reason}");
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR) {
        record_skip(Path::new(&log), name, reason);
    }
    false
}

/// Appends one skip line to `log` in a single write (O_APPEND: lines of tests running at once
/// do not mix).
fn record_skip(log: &Path, test: &str, reason: &str) {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_name().map(|f| f.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let line = format!("{binary}\t{test}\t{}\n", reason.replace(['\t', '\n'], " "));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log);
    if let Ok(mut file) = file {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The path of `program` if it is an executable file in one of PATH's directories (what
/// `command -v` finds), so a test can tell "not installed" from a failure of the program.
pub fn find_program(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// For tests: true if every program in `programs` is on PATH; otherwise [`skip`]s with the
/// first missing one (`cargo xtask test` installs them as root).
pub fn require_programs(test: &str, programs: &[&str]) -> bool {
    match programs.iter().find(|p| find_program(p).is_none()) {
        None => true,
        Some(missing) => skip(test, &format!("{missing} is not installed (not on PATH)")),
    }
}

/// The directory with the seed's programs: `$TCPLINK_SEED_DIR`, or `../shared/seed` beside the
/// repository (the layout of the project's workspace; a clone alone does not have it).
pub fn seed_dir() -> PathBuf {
    match std::env::var_os(SEED_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => repo_root().join("../shared/seed"),
    }
}

/// For tests that run the seed's own Python program `script` (e.g. `tcp_client.py`): its path,
/// or `None` after [`skip`]ping when it is not there.
pub fn require_seed_script(test: &str, script: &str) -> Option<PathBuf> {
    let path = seed_dir().join(script);
    if path.is_file() {
        Some(path)
    } else {
        skip(
            test,
            &format!(
                "the seed's {script} is not at {} (set {SEED_DIR_VAR} to the seed's directory)",
                path.display()
            ),
        );
        None
    }
}

/// The repository's root directory: this crate lives in `host/`.
fn repo_root() -> &'static Path {
    let host = Path::new(env!("CARGO_MANIFEST_DIR"));
    host.parent().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_only() {
        assert!(find_program("sh").is_some(), "every Unix has sh");
        assert_eq!(find_program("tcplink-no-such-program"), None);
    }

    #[test]
    fn seed_dir_defaults_beside_the_repository() {
        if std::env::var_os(SEED_DIR_VAR).is_none() {
            let dir = seed_dir();
            assert!(dir.ends_with("../shared/seed"), "{}", dir.display());
            assert!(
                dir.starts_with(env!("CARGO_MANIFEST_DIR").trim_end_matches("/host")),
                "{}",
                dir.display()
            );
        }
    }
}
