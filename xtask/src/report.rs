//! Reads `cargo test` output as it streams by and sums it up per test binary ("group"): tests
//! run, skipped and failed. Skips come from the skip log the tests append to
//! (`tcplink_host::prereq::SKIP_LOG_VAR`), not from their `SKIP` lines on stderr, which can land
//! in the middle of libtest's output lines.

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
    /// The counts of that line (`N passed; M failed`): they stand even when another
    /// process's output ran into a `test ... ok` line and hid it.
    pub result_passed: usize,
    pub result_failed: usize,
}

impl Group {
    /// Tests that passed without skipping.
    pub fn ran(&self) -> usize {
        self.result_passed
            .max(self.passed.len())
            .saturating_sub(self.skipped.len())
    }

    pub fn failed(&self) -> bool {
        !self.failed.is_empty() || self.result_failed > 0 || !self.finished
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

    /// Adds the binaries of one more `cargo test` run.
    pub fn names(&mut self, names: BTreeMap<String, String>) {
        self.names.extend(names);
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
            if let Some(result) = line.strip_prefix("test result: ") {
                group.finished = true;
                // `ok. 2 passed; 1 failed; 0 ignored; ...`
                for part in result.split([';', '.']) {
                    match part.trim().split_once(' ') {
                        Some((n, "passed")) => group.result_passed = n.parse().unwrap_or(0),
                        Some((n, "failed")) => group.result_failed = n.parse().unwrap_or(0),
                        _ => {}
                    }
                }
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

    /// Takes the skip log: `<test binary>\t<test>\t<reason>` lines.
    pub fn skips(&mut self, log: &str) {
        for line in log.lines() {
            let mut fields = line.splitn(3, '\t');
            let (Some(binary), Some(test), Some(reason)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let name = self
                .names
                .get(binary)
                .cloned()
                .unwrap_or_else(|| binary.into());
            if let Some(group) = self.groups.iter_mut().find(|g| g.name == name) {
                group.skipped.push((test.into(), reason.into()));
            } else {
                let mut group = Group {
                    name,
                    ..Group::default()
                };
                group.skipped.push((test.into(), reason.into()));
                self.groups.push(group);
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
             SKIP seed: not root (effective uid 1000; CAP_NET_ADMIN and CAP_SYS_ADMIN are needed)test seed ... ok\n\
             test greet ... ok\n\
             test pcap ... FAILED\n\
             test result: FAILED. 2 passed; 1 failed; 0 ignored\n\
             \x20  Doc-tests tcplink\n\
             test src/lib.rs - x (line 3) ... ignored\n\
             test result: ok. 0 passed; 0 failed; 1 ignored\n",
        );
        let serve = &r.groups[0];
        assert_eq!(serve.name, "firmware/tap/tests/serve.rs");
        // The SKIP line above ran into libtest's line: the log says what was skipped.
        assert_eq!(serve.ran(), 2);
        let mut r = r;
        r.skips("serve-0a1b\tseed\tnot root (effective uid 1000)\n");
        let serve = &r.groups[0];
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
