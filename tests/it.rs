//! The root crate's integration tests, one test binary: each `tests/NAME.rs` is the module `NAME`
//! (run one file with `cargo test --test it NAME::`). One binary links the AWS SDK once instead
//! of once per file. `#[path]` keeps each file where it is and its own `mod support;`: every
//! file still gets its own copy of the support code, so its own emulator, as when it was a binary
//! of its own. Cargo's discovery of `tests/*.rs` is off (`autotests = false` in Cargo.toml): a file
//! not declared here would never be built, which `tests/workspace_manifests.rs` refuses.

#![allow(
    clippy::duplicate_mod,
    reason = "each file keeps its own copy of the support code, so its own emulator and servers"
)]

#[path = "browser_flow.rs"]
mod browser_flow;
#[path = "cli_snapshots.rs"]
mod cli_snapshots;
#[path = "cognito_mode.rs"]
mod cognito_mode;
#[path = "conformance_checks.rs"]
mod conformance_checks;
#[path = "deploy_errors.rs"]
mod deploy_errors;
#[path = "docs_links.rs"]
mod docs_links;
#[path = "emulator_command.rs"]
mod emulator_command;
#[path = "example_clients.rs"]
mod example_clients;
#[path = "facade_on_dynamodb.rs"]
mod facade_on_dynamodb;
#[path = "github_action.rs"]
mod github_action;
#[path = "iam_policies.rs"]
mod iam_policies;
#[path = "import_cycles.rs"]
mod import_cycles;
#[path = "official_suite.rs"]
mod official_suite;
#[path = "sdk_clients.rs"]
mod sdk_clients;
#[path = "serve_command.rs"]
mod serve_command;
#[path = "smoke.rs"]
mod smoke;
#[path = "stack_lifecycle.rs"]
mod stack_lifecycle;
#[path = "state_store.rs"]
mod state_store;
#[path = "template_rules.rs"]
mod template_rules;
#[path = "third_party_servers.rs"]
mod third_party_servers;
#[path = "workspace_manifests.rs"]
mod workspace_manifests;
