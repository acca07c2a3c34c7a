//! The standalone `mcp-auth-conformance` binary: what a CI gate in another repository runs.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

use std::process::Command;

fn tester(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-auth-conformance"))
        .args(args)
        .env_remove("MCP_CONFORMANCE_TOKEN")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn wrong_targets_are_refused_with_what_to_do() {
    for (target, says) in [
        ("not-a-url", "add http:// or https://"),
        ("127.0.0.1:8080/mcp", "add http:// or https://"),
        (
            "ftp://mcp.example.com/mcp",
            "give an http:// or https:// URL",
        ),
    ] {
        let (code, text) = tester(&[target]);
        assert_eq!(code, 2, "{target}: {text}");
        assert!(text.contains(says), "{target}: {text}");
    }
    let (code, text) = tester(&[]);
    assert_eq!(code, 2);
    assert!(text.contains("give the MCP server's URL"), "{text}");
}

#[test]
fn a_server_that_is_not_there_is_named_as_such() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, text) = tester(&[&format!("http://127.0.0.1:{port}/mcp")]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("nothing is listening there (is the server running"),
        "{text}"
    );
}

#[test]
fn a_typo_in_a_selection_stops_before_anything_runs() {
    let (code, text) = tester(&["http://127.0.0.1:9/mcp", "--only", "prm.resource-matchs"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("prm.resource-matchs"), "{text}");
}

/// The point of the standalone binary: installing it builds neither the AWS SDK nor the server.
#[test]
fn the_tester_depends_on_neither_the_aws_sdk_nor_the_server() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--package",
            "mcp-auth-conformance",
            "--edges",
            "normal,build",
            "--prefix",
            "none",
            "--locked",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().count() > 50, "a real tree: {tree}");
    for line in tree.lines() {
        // aws-lc-rs is rustls's cryptography, not the AWS SDK.
        for forbidden in ["aws-sdk-", "aws-config", "aws-smithy-", "mcp-auth-server"] {
            assert!(!line.starts_with(forbidden), "the tester pulls in {line}");
        }
    }
}
