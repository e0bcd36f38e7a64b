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
    const ORDER: [&str; 7] = [
        "machine",
        "link",
        "tap-get",
        "tap-load",
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
