//! The server's integration tests, one test binary: each `server/tests/NAME.rs` is the module
//! `NAME` (run one file with `cargo test -p mcp-auth-server --test it NAME::`), except `logs.rs`,
//! a binary of its own because it installs the process-wide log subscriber. One binary links the
//! server and the AWS SDK once instead of once per file. `#[path]` keeps each file where it is and
//! its own `mod support;`. Cargo's discovery of `tests/*.rs` is off (`autotests = false`): a file
//! not declared here or in Cargo.toml would never be built, which the root's
//! `tests/workspace_manifests.rs` refuses.

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
#[path = "mcp_sessions.rs"]
mod mcp_sessions;
#[path = "pages.rs"]
mod pages;
#[path = "proxies.rs"]
mod proxies;
#[path = "token_corpus.rs"]
mod token_corpus;
