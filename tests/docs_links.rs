//! The documentation's relative links lead somewhere: every `[text](path)` and `[text](path#anchor)`
//! in README.md and docs/ names a file that exists, and an anchor names one of its headings.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::path::{Path, PathBuf};

/// The Markdown files a reader navigates.
fn documents() -> Vec<PathBuf> {
    let root = support::root();
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// `(target)` of every inline link outside code blocks and code spans.
fn links(markdown: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_code_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        if in_code_block {
            continue;
        }
        // Code spans may hold `](` that is not a link.
        let text: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" ");
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].trim().to_owned());
            }
        }
    }
    found
}

/// GitHub's anchor for a heading: lower case, spaces to hyphens, punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> Vec<String> {
    let mut in_code_block = false;
    markdown
        .lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                in_code_block = !in_code_block;
            }
            !in_code_block
        })
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| slug(h.trim_start_matches('#')))
        .collect()
}

fn broken(from: &Path, target: &str) -> Option<String> {
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        from.to_path_buf()
    } else {
        from.parent().unwrap().join(path)
    };
    if !file.exists() {
        return Some(format!("{target}: {} does not exist", file.display()));
    }
    let anchor = anchor?;
    let text = std::fs::read_to_string(&file).ok()?;
    (!anchors(&text).iter().any(|a| a == anchor))
        .then(|| format!("{target}: no heading #{anchor} in {}", file.display()))
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for target in links(&text) {
            checked += 1;
            if let Some(problem) = broken(&doc, &target) {
                problems.push(format!("{}: {problem}", doc.display()));
            }
        }
    }
    assert!(checked > 10, "links were found at all ({checked})");
    assert!(problems.is_empty(), "dead links:\n{}", problems.join("\n"));
}

#[test]
fn the_checker_finds_what_it_should() {
    let md =
        "[a](docs/x.md) `[b](not/a/link.md)`\n```\n[c](in/code.md)\n```\n[d](#top)\n# Top level\n";
    assert_eq!(links(md), ["docs/x.md", "#top"]);
    assert_eq!(anchors(md), ["top-level"]);
    assert_eq!(
        slug("How a client signs in (the façade)"),
        "how-a-client-signs-in-the-façade"
    );
    let here = support::root().join("README.md");
    assert!(broken(&here, "docs/nope.md").is_some());
    assert!(broken(&here, "docs/testing.md#no-such-heading").is_some());
    assert!(broken(&here, "docs/testing.md#the-aws-emulator").is_none());
    assert!(broken(&here, "https://example.com/x").is_none());
}
