//! No import circles (checked by this module's test, run with every `cargo test`): within each crate of the tree, the modules that name each other
//! (`use crate::a`, `super::b`, `crate::c::f()` in code, not in comments or test modules)
//! must form no cycle, so each module can be read (and tested) from the bottom up.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The crates' source roots, relative to the repository.
const ROOTS: &[&str] = &[
    "src",
    "firmware/tap/src",
    "firmware/sim/src",
    "firmware/embassy/src",
    "firmware/board-common/src",
    "host/src",
    "host/rsa/src",
    "host/rustls/src",
    "tests/support/src",
    "tests/bench/src",
    "xtask/src",
];

/// Every cycle found, one list of module paths each, for each root that exists.
fn find(repo: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for root in ROOTS {
        let dir = repo.join(root);
        if !dir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        collect(&dir, &mut files);
        let modules: BTreeMap<String, String> = files
            .iter()
            .filter_map(|f| Some((module_of(&dir, f), std::fs::read_to_string(f).ok()?)))
            .collect();
        for cycle in cycles(&graph(&modules)) {
            found.push(format!("{root}: {}", cycle.join(" -> ")));
        }
    }
    found
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/http/client.rs` → `http::client`; `lib.rs`, `main.rs` and `mod.rs` name their
/// directory's module.
fn module_of(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("lib" | "main" | "mod")
    ) {
        parts.pop();
    }
    parts.join("::")
}

/// Which modules each module names, from its code outside comments and `#[cfg(test)]`.
fn graph(modules: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges = BTreeMap::new();
    for (module, text) in modules {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut named = BTreeSet::new();
        for line in code.lines().map(str::trim_start) {
            if line.starts_with("//") {
                continue;
            }
            for (at, _) in line
                .match_indices("crate::")
                .chain(line.match_indices("super::"))
            {
                let is_super = line[at..].starts_with("super::");
                if at > 0 && line.as_bytes()[at - 1].is_ascii_alphanumeric() {
                    continue;
                }
                // "crate::" and "super::" are both 7 bytes.
                let rest = &line[at + 7..];
                let path: Vec<&str> = rest
                    .split("::")
                    .map(|p| {
                        p.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .next()
                            .unwrap_or("")
                    })
                    .take_while(|p| !p.is_empty())
                    .collect();
                let mut target: Vec<&str> = if is_super {
                    let mut base: Vec<&str> =
                        module.split("::").filter(|p| !p.is_empty()).collect();
                    base.pop();
                    base
                } else {
                    Vec::new()
                };
                target.extend(path);
                // The longest prefix that is a module of this crate, not an ancestor.
                for len in (1..=target.len()).rev() {
                    let candidate = target[..len].join("::");
                    if modules.contains_key(&candidate) {
                        if candidate != *module && !module.starts_with(&format!("{candidate}::")) {
                            named.insert(candidate);
                        }
                        break;
                    }
                }
            }
        }
        edges.insert(module.clone(), named);
    }
    edges
}

/// Strongly connected components of more than one module (Tarjan), each sorted.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'e> {
        edges: &'e BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'e str, usize>,
        low: BTreeMap<&'e str, usize>,
        stack: Vec<&'e str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'e>(w: &mut Walk<'e>, v: &'e str) {
        let i = w.index.len();
        w.index.insert(v, i);
        w.low.insert(v, i);
        w.stack.push(v);
        for u in w.edges.get(v).into_iter().flatten() {
            let u = u.as_str();
            if !w.index.contains_key(u) {
                visit(w, u);
                let low = w.low[v].min(w.low[u]);
                w.low.insert(v, low);
            } else if w.stack.contains(&u) {
                let low = w.low[v].min(w.index[u]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(u) = w.stack.pop() {
                component.push(u.to_string());
                if u == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                w.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v.as_str()) {
            visit(&mut walk, v);
        }
    }
    walk.found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modules(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(m, t)| (m.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn the_tree_has_no_import_circles() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask is in the repo");
        let found = find(repo);
        assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
    }

    #[test]
    fn a_circle_through_use_and_super_is_found() {
        let m = modules(&[
            ("", "mod a; mod b;"),
            ("a", "use crate::b::Thing;\n"),
            ("b", "fn f() { super::a::g() }\n"),
            ("c", "use crate::a;\n"),
        ]);
        assert_eq!(
            cycles(&graph(&m)),
            vec![vec!["a".to_string(), "b".to_string()]]
        );
    }

    #[test]
    fn comments_tests_and_parents_do_not_count() {
        let m = modules(&[
            ("", ""),
            ("a", "//! See [`crate::b`].\nuse crate::b::X;\n"),
            (
                "b",
                "/// [`crate::a::Y`]\nfn f() {}\n#[cfg(test)]\nmod tests { use crate::a; }\n",
            ),
            ("b::c", "use super::super::b::X; use crate::b;\n"),
        ]);
        assert!(cycles(&graph(&m)).is_empty(), "{:?}", graph(&m));
    }
}
