//! The workspace's manifests keep each decision in one place: a dependency two members use is
//! declared once, in the root's `[workspace.dependencies]` (a member may only add features), and
//! every member takes the workspace's lints. Members come from `cargo metadata`; their manifests
//! are read as text, one dependency a line, which is how this workspace writes them.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    process::Command,
};

use serde_json::Value;

/// A member of the workspace: its name, its manifest, the dependencies it names and the root
/// files of its integration-test targets.
struct Member {
    name: String,
    manifest: PathBuf,
    dependencies: BTreeSet<String>,
    test_roots: Vec<PathBuf>,
}

fn members() -> Vec<Member> {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .args(["--locked", "--offline"])
        .current_dir(support::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap())
        .collect();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| ids.contains(p["id"].as_str().unwrap()))
        .map(|p| Member {
            name: p["name"].as_str().unwrap().to_owned(),
            manifest: PathBuf::from(p["manifest_path"].as_str().unwrap()),
            dependencies: p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    d["rename"]
                        .as_str()
                        .or(d["name"].as_str())
                        .unwrap()
                        .to_owned()
                })
                .collect(),
            test_roots: p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "test"))
                .map(|t| PathBuf::from(t["src_path"].as_str().unwrap()))
                .collect(),
        })
        .collect()
}

/// `(section, line)` of each dependency declaration of a member: lines under `[dependencies]`,
/// `[dev-dependencies]`, `[build-dependencies]` and their `[target.…]` forms (not the root's
/// `[workspace.dependencies]`).
fn declarations(manifest: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
        } else if section.ends_with("dependencies]")
            && !section.starts_with("[workspace")
            && !line.is_empty()
            && !line.starts_with('#')
        {
            found.push((section.clone(), line.to_owned()));
        }
    }
    found
}

/// The dependency a declaration line names (`name = …` or `name.workspace = true`).
fn declared_name(line: &str) -> &str {
    line.split(['=', '.']).next().unwrap().trim()
}

/// Whether a declaration takes its version from `[workspace.dependencies]`.
fn inherits(line: &str) -> bool {
    let (_, value) = line.split_once('=').unwrap();
    line.contains(".workspace = true") || value.replace(' ', "").contains("{workspace=true")
}

#[test]
fn a_dependency_two_members_use_is_declared_once_in_the_workspace() {
    let members = members();
    assert!(members.len() >= 3, "the root, server/ and conformance/");
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for member in &members {
        for dependency in &member.dependencies {
            users.entry(dependency).or_default().push(&member.name);
        }
    }
    let shared: BTreeSet<&str> = users
        .iter()
        .filter(|(_, used_by)| used_by.len() >= 2)
        .map(|(name, _)| *name)
        .collect();
    assert!(shared.contains("reqwest"), "shared: {shared:?}");
    let mut own_versions = Vec::new();
    for member in &members {
        let manifest = std::fs::read_to_string(&member.manifest).unwrap();
        for (section, line) in declarations(&manifest) {
            if shared.contains(declared_name(&line)) && !inherits(&line) {
                own_versions.push(format!("{}: {section} {line}", member.manifest.display()));
            }
        }
    }
    assert!(
        own_versions.is_empty(),
        "declare these once in the root's [workspace.dependencies] and write \
         `name.workspace = true` (or `{{ workspace = true, features = [...] }}`) in each member:\n{}",
        own_versions.join("\n")
    );
}

#[test]
fn every_member_takes_the_workspace_lints() {
    for member in members() {
        let manifest = std::fs::read_to_string(&member.manifest).unwrap();
        let lines: Vec<&str> = manifest.lines().map(str::trim).collect();
        assert!(
            lines
                .windows(2)
                .any(|pair| pair == ["[lints]", "workspace = true"]),
            "{} lacks `[lints]\\nworkspace = true`",
            member.manifest.display()
        );
    }
}

/// Where a crate's tests are one binary (`autotests = false`), Cargo no longer builds each
/// `tests/*.rs`: a file that is neither a test target nor a module one declares with `#[path]`
/// would never run, and nothing would say so.
#[test]
fn every_test_file_is_built() {
    let mut checked = 0;
    for member in members() {
        let Ok(entries) = std::fs::read_dir(member.manifest.with_file_name("tests")) else {
            continue;
        };
        let roots: String = member
            .test_roots
            .iter()
            .map(|root| std::fs::read_to_string(root).unwrap())
            .collect();
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".rs") || member.test_roots.contains(&path) {
                continue;
            }
            checked += 1;
            assert!(
                roots.contains(&format!("#[path = \"{name}\"]")),
                "{} is never built: declare it in {}'s tests/it.rs as `#[path = \"{name}\"] mod …;`",
                path.display(),
                member.name
            );
        }
    }
    assert!(
        checked >= 20,
        "the test files of the root and server/ are modules"
    );
}

#[test]
fn the_declaration_reader_reads_each_form() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\n# a comment\nserde.workspace = true\n\
                    reqwest = { workspace = true, features = [\"http2\"] }\naxum = \"0.8\"\n\n\
                    [target.'cfg(unix)'.dev-dependencies]\nbase64 = { version = \"0.22\" }\n\n\
                    [workspace.dependencies]\nsha2 = \"0.11\"\n";
    let found = declarations(manifest);
    let names: Vec<&str> = found.iter().map(|(_, l)| declared_name(l)).collect();
    assert_eq!(names, ["serde", "reqwest", "axum", "base64"]);
    let inherited: Vec<bool> = found.iter().map(|(_, l)| inherits(l)).collect();
    assert_eq!(inherited, [true, true, false, false]);
}
