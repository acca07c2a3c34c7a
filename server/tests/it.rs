//! The server's integration tests, one test binary: each `server/tests/NAME.rs` is the module
//! `NAME` (run one file with `cargo test -p mcp-auth-server --test it NAME::`), except `logs.rs`,
//! a binary of its own because it installs the process-wide log subscriber. One binary links the
//! server and the AWS SDK once instead of once per file. `#[path]` keeps each file where it is and
//! its own `mod support;`. Cargo's discovery of `tests/*.rs` is off (`autotests = false`): a file
//! not declared here or in Cargo.toml would never be built, which `every_test_file_is_a_module`
//! refuses.

#![allow(
    clippy::duplicate_mod,
    reason = "each file keeps its own copy of the support code, so its own emulator and servers"
)]

#[path = "cimd_ssrf.rs"]
mod cimd_ssrf;
#[path = "connections.rs"]
mod connections;
#[path = "direct_path.rs"]
mod direct_path;
#[path = "facade_attacks.rs"]
mod facade_attacks;
#[path = "facade_flow.rs"]
mod facade_flow;
#[path = "introspection.rs"]
mod introspection;
#[path = "jwks_cache.rs"]
mod jwks_cache;
#[path = "local_mode.rs"]
mod local_mode;
#[path = "token_corpus.rs"]
mod token_corpus;

/// A file in `tests/` that neither this crate nor Cargo.toml declares would silently never run.
#[test]
fn every_test_file_is_a_module() {
    let me = include_str!("it.rs");
    let manifest = include_str!("../Cargo.toml");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    for entry in std::fs::read_dir(&dir).expect("tests/ is readable") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".rs") && name != "it.rs" {
            assert!(
                me.contains(&format!("#[path = \"{name}\"]"))
                    || manifest.contains(&format!("path = \"tests/{name}\"")),
                "tests/{name} is not a module of tests/it.rs: add `#[path = \"{name}\"] mod …;` there"
            );
        }
    }
}
