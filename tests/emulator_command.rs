//! `cargo xtask emulator`: the emulator a person starts by hand, as docs/testing.md shows.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

#[tokio::test]
async fn the_emulator_runs_until_ctrl_c_and_prints_how_to_use_it() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["emulator", "--port", "0"])
        .env("MCP_AUTH_KIT_PYTHON", support::python())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut exports = Vec::new();
    for _ in 0..5 {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        exports.push(line.trim().to_owned());
    }
    let endpoint = exports[0]
        .strip_prefix("export AWS_ENDPOINT_URL=")
        .unwrap_or_else(|| panic!("{exports:?}"))
        .to_owned();
    assert_eq!(
        exports[1..4],
        [
            "export AWS_REGION=us-east-1",
            "export AWS_ACCESS_KEY_ID=testing",
            "export AWS_SECRET_ACCESS_KEY=testing"
        ]
    );
    // What the lines promise: an AWS API that answers there.
    let dynamodb = aws_sdk_dynamodb::Client::new(&support::sdk_config_at(&endpoint).await);
    let tables = dynamodb.list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty());
    // Ctrl-C stops it, and the emulator with it.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut waited = None;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            waited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = waited.expect("stopped within 10 s of Ctrl-C");
    assert!(status.success(), "{status}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        dynamodb.list_tables().send().await.is_err(),
        "the emulator stopped too"
    );
}
