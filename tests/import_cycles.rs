//! No two files of a crate import each other, directly or through others: each crate's files
//! read one way, leaves first.
//!
//! A file imports another when it names an item of that file's module: in a `use` (braces
//! expanded), or inline (`crate::request_body::read_whole(…)`, `sessions::IDLE`). The path is
//! resolved to the deepest module that has a file; an item re-exported elsewhere counts against
//! the file that names it, so an import names the module that defines what it takes. Test modules
//! (`#[cfg(test)]` to the end of the file) and comments are left out: a file's tests may use
//! anything. The cycles are the graph's strongly connected components of more than one file.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// A module path (`["facade", "token", "code"]`); the crate root is empty.
type ModulePath = Vec<String>;

/// Every `.rs` file under `src`, by module path.
fn modules(src: &Path) -> BTreeMap<ModulePath, PathBuf> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let mut module: ModulePath = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            // A binary beside the library (src/main.rs, src/bin/…) is a crate of its own, whose
            // paths into the library are another crate's.
            let binary = relative.as_os_str() == "main" && src.join("lib.rs").exists();
            if binary || module.first().is_some_and(|m| m == "bin") {
                continue;
            }
            found.insert(module, path);
        }
    }
    found
}

/// The file's code without its test module and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at) => &text[..at],
        None => &text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string ("http://…") is kept: it starts no comment there.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a `use` tree names, braces expanded: `a::{b, c::{d}}` -> `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let (prefix, rest) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&rest[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(expand)
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// Every path the code names: those of its `use` items and those written inline.
fn paths(code: &str) -> Vec<String> {
    let uses = regex::Regex::new(r"(?s)\buse\s+([^;]+);").unwrap();
    let inline = regex::Regex::new(r"\b[a-z_][a-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)+").unwrap();
    let mut found: Vec<String> = uses
        .captures_iter(code)
        .flat_map(|c| expand(&c[1]))
        .collect();
    let rest = uses.replace_all(code, "");
    found.extend(inline.find_iter(&rest).map(|m| m.as_str().to_owned()));
    found
}

/// The module file a path written in `from` names, if it is one of this crate's.
fn resolve(
    from: &ModulePath,
    path: &str,
    known: &BTreeMap<ModulePath, PathBuf>,
) -> Option<ModulePath> {
    let mut segments = path
        .split("::")
        .map(|s| s.split(" as ").next().unwrap_or(s));
    let mut at: ModulePath = match segments.next()? {
        "crate" => Vec::new(),
        "self" => from.clone(),
        "super" => from[..from.len().checked_sub(1)?].to_vec(),
        child => {
            // A child module named without `self::`; anything else is another crate.
            let mut own = from.clone();
            own.push(child.to_owned());
            known.contains_key(&own).then_some(own)?
        }
    };
    for segment in segments {
        let mut deeper = at.clone();
        match segment {
            "super" => {
                deeper.pop();
            }
            _ => deeper.push(segment.to_owned()),
        }
        if !known.contains_key(&deeper) {
            break;
        }
        at = deeper;
    }
    Some(at)
}

/// The crate's import graph: for each file, the files it imports.
fn graph(src: &Path) -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
    let known = modules(src);
    known
        .iter()
        .map(|(module, path)| {
            let imports = paths(&code(path))
                .iter()
                .filter_map(|p| resolve(module, p, &known))
                .filter(|target| target != module)
                .collect();
            (module.clone(), imports)
        })
        .collect()
}

/// The graph's strongly connected components of more than one module (Tarjan's algorithm).
fn cycles(graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'g ModulePath, usize>,
        low: BTreeMap<&'g ModulePath, usize>,
        stack: Vec<&'g ModulePath>,
        found: Vec<Vec<ModulePath>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g ModulePath) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn name(m: &ModulePath) -> String {
    if m.is_empty() {
        "(root)".into()
    } else {
        m.join("::")
    }
}

fn describe(found: &[Vec<ModulePath>]) -> String {
    found
        .iter()
        .map(|c| {
            let names: Vec<String> = c.iter().map(name).collect();
            format!("  {}", names.join(" <-> "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each cycle's imports among its own files: what to untie.
fn edges(graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>, found: &[Vec<ModulePath>]) -> String {
    let mut out = String::new();
    for component in found {
        for from in component {
            let to: Vec<String> = graph[from]
                .iter()
                .filter(|t| component.contains(t))
                .map(name)
                .collect();
            out.push_str(&format!("  {} -> {}\n", name(from), to.join(", ")));
        }
        out.push('\n');
    }
    out
}

fn assert_no_cycles(crate_src: &str) {
    let graph = graph(&support::root().join(crate_src));
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "files of {crate_src} import each other in a circle:\n{}\nthe imports inside each:\n{}",
        describe(&found),
        edges(&graph, &found)
    );
}

#[test]
fn the_server_reads_one_way() {
    assert_no_cycles("server/src");
}

#[test]
fn the_tester_reads_one_way() {
    assert_no_cycles("conformance/src");
}

#[test]
fn the_command_line_reads_one_way() {
    assert_no_cycles("src");
}

#[test]
fn the_finder_sees_a_cycle_and_expands_use_trees() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a; mod b; mod c; mod d;\n");
    write("a.rs", "use crate::{b::{Thing, other::More}, d};\n");
    // An inline path, and one in a comment and a test module that do not count.
    write(
        "b/mod.rs",
        "mod other;\nfn f() { crate::c::g() } // crate::d::x\n#[cfg(test)]\nmod tests { use crate::d::X; }\n",
    );
    write("b/other.rs", "use super::super::a::A;\n");
    write(
        "c.rs",
        "pub fn g() { let _ = \"http://x\"; } use std::fmt;\n",
    );
    write("d.rs", "");
    let found = cycles(&graph(dir.path()));
    assert_eq!(
        describe(&found),
        "  a <-> b::other",
        "a -> b::other -> a, and nothing else"
    );
    let g = graph(dir.path());
    let b: Vec<String> = g[&vec!["b".to_owned()]]
        .iter()
        .map(|m| m.join("::"))
        .collect();
    assert_eq!(b, ["c"]);
}
