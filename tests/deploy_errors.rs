//! Bad input gets a clear error, exit code 1, no panic, and changes nothing it should not.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use support::{bare_xtask, emulator, run, xtask};

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn stack_exists(stack: &str) -> bool {
    run(xtask(), &["outputs", "--stack-name", stack]).code == Some(0)
}

#[test]
fn a_malformed_template_is_reported_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let template = write(
        dir.path(),
        "broken.yaml",
        "Resources:\n  Table: [unclosed\n",
    );
    let out = run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "malformed",
            "--template",
            &template,
            "--env-dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .failed();
    assert!(
        out.stderr.contains("broken.yaml is invalid"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("nothing was changed in AWS"),
        "{}",
        out.stderr
    );
    assert!(!stack_exists("malformed"));
    assert!(!dir.path().join("server/.env").exists());
}

#[test]
fn an_unknown_resource_type_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = std::fs::read_to_string(support::root().join("stacks/mcp-auth.yaml")).unwrap();
    let typo = bundled.replace("Type: AWS::DynamoDB::Table", "Type: AWS::DynamoDB::Tabel");
    let template = write(dir.path(), "typo.yaml", &typo);
    let out = run(
        xtask(),
        &["deploy", "--stack-name", "typo", "--template", &template],
    )
    .failed();
    assert!(
        out.stderr.contains("AWS::DynamoDB::Tabel"),
        "{}",
        out.stderr
    );
    assert!(!stack_exists("typo"));
}

#[test]
fn a_missing_template_is_reported() {
    let out = run(
        xtask(),
        &["deploy", "--template", "/nonexistent/stack.yaml"],
    )
    .failed();
    assert!(
        out.stderr
            .contains("cannot read the template /nonexistent/stack.yaml"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_resource_failing_at_create_is_named_and_the_stuck_stack_is_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = std::fs::read_to_string(support::root().join("stacks/mcp-auth.yaml")).unwrap();
    // Valid for the linter, but the branding names an app client that does not exist.
    let failing = bundled.replacen("ClientId: !Ref ExampleClient", "ClientId: nosuchclient", 1);
    assert_ne!(failing, bundled);
    let template = write(dir.path(), "failing.yaml", &failing);
    let env_dir = dir.path().to_str().unwrap();
    let out = run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "failing",
            "--template",
            &template,
            "--env-dir",
            env_dir,
            "--timeout",
            "5s",
        ],
    )
    .failed();
    assert!(out.stderr.contains("CreateStack failed"), "{}", out.stderr);
    assert!(
        out.stderr.contains("ResourceNotFoundException"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join("server/.env").exists());

    // The emulator has no rollback, so the stack stays CREATE_IN_PROGRESS: deploy says to wait.
    let busy = run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "failing",
            "--template",
            &template,
            "--env-dir",
            env_dir,
        ],
    )
    .failed();
    assert!(
        busy.stderr.contains("is CREATE_IN_PROGRESS"),
        "{}",
        busy.stderr
    );
    assert!(
        busy.stderr
            .contains("cargo xtask outputs --wait --stack-name failing --region us-east-1"),
        "{}",
        busy.stderr
    );
    // Waiting gives up after the timeout and says the operation goes on.
    let waited = run(
        xtask(),
        &[
            "outputs",
            "--stack-name",
            "failing",
            "--wait",
            "--timeout",
            "4s",
        ],
    )
    .failed();
    assert!(
        waited.stderr.contains("still CREATE_IN_PROGRESS after"),
        "{}",
        waited.stderr
    );
    assert!(
        waited.stderr.contains("CloudFormation keeps working on it"),
        "{}",
        waited.stderr
    );
    // Cleanup removes it.
    run(
        xtask(),
        &[
            "cleanup",
            "--yes",
            "--stack-name",
            "failing",
            "--env-dir",
            env_dir,
        ],
    )
    .ok();
    assert!(!stack_exists("failing"));
}

#[test]
fn a_stack_name_taken_by_another_template_is_left_alone() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let config = support::sdk_config().await;
        aws_sdk_cloudformation::Client::new(&config)
            .create_stack()
            .stack_name("someone-elses")
            .template_body(
                "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      \
                 BillingMode: PAY_PER_REQUEST\n      AttributeDefinitions:\n        - \
                 {AttributeName: id, AttributeType: S}\n      KeySchema:\n        - \
                 {AttributeName: id, KeyType: HASH}\n",
            )
            .send()
            .await
            .unwrap();
    });
    let deploy = run(xtask(), &["deploy", "--stack-name", "someone-elses"]).failed();
    assert!(
        deploy
            .stderr
            .contains("was not created by `cargo xtask deploy`"),
        "{}",
        deploy.stderr
    );
    assert!(deploy.stderr.contains("--stack-name"), "{}", deploy.stderr);
    let cleanup = run(xtask(), &["cleanup", "--stack-name", "someone-elses"]).failed();
    assert!(
        cleanup.stderr.contains("so it is not deleted"),
        "{}",
        cleanup.stderr
    );
    assert!(stack_exists("someone-elses"), "a foreign stack was touched");
}

#[test]
fn missing_credentials_are_explained() {
    let mut cmd = bare_xtask();
    // The endpoint is the emulator so that, whatever happens, nothing reaches real AWS.
    cmd.env("AWS_ENDPOINT_URL", &emulator().endpoint)
        .env("AWS_REGION", "us-east-1");
    let out = run(cmd, &["deploy"]).failed();
    assert!(
        out.stderr.contains("no usable AWS credentials"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("aws sso login"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("CredentialsNotLoaded"),
        "no debug dump: {}",
        out.stderr
    );
}

#[test]
fn a_profile_that_does_not_exist_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n[profile work]\nregion = eu-west-1\n",
    )
    .unwrap();
    let mut cmd = bare_xtask();
    cmd.env("AWS_ENDPOINT_URL", &emulator().endpoint)
        .env("AWS_CONFIG_FILE", &config);
    let out = run(cmd, &["deploy", "--profile", "my-profile"]).failed();
    assert!(
        out.stderr
            .contains("the AWS profile \"my-profile\" is not in"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("they have: default, work"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("aws configure --profile my-profile"),
        "{}",
        out.stderr
    );
    // Without any config file the message says so rather than listing nothing.
    let out = run(bare_xtask(), &["outputs", "--profile", "my-profile"]).failed();
    assert!(
        out.stderr.contains("hold no profiles, or do not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_or_malformed_region_is_explained() {
    let mut cmd = bare_xtask();
    cmd.env("AWS_ENDPOINT_URL", &emulator().endpoint);
    let out = run(cmd, &["outputs"]).failed();
    assert!(
        out.stderr
            .contains("no AWS region is configured: pass --region"),
        "{}",
        out.stderr
    );
    let out = run(xtask(), &["outputs", "--region", "useast1"]).failed();
    assert!(
        out.stderr.contains("\"useast1\" is not an AWS region name"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_stack_in_another_region_is_not_found_and_the_region_is_named() {
    let out = run(
        xtask(),
        &[
            "outputs",
            "--stack-name",
            "elsewhere",
            "--region",
            "eu-west-3",
        ],
    )
    .failed();
    assert!(
        out.stderr
            .contains("no stack named elsewhere in region eu-west-3"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_upper_case_stack_name_needs_a_domain_prefix() {
    let out = run(xtask(), &["deploy", "--stack-name", "McpAuth"]).failed();
    assert!(
        out.stderr.contains("pass --domain-prefix"),
        "{}",
        out.stderr
    );
    assert!(!stack_exists("McpAuth"));
}

#[test]
fn a_stack_name_too_long_for_the_default_domain_prefix_is_refused_before_anything_is_created() {
    // 55 characters, plus "-" and the 8 hex digits, is one more than Cognito's 63.
    let name = format!("a{}", "b".repeat(54));
    let out = run(xtask(), &["deploy", "--stack-name", &name]).failed();
    assert!(
        out.stderr.contains("has 55 characters") && out.stderr.contains("Pass --domain-prefix"),
        "{}",
        out.stderr
    );
    assert!(!stack_exists(&name));
}

#[test]
fn a_resource_uri_cognito_cannot_bind_is_refused_before_aws_is_asked() {
    for (uri, reason) in [
        ("http://mcp.example.com/mcp", "plain http only on localhost"),
        ("https://mcp.example.com/mcp?tenant=1", "has a query"),
        ("https://mcp.example.com/a/../mcp", "segments"),
    ] {
        let out = run(
            bare_xtask(),
            &["deploy", "--stack-name", "never", "--resource-uri", uri],
        );
        assert_eq!(out.code, Some(2), "a usage error: {out:#?}");
        assert!(out.stderr.contains(reason), "{uri}: {}", out.stderr);
    }
}
