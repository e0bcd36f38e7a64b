//! Markdown tables, printed and kept in `tests/bench/RESULTS.md`.
//!
//! Each figure owns one section of the file between `<!-- bench:NAME -->` markers, so running
//! one subcommand refreshes its figure and leaves the others as they were measured.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A Markdown table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(head: &[&str]) -> Self {
        Self {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        s.push_str(&line(&self.head));
        s.push_str(&line(&vec!["---".to_string(); self.head.len()]));
        for r in &self.rows {
            s.push_str(&line(r));
        }
        s
    }
}

/// One figure's text: a title, what was run, the table(s) and notes.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub name: &'static str,
    pub body: String,
}

impl Section {
    pub fn new(name: &'static str, title: &str) -> Self {
        Self {
            name,
            body: format!("### {title}\n\n"),
        }
    }

    pub fn para(&mut self, text: &str) {
        let _ = writeln!(self.body, "{text}\n");
    }

    pub fn table(&mut self, table: &Table) {
        self.body.push_str(&table.markdown());
        self.body.push('\n');
    }
}

/// Where results go: the default file in the source tree, another file, or nowhere.
#[derive(Debug, Clone)]
pub struct Output {
    pub path: Option<PathBuf>,
}

impl Output {
    /// `tests/bench/RESULTS.md` next to this crate's manifest.
    pub fn default_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("RESULTS.md")
    }

    /// Prints `section` and, unless output is off, replaces its part of the results file.
    pub fn emit(&self, section: &Section) -> std::io::Result<()> {
        println!("\n{}", section.body);
        let Some(path) = &self.path else {
            return Ok(());
        };
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let new = splice(&old, section.name, &section.body);
        std::fs::write(path, new)?;
        eprintln!("[wrote section `{}` of {}]", section.name, path.display());
        Ok(())
    }
}

const PREAMBLE: &str = "# tcplink benchmark results\n\n\
Written by `tcplink-bench` (tests/bench); each section is refreshed by its own subcommand. \
Numbers are median (min–max) of several runs; ratios are taken run by run between \
measurements made side by side in the same process and run.\n";

/// `old` with the section `name` replaced by `body` (appended if new); sections are kept in
/// a fixed order so the file reads in figure order whatever ran last.
fn splice(old: &str, name: &str, body: &str) -> String {
    const ORDER: [&str; 10] = [
        "machine",
        "link",
        "tap-get",
        "tap-get-nginx",
        "tap-peers-get",
        "tap-load",
        "tap-peers-load",
        "idle-cpu",
        "footprint",
        "scaling",
    ];
    let mut sections: Vec<(String, String)> = Vec::new();
    let mut rest = old;
    while let Some(start) = rest.find("<!-- bench:") {
        let after = &rest[start + 11..];
        let Some(end_name) = after.find(" -->") else {
            break;
        };
        let sname = after[..end_name].to_string();
        let close = format!("<!-- /bench:{sname} -->");
        let content_start = end_name + 4;
        let Some(close_at) = after.find(&close) else {
            break;
        };
        let content = after[content_start..close_at].trim().to_string();
        sections.push((sname, content));
        rest = &after[close_at + close.len()..];
    }
    match sections.iter_mut().find(|(n, _)| n == name) {
        Some(s) => s.1 = body.trim().to_string(),
        None => sections.push((name.to_string(), body.trim().to_string())),
    }
    let rank = |n: &str| ORDER.iter().position(|o| *o == n).unwrap_or(ORDER.len());
    sections.sort_by_key(|(n, _)| rank(n));
    let mut out = String::from(PREAMBLE);
    for (n, content) in sections {
        let _ = write!(
            out,
            "\n<!-- bench:{n} -->\n{content}\n<!-- /bench:{n} -->\n"
        );
    }
    out
}

/// When and where the figures were measured, and how to measure them again.
/// When and on what a figure is measured: date, cores, CPU model, kernel.
pub fn measured_on() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    format!("{date} on {cores} cores ({model}), Linux {}", kernel.trim())
}

pub fn machine_section() -> Section {
    let mut s = Section::new("machine", "Machine and commands");
    s.para(&format!(
        "Last refreshed {}, shared with other builds (hence several runs and per-run \
         ratios).",
        measured_on()
    ));
    s.para(
        "```sh\n\
         cargo build --release -p tcplink-bench -p tcplink-tap -p tcplink-host \\\n    \
         -p tcplink-bench-lwip -p tcplink-bench-embassy\n\
         target/release/tcplink-bench all            # every figure; 2–4, 2c, 3b only as root\n\
         target/release/tcplink-bench all --quick    # smoke test: in-process figures, as root 2c + 3b + 2d briefly (CI)\n\
         # one figure at a time:\n\
         target/release/tcplink-bench link           # 1: 1 GB through memory, 5 runs\n\
         sudo target/release/tcplink-bench tap-get   # 2: 1 GiB GET over TAP (own namespaces), then 2b\n\
         sudo target/release/tcplink-bench tap-nginx # 2b: 256 MiB from nginx, tcplink-tap vs curl\n\
         sudo target/release/tcplink-bench tap-https # 2d: the same over HTTPS (TLS 1.3, verified)\n\
         sudo target/release/tcplink-bench tap-peers-get  # 2c: 1 GiB GET, tcplink vs lwIP vs embassy-net\n\
         sudo target/release/tcplink-bench tap-load  # 3: sessions/s with 1, 8, 64 clients\n\
         sudo target/release/tcplink-bench tap-peers-load # 3b: sessions/s, tcplink vs lwIP vs embassy-net\n\
         sudo target/release/tcplink-bench idle-cpu  # 4: 10 idle seconds\n\
         target/release/tcplink-bench footprint      # 5: board builds by category, lwIP alongside\n\
         target/release/tcplink-bench scaling        # 6: 1…256 sockets, writes scaling.png\n\
         ```",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_in_place_and_ordered() {
        let a = splice("", "scaling", "### S\nx");
        let b = splice(&a, "link", "### L\ny");
        let c = splice(&b, "scaling", "### S\nz");
        assert!(c.find("### L").unwrap() < c.find("### S").unwrap());
        assert!(c.contains("z") && !c.contains("\nx\n"));
        assert_eq!(c.matches("<!-- bench:scaling -->").count(), 1);
    }
}
