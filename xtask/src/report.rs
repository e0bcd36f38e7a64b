//! Reads `cargo test` output as it streams by and sums it up per test binary ("group"): tests
//! run, skipped (from the `SKIP <test>: <reason>` lines the tests print) and failed.

use std::collections::BTreeMap;

/// One test binary's results.
#[derive(Debug, Default)]
pub struct Group {
    pub name: String,
    pub passed: Vec<String>,
    pub failed: Vec<String>,
    pub ignored: usize,
    /// (test, reason)
    pub skipped: Vec<(String, String)>,
    /// Whether libtest printed its `test result:` line (a crashed binary does not).
    pub finished: bool,
}

impl Group {
    /// Tests that passed without skipping.
    pub fn ran(&self) -> usize {
        self.passed
            .iter()
            .filter(|t| !self.skipped.iter().any(|(s, _)| s == *t))
            .count()
    }

    pub fn failed(&self) -> bool {
        !self.failed.is_empty() || !self.finished
    }
}

/// Collects groups from output lines.
pub struct Report {
    /// Test binary file name (`greet-0123abcd`) → the group's name (`host/tests/greet.rs`).
    names: BTreeMap<String, String>,
    pub groups: Vec<Group>,
}

impl Report {
    pub fn new(names: BTreeMap<String, String>) -> Report {
        Report {
            names,
            groups: Vec::new(),
        }
    }

    /// Takes one line of the combined stdout and stderr of `cargo test`.
    pub fn line(&mut self, line: &str) {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            // `Running tests/greet.rs (target/debug/deps/greet-0123abcd)`
            let binary = rest
                .rsplit_once('(')
                .map(|(_, p)| p.trim_end_matches(')'))
                .unwrap_or(rest);
            let file = binary.rsplit('/').next().unwrap_or(binary);
            let name = self.names.get(file).cloned().unwrap_or_else(|| rest.into());
            self.start(name);
        } else if let Some(krate) = trimmed.strip_prefix("Doc-tests ") {
            self.start(format!("doc-tests {krate}"));
        } else if let Some(group) = self.groups.last_mut() {
            if let Some(rest) = line.strip_prefix("SKIP ") {
                if let Some((test, reason)) = rest.split_once(": ") {
                    group.skipped.push((test.into(), reason.into()));
                }
            } else if line.starts_with("test result: ") {
                group.finished = true;
            } else if let Some((test, outcome)) = line
                .strip_prefix("test ")
                .and_then(|r| r.rsplit_once(" ... "))
            {
                match outcome.split(',').next().unwrap_or(outcome) {
                    "ok" => group.passed.push(test.into()),
                    "FAILED" => group.failed.push(test.into()),
                    "ignored" => group.ignored += 1,
                    _ => {}
                }
            }
        }
    }

    fn start(&mut self, name: String) {
        self.groups.push(Group {
            name,
            ..Group::default()
        });
    }

    pub fn skipped(&self) -> impl Iterator<Item = (&Group, &str, &str)> {
        self.groups.iter().flat_map(|g| {
            g.skipped
                .iter()
                .map(move |(t, r)| (g, t.as_str(), r.as_str()))
        })
    }

    pub fn any_failed(&self) -> bool {
        self.groups.iter().any(Group::failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(output: &str) -> Report {
        let names = BTreeMap::from([("serve-0a1b".into(), "firmware/tap/tests/serve.rs".into())]);
        let mut r = Report::new(names);
        output.lines().for_each(|l| r.line(l));
        r
    }

    #[test]
    fn counts_runs_skips_and_failures_per_binary() {
        let r = report(
            "     Running tests/serve.rs (target/debug/deps/serve-0a1b)\n\
             running 3 tests\n\
             SKIP seed: not root (effective uid 1000; CAP_NET_ADMIN and CAP_SYS_ADMIN are needed)\n\
             test seed ... ok\n\
             test greet ... ok\n\
             test pcap ... FAILED\n\
             test result: FAILED. 2 passed; 1 failed; 0 ignored\n\
             \x20  Doc-tests tcplink\n\
             test src/lib.rs - x (line 3) ... ignored\n\
             test result: ok. 0 passed; 0 failed; 1 ignored\n",
        );
        let serve = &r.groups[0];
        assert_eq!(serve.name, "firmware/tap/tests/serve.rs");
        assert_eq!(serve.ran(), 1);
        assert_eq!(serve.skipped.len(), 1);
        assert_eq!(serve.failed, ["pcap"]);
        assert!(serve.failed());
        assert_eq!(r.groups[1].name, "doc-tests tcplink");
        assert_eq!(r.groups[1].ignored, 1);
        assert!(!r.groups[1].failed());
        assert!(r.any_failed());
    }

    #[test]
    fn a_binary_without_a_result_line_failed() {
        let r = report(
            "     Running tests/serve.rs (target/debug/deps/serve-0a1b)\n\
             running 1 test\n\
             error: test failed, to rerun pass `-p tcplink-tap --test serve`\n",
        );
        assert!(r.groups[0].failed());
    }
}
