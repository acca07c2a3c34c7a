//! The GitHub Action (`action.yml`) run here, step by step, as the GitHub runner runs it
//! (`tests/github_action/run_action.py`): against the bundled server it passes and leaves valid
//! SARIF and JUnit; against a server that breaks a rule it fails the job and still leaves them;
//! with its first report as the baseline, the same server passes.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod fixture;
mod reports;
mod support;

use std::{path::PathBuf, process::Command};

use mcp_auth_conformance::catalogue::CheckId;
use mcp_auth_server::local::{LocalOptions, LocalServer};
use serde_json::{Value, json};

/// The action's run: its outputs, the step that failed, the job summary, the exit status.
struct ActionRun {
    outputs: Value,
    failed_step: Value,
    summary: String,
    status: i32,
}

/// Runs the action with `inputs`, with the tester this build made on PATH (the action's install
/// step then uses it instead of `cargo install`).
fn run_action(inputs: Value) -> ActionRun {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_xtask"))
        .parent()
        .unwrap()
        .to_owned();
    assert!(
        bin_dir.join("mcp-auth-conformance").exists(),
        "the tester is not built in {}: cargo build -p mcp-auth-conformance",
        bin_dir.display()
    );
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(support::python())
        .arg(support::root().join("tests/github_action/run_action.py"))
        .arg(support::root())
        .arg(inputs.to_string())
        .env("PATH", path)
        .output()
        .expect("run the action's steps");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    ActionRun {
        outputs: json["outputs"].clone(),
        failed_step: json["failed_step"].clone(),
        summary: json["summary"].as_str().unwrap_or_default().to_owned(),
        status: out.status.code().unwrap_or(-1),
    }
}

fn output_path(run: &ActionRun, name: &str) -> PathBuf {
    let path = PathBuf::from(run.outputs[name].as_str().unwrap());
    assert!(path.exists(), "{name}: {}", path.display());
    path
}

#[tokio::test]
async fn the_action_gates_on_the_bundled_server_and_leaves_valid_reports() {
    let server = LocalServer::start(LocalOptions {
        auto_approve: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let token = server
        .static_client_token(&format!("openid {}/mcp:read", server.resource))
        .await
        .unwrap();
    let url = server.resource.to_string();
    let run = tokio::task::spawn_blocking(move || {
        run_action(json!({"url": url, "token": token, "fail-on": "must"}))
    })
    .await
    .unwrap();
    assert_eq!(run.status, 0, "{:?}", run.failed_step);
    assert_eq!(run.outputs["exit-code"], "0");
    assert!(run.failed_step.is_null());
    assert!(
        run.summary.contains("| check | level | result |"),
        "the Markdown report is the job summary: {}",
        run.summary
    );
    reports::assert_files_valid(&output_path(&run, "junit"), &output_path(&run, "sarif"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(output_path(&run, "json")).unwrap()).unwrap();
    assert!(
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "token.accepted" && r["outcome"] == "pass"),
        "the token input reached the tester"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_broken_rule_fails_the_job_and_a_baseline_forgives_what_it_knew() {
    let target = fixture::start(&[fixture::Fault::Breaks(CheckId::AsPkceS256)]).await;
    let url = target.to_string();
    let inputs = json!({"url": url, "token": fixture::VALID_TOKEN});
    let first = tokio::task::spawn_blocking({
        let inputs = inputs.clone();
        move || run_action(inputs)
    })
    .await
    .unwrap();
    assert_eq!(first.status, 1, "a MUST failure fails the job");
    assert_eq!(first.failed_step, "Judge the MCP server");
    assert_eq!(first.outputs["exit-code"], "1");
    let sarif = output_path(&first, "sarif");
    reports::assert_files_valid(&output_path(&first, "junit"), &sarif);
    assert!(
        std::fs::read_to_string(&sarif)
            .unwrap()
            .contains("as.pkce-s256"),
        "the failure is a SARIF result"
    );
    // Kept as the baseline, the known failure no longer fails the job.
    let baseline = tempfile::NamedTempFile::new().unwrap();
    std::fs::copy(output_path(&first, "json"), baseline.path()).unwrap();
    let mut with_baseline = inputs;
    with_baseline["baseline"] = baseline.path().display().to_string().into();
    let second = tokio::task::spawn_blocking(move || run_action(with_baseline))
        .await
        .unwrap();
    assert_eq!(second.status, 0, "{:?}", second.failed_step);
}
