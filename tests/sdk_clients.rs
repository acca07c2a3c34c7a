//! Real SDK clients sign in to the bundled server and call its tools: the TypeScript SDK
//! (`@modelcontextprotocol/sdk`'s `Client`, `StreamableHTTPClientTransport` and
//! `OAuthClientProvider`) and the Python SDK (`mcp`'s `OAuthClientProvider` on
//! `streamable_http_client`), pinned in `tests/third_party/` and installed by `.ci/run`.
//!
//! Each runs the authorization code flow through the façade's consent page and the development
//! AS's sign-in form (the scripts play the person at the browser, nothing else: no back door),
//! then `tools/list`, `tools/call whoami`, and `notes_add`, which needs `mcp:write`: a 403
//! `insufficient_scope` the client must step up from. Their transcripts are snapshots.
//!
//! A missing install fails these tests with the command to run, never skips them.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{path::PathBuf, process::Command};

use mcp_auth_server::local::{LocalOptions, LocalServer};
use serde_json::Value;

fn third_party() -> PathBuf {
    support::root().join("tests/third_party")
}

/// Node and the pinned SDK, or a failure that says how to install them.
fn node() -> Command {
    let sdk = third_party().join("node_modules/@modelcontextprotocol/sdk/package.json");
    assert!(
        sdk.exists(),
        "the TypeScript SDK is not installed ({} is missing): run\n  \
         npm ci --prefix tests/third_party\n(.ci/run does this)",
        sdk.display()
    );
    Command::new("node")
}

/// The Python with the pinned `mcp` SDK, or a failure that says how to install it.
fn python() -> Command {
    let venv = support::root().join(".venv/bin/python");
    let python = std::env::var_os("MCP_AUTH_KIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or(venv);
    let has_sdk = Command::new(&python)
        .args(["-c", "import mcp.client.auth, httpx2"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_sdk,
        "the Python SDK (mcp) is not installed in {}: run\n  \
         .venv/bin/pip install -r tests/third_party/requirements.txt\n(.ci/run does this)",
        python.display()
    );
    Command::new(python)
}

/// Runs an SDK client script against a fresh server as its development user; returns its
/// transcript (one JSON value a line), after checking it exited 0.
async fn transcript(mut client: Command) -> Vec<Value> {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    client
        .arg(server.resource.as_str())
        .env("MCP_USERNAME", &server.user.username)
        .env("MCP_PASSWORD", &server.user.password)
        .current_dir(third_party());
    let output = tokio::task::spawn_blocking(move || client.output())
        .await
        .unwrap()
        .expect("start the SDK client");
    server.shutdown().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK client failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The resource a transcript's authorization requests named, made stable for snapshots.
fn redacted(mut steps: Vec<Value>) -> Vec<Value> {
    for step in &mut steps {
        if step.get("resource").is_some_and(Value::is_string) {
            step["resource"] = "[the server's /mcp]".into();
        }
    }
    steps
}

#[tokio::test]
async fn the_typescript_sdk_signs_in_by_dcr_and_steps_up() {
    let mut client = node();
    client
        .arg("typescript_sdk_client.mjs")
        .env("MCP_REGISTRATION", "dcr");
    insta::assert_yaml_snapshot!(redacted(transcript(client).await));
}

#[tokio::test]
async fn the_python_sdk_signs_in_by_dcr_and_steps_up() {
    let mut client = python();
    client.arg("python_sdk_client.py");
    insta::assert_yaml_snapshot!(redacted(transcript(client).await));
}
