//! `deploy`, `outputs` and `cleanup` against the AWS emulator: the whole life of a stack.

mod support;

use std::path::Path;

use support::{env_value, read_env, run, xtask};

/// `xtask` run inside `dir`, so `--env-dir .` prints short, stable paths.
fn xtask_in(dir: &Path) -> std::process::Command {
    let mut cmd = xtask();
    cmd.current_dir(dir);
    cmd
}

fn outputs_json(stack: &str) -> serde_json::Value {
    let out = run(xtask(), &["outputs", "--json", "--stack-name", stack]).ok();
    serde_json::from_str(&out.stdout).expect("outputs --json prints JSON")
}

fn sdk_config(rt: &tokio::runtime::Runtime) -> aws_config::SdkConfig {
    rt.block_on(support::sdk_config())
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn deploy_is_idempotent_and_cleanup_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let stack = "lifecycle";
    let args = ["deploy", "--stack-name", stack, "--env-dir", "."];

    // First deploy creates the stack and writes the env files.
    let first = run(xtask_in(dir.path()), &args).ok();
    assert!(
        first.stderr.contains("Creating stack lifecycle"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("CREATE_COMPLETE"),
        "live events are shown: {}",
        first.stderr
    );
    let json = outputs_json(stack);
    assert_eq!(json["status"], "CREATE_COMPLETE");
    let outputs = &json["outputs"];
    let pool_id = outputs["UserPoolId"].as_str().unwrap().to_owned();
    for key in [
        "Region",
        "UserPoolId",
        "IssuerUrl",
        "JwksUrl",
        "DomainBaseUrl",
        "ResourceUri",
        "Scopes",
        "UpstreamClientId",
        "UpstreamCallbackUrl",
        "ExampleClientId",
        "TableName",
    ] {
        assert!(
            outputs[key].as_str().is_some_and(|v| !v.is_empty()),
            "output {key} in {json}"
        );
    }
    let all_outputs = outputs.to_string();
    assert!(
        !all_outputs.to_lowercase().contains("secret"),
        "no secret in outputs: {all_outputs}"
    );

    // The env files carry the outputs and the secrets Cognito holds for the two clients.
    let server = read_env(&dir.path().join("server/.env"));
    assert_eq!(env_value(&server, "COGNITO_USER_POOL_ID"), pool_id);
    assert_eq!(
        env_value(&server, "COGNITO_UPSTREAM_CLIENT_ID"),
        outputs["UpstreamClientId"]
    );
    assert_eq!(env_value(&server, "DYNAMODB_TABLE"), outputs["TableName"]);
    assert_eq!(
        env_value(&server, "MCP_RESOURCE_URI"),
        "http://localhost:8080/mcp"
    );
    assert_eq!(env_value(&server, "COGNITO_ISSUER"), outputs["IssuerUrl"]);
    let emulator = &support::emulator().endpoint;
    assert_eq!(
        env_value(&server, "COGNITO_JWKS_URL"),
        format!("{emulator}/{pool_id}/.well-known/jwks.json"),
        "behind an endpoint override the JWKS is the endpoint's"
    );
    let upstream_secret = env_value(&server, "COGNITO_UPSTREAM_CLIENT_SECRET").to_owned();
    let static_client = read_env(&dir.path().join(".env.client.static"));
    let example_secret = env_value(&static_client, "OAUTH_CLIENT_SECRET").to_owned();
    assert_eq!(
        env_value(&static_client, "OAUTH_CLIENT_ID"),
        outputs["ExampleClientId"]
    );
    assert_eq!(
        env_value(&static_client, "OAUTH_REDIRECT_URI"),
        "http://localhost:3000/callback"
    );
    assert!(
        env_value(&static_client, "OAUTH_AUTHORIZATION_ENDPOINT").ends_with("/oauth2/authorize")
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = sdk_config(&rt);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let cognito_secret = |client_id: &str| {
        rt.block_on(
            cognito
                .describe_user_pool_client()
                .user_pool_id(&pool_id)
                .client_id(client_id)
                .send(),
        )
        .unwrap()
        .user_pool_client()
        .and_then(|c| c.client_secret())
        .unwrap()
        .to_owned()
    };
    assert_eq!(
        upstream_secret,
        cognito_secret(outputs["UpstreamClientId"].as_str().unwrap())
    );
    assert_eq!(
        example_secret,
        cognito_secret(outputs["ExampleClientId"].as_str().unwrap())
    );
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join("server/.env")), 0o600);
    for (file, registration) in [
        (".env.client.static", "static"),
        (".env.client.dcr", "dcr"),
        (".env.client.cimd", "cimd"),
    ] {
        let path = dir.path().join(file);
        let pairs = read_env(&path);
        assert_eq!(env_value(&pairs, "MCP_CLIENT_REGISTRATION"), registration);
        assert_eq!(
            env_value(&pairs, "MCP_SERVER_URL"),
            "http://localhost:8080/mcp"
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600, "{file}");
    }

    // The table is there for the server's registrations.
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = outputs["TableName"].as_str().unwrap().to_owned();
    let described = rt
        .block_on(dynamodb.describe_table().table_name(&table).send())
        .unwrap();
    let keys: Vec<_> = described
        .table()
        .unwrap()
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]
    );

    // A second deploy with nothing changed is a clean no-op.
    let second = run(xtask_in(dir.path()), &args).ok();
    assert!(
        second.stderr.contains("already up to date"),
        "{}",
        second.stderr
    );
    assert_eq!(
        outputs_json(stack)["outputs"]["UserPoolId"],
        pool_id.as_str()
    );

    // A changed parameter updates in place: same pool, new resource URI, new env files.
    let changed = run(
        xtask_in(dir.path()),
        &[
            &args[..],
            &["--resource-uri", "https://mcp.example.com/mcp"][..],
        ]
        .concat(),
    )
    .ok();
    assert!(
        changed.stderr.contains("UPDATE_COMPLETE"),
        "{}",
        changed.stderr
    );
    let json = outputs_json(stack);
    assert_eq!(json["outputs"]["UserPoolId"], pool_id.as_str());
    assert_eq!(
        json["outputs"]["ResourceUri"],
        "https://mcp.example.com/mcp"
    );
    let server = read_env(&dir.path().join("server/.env"));
    assert_eq!(
        env_value(&server, "MCP_RESOURCE_URI"),
        "https://mcp.example.com/mcp"
    );
    // ...and a later deploy without the flag keeps it (UsePreviousValue), as a no-op.
    let again = run(xtask_in(dir.path()), &args).ok();
    assert!(
        again.stderr.contains("already up to date"),
        "{}",
        again.stderr
    );
    assert_eq!(
        outputs_json(stack)["outputs"]["ResourceUri"],
        "https://mcp.example.com/mcp"
    );

    // Cleanup deletes the stack (and the user pool with it) and the env files.
    let cleanup = run(
        xtask_in(dir.path()),
        &["cleanup", "--stack-name", stack, "--env-dir", "."],
    )
    .ok();
    assert!(
        cleanup.stderr.contains("DELETE_COMPLETE"),
        "{}",
        cleanup.stderr
    );
    assert!(
        cleanup.stderr.contains("Removed ./server/.env"),
        "{}",
        cleanup.stderr
    );
    for f in [
        "server/.env",
        ".env.client.static",
        ".env.client.dcr",
        ".env.client.cimd",
    ] {
        assert!(!dir.path().join(f).exists(), "{f} left behind");
    }
    let gone = run(xtask(), &["outputs", "--stack-name", stack]).failed();
    assert!(
        gone.stderr
            .contains("no stack named lifecycle in region us-east-1"),
        "{}",
        gone.stderr
    );
    let pools = rt.block_on(cognito.describe_user_pool().user_pool_id(&pool_id).send());
    assert!(pools.is_err(), "the user pool outlived its stack");
    let table_after = rt.block_on(dynamodb.describe_table().table_name(&table).send());
    assert!(
        table_after.is_err(),
        "the table (and its registrations) outlived the stack"
    );

    // A second cleanup has nothing to do, and says so.
    let twice = run(
        xtask_in(dir.path()),
        &["cleanup", "--stack-name", stack, "--env-dir", "."],
    )
    .ok();
    assert!(
        twice.stderr.contains("nothing to delete"),
        "{}",
        twice.stderr
    );
}

#[test]
fn deploy_never_overwrites_an_env_file_it_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("server")).unwrap();
    std::fs::write(dir.path().join("server/.env"), "MINE=1\n").unwrap();
    let out = run(
        xtask_in(dir.path()),
        &["deploy", "--stack-name", "foreign-env", "--env-dir", "."],
    )
    .failed();
    assert!(
        out.stderr
            .contains("was not written by `cargo xtask deploy`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("the stack is deployed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("server/.env")).unwrap(),
        "MINE=1\n"
    );
    // Cleanup deletes the stack but leaves the foreign file, with a warning.
    let cleanup = run(
        xtask_in(dir.path()),
        &["cleanup", "--stack-name", "foreign-env", "--env-dir", "."],
    )
    .ok();
    assert!(cleanup.stderr.contains("warning:"), "{}", cleanup.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("server/.env")).unwrap(),
        "MINE=1\n"
    );
}

#[test]
fn keep_env_leaves_the_env_files() {
    let dir = tempfile::tempdir().unwrap();
    run(
        xtask_in(dir.path()),
        &["deploy", "--stack-name", "keep-env", "--env-dir", "."],
    )
    .ok();
    run(
        xtask_in(dir.path()),
        &[
            "cleanup",
            "--stack-name",
            "keep-env",
            "--env-dir",
            ".",
            "--keep-env",
        ],
    )
    .ok();
    assert!(dir.path().join("server/.env").exists());
    let gone = run(xtask(), &["outputs", "--stack-name", "keep-env"]).failed();
    assert!(
        gone.stderr.contains("no stack named keep-env"),
        "{}",
        gone.stderr
    );
}
