//! `deploy`, `outputs` and `cleanup` against the AWS emulator: the whole life of a stack.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::path::Path;

use support::{env_value, read_env, run, xtask};

/// `xtask` run inside `dir`, so `--env-dir .` prints short, stable paths.
fn xtask_in(dir: &Path) -> std::process::Command {
    let mut cmd = xtask();
    cmd.current_dir(dir);
    cmd
}

/// `cleanup` of `stack` with the env files under `dir`, confirmed with `--yes` or not.
fn cleanup(dir: &Path, stack: &str, confirmed: bool) -> support::Run {
    let mut args = vec!["cleanup", "--stack-name", stack, "--env-dir", "."];
    if confirmed {
        args.push("--yes");
    }
    run(xtask_in(dir), &args)
}

/// Asserts that a command's stderr says `text`.
#[track_caller]
fn said(out: &support::Run, text: &str) {
    assert!(
        out.stderr.contains(text),
        "{text:?} not in:\n{}",
        out.stderr
    );
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
    said(&first, "Creating stack lifecycle");
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
    // The default domain prefix is the stack name and a hash, never the account id.
    let domain = outputs["DomainBaseUrl"].as_str().unwrap();
    let prefix = domain
        .strip_prefix("https://lifecycle-")
        .and_then(|rest| rest.strip_suffix(".auth.us-east-1.amazoncognito.com"))
        .unwrap_or_else(|| panic!("{domain}"));
    assert!(
        prefix.len() == 8 && prefix.chars().all(|c| c.is_ascii_hexdigit()),
        "{domain}"
    );
    assert!(!domain.contains("123456789012"), "{domain}");
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
    // The façade's key is generated once; replicas reading this file share it.
    let csrf_key = env_value(&server, "FACADE_CSRF_KEY").to_owned();
    assert_eq!(csrf_key.len(), 43, "32 random bytes, base64url");
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
    let described = rt
        .block_on(cognito.describe_user_pool().user_pool_id(&pool_id).send())
        .unwrap();
    assert_eq!(
        described.user_pool().unwrap().deletion_protection(),
        Some(&aws_sdk_cognitoidentityprovider::types::DeletionProtectionType::Active),
        "the users are protected from a mistaken deletion"
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
    said(&second, "already up to date");
    assert_eq!(
        outputs_json(stack)["outputs"]["UserPoolId"],
        pool_id.as_str()
    );

    // A changed parameter updates in place: same pool, new resource URI, new env files. The URI
    // is canonicalised first, as the server does, so the scopes Cognito grants are the ones the
    // server asks for.
    let changed = run(
        xtask_in(dir.path()),
        &[
            &args[..],
            &["--resource-uri", "HTTPS://MCP.Example.com:443/mcp"][..],
        ]
        .concat(),
    )
    .ok();
    said(&changed, "UPDATE_COMPLETE");
    said(
        &changed,
        "Resource URI https://mcp.example.com/mcp: the canonical form of \"HTTPS://MCP.Example.com:443/mcp\"",
    );
    let identifiers: Vec<String> = rt
        .block_on(
            cognito
                .list_resource_servers()
                .user_pool_id(&pool_id)
                .max_results(50)
                .send(),
        )
        .unwrap()
        .resource_servers()
        .iter()
        .filter_map(|s| s.identifier().map(str::to_owned))
        .collect();
    assert_eq!(identifiers, ["https://mcp.example.com/mcp"]);
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
    said(&again, "already up to date");
    assert_eq!(
        env_value(
            &read_env(&dir.path().join("server/.env")),
            "FACADE_CSRF_KEY"
        ),
        csrf_key,
        "re-deploys keep the façade's key: a new one would void every consent in flight"
    );
    assert_eq!(
        outputs_json(stack)["outputs"]["ResourceUri"],
        "https://mcp.example.com/mcp"
    );
    assert_eq!(
        outputs_json(stack)["outputs"]["Scopes"],
        "https://mcp.example.com/mcp/mcp:read https://mcp.example.com/mcp/mcp:write"
    );

    // Without a terminal to type the stack name on, cleanup refuses at once and deletes nothing.
    let refused = cleanup(dir.path(), stack, false).failed();
    assert!(
        refused.stderr.contains("with about 0 users"),
        "it says what would be deleted: {}",
        refused.stderr
    );
    said(
        &refused,
        "cargo xtask cleanup --yes --stack-name lifecycle --region us-east-1",
    );
    assert_eq!(outputs_json(stack)["status"], "UPDATE_COMPLETE");
    assert!(dir.path().join("server/.env").exists());

    // Confirmed, cleanup turns the pool's deletion protection off, then deletes the stack (and
    // the user pool with it) and the env files.
    let cleaned = cleanup(dir.path(), stack, true).ok();
    said(&cleaned, "Turning the user pool's deletion protection off");
    said(&cleaned, "DELETE_COMPLETE");
    said(&cleaned, "Removed ./server/.env");
    for f in [
        "server/.env",
        ".env.client.static",
        ".env.client.dcr",
        ".env.client.cimd",
    ] {
        assert!(!dir.path().join(f).exists(), "{f} left behind");
    }
    let gone = run(xtask(), &["outputs", "--stack-name", stack]).failed();
    said(&gone, "no stack named lifecycle in region us-east-1");
    let pools = rt.block_on(cognito.describe_user_pool().user_pool_id(&pool_id).send());
    assert!(pools.is_err(), "the user pool outlived its stack");
    let table_after = rt.block_on(dynamodb.describe_table().table_name(&table).send());
    assert!(
        table_after.is_err(),
        "the table (and its registrations) outlived the stack"
    );

    // A second cleanup has nothing to do, and says so.
    let twice = cleanup(dir.path(), stack, true).ok();
    said(&twice, "nothing to delete");
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
    said(&out, "was not written by `cargo xtask deploy`");
    said(&out, "the stack is deployed");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("server/.env")).unwrap(),
        "MINE=1\n"
    );
    // Cleanup deletes the stack but leaves the foreign file, with a warning.
    let cleaned = cleanup(dir.path(), "foreign-env", true).ok();
    assert!(cleaned.stderr.contains("warning:"), "{}", cleaned.stderr);
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
            "--yes",
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
    said(&gone, "no stack named keep-env");
}

#[test]
fn a_stack_deleted_by_mistake_keeps_its_users_until_cleanup_is_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let stack = "mistaken-delete";
    run(
        xtask_in(dir.path()),
        &["deploy", "--stack-name", stack, "--env-dir", "."],
    )
    .ok();
    let pool_id = outputs_json(stack)["outputs"]["UserPoolId"]
        .as_str()
        .unwrap()
        .to_owned();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = sdk_config(&rt);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    rt.block_on(
        cognito
            .admin_create_user()
            .user_pool_id(&pool_id)
            .username("alice@example.com")
            .send(),
    )
    .unwrap();

    // Someone deletes the stack outside cleanup: the protected pool stops the deletion.
    let cf = aws_sdk_cloudformation::Client::new(&config);
    rt.block_on(cf.delete_stack().stack_name(stack).send())
        .unwrap();
    assert_eq!(outputs_json(stack)["status"], "DELETE_FAILED");
    let user = rt.block_on(
        cognito
            .admin_get_user()
            .user_pool_id(&pool_id)
            .username("alice@example.com")
            .send(),
    );
    assert!(user.is_ok(), "the user outlived the mistaken deletion");

    // cleanup says what it would delete, and needs the confirmation.
    let refused = cleanup(dir.path(), stack, false).failed();
    said(&refused, "with about 1 users");
    assert!(
        rt.block_on(cognito.describe_user_pool().user_pool_id(&pool_id).send())
            .is_ok()
    );

    // Confirmed, it turns the protection off on the pool itself (a DELETE_FAILED stack takes no
    // update) and finishes the deletion.
    let cleaned = cleanup(dir.path(), stack, true).ok();
    said(
        &cleaned,
        &format!("Turning deletion protection off on user pool {pool_id}"),
    );
    said(&cleaned, "DELETE_COMPLETE");
    assert!(
        rt.block_on(cognito.describe_user_pool().user_pool_id(&pool_id).send())
            .is_err()
    );
}

#[test]
fn a_domain_prefix_change_is_refused_with_the_two_steps_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let stack = "domain-change";
    let deploy = |extra: &[&str]| {
        run(
            xtask_in(dir.path()),
            &[
                &["deploy", "--stack-name", stack, "--env-dir", "."][..],
                extra,
            ]
            .concat(),
        )
    };
    deploy(&["--domain-prefix", "first-prefix"]).ok();
    let outputs = outputs_json(stack)["outputs"].clone();
    let pool_id = outputs["UserPoolId"].as_str().unwrap().to_owned();
    assert_eq!(
        outputs["DomainBaseUrl"],
        "https://first-prefix.auth.us-east-1.amazoncognito.com"
    );

    // The same prefix again is no change at all.
    deploy(&["--domain-prefix", "first-prefix"]).ok();

    let refused = deploy(&["--domain-prefix", "second-prefix"]).failed();
    said(
        &refused,
        "a prefix cannot change in place: CloudFormation would create the \"second-prefix\" domain first",
    );
    said(
        &refused,
        &format!(
            "1. aws cognito-idp delete-user-pool-domain --domain first-prefix --user-pool-id {pool_id} --region us-east-1"
        ),
    );
    said(
        &refused,
        "2. cargo xtask deploy --domain-prefix second-prefix --stack-name domain-change --region us-east-1",
    );
    assert_eq!(
        outputs_json(stack)["status"],
        "CREATE_COMPLETE",
        "nothing was updated"
    );

    // Step 1, as the message says; then step 2 creates the new domain.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = sdk_config(&rt);
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    rt.block_on(
        cognito
            .delete_user_pool_domain()
            .domain("first-prefix")
            .user_pool_id(&pool_id)
            .send(),
    )
    .unwrap();
    let changed = deploy(&["--domain-prefix", "second-prefix"]).ok();
    said(&changed, "UPDATE_COMPLETE");
    let outputs = outputs_json(stack)["outputs"].clone();
    assert_eq!(
        outputs["DomainBaseUrl"],
        "https://second-prefix.auth.us-east-1.amazoncognito.com"
    );
    assert_eq!(
        outputs["UserPoolId"],
        pool_id.as_str(),
        "same pool, same users"
    );

    // A cleanup that turned the protection off and stopped there: the next deploy puts it back.
    let cf = aws_sdk_cloudformation::Client::new(&config);
    let keys: Vec<String> = rt
        .block_on(cf.describe_stacks().stack_name(stack).send())
        .unwrap()
        .stacks()[0]
        .parameters()
        .iter()
        .filter_map(|p| p.parameter_key().map(str::to_owned))
        .collect();
    let parameters = keys
        .iter()
        .map(|key| {
            let p = aws_sdk_cloudformation::types::Parameter::builder().parameter_key(key);
            match key.as_str() {
                "DeletionProtection" => p.parameter_value("INACTIVE").build(),
                _ => p.use_previous_value(true).build(),
            }
        })
        .collect();
    rt.block_on(
        cf.update_stack()
            .stack_name(stack)
            .use_previous_template(true)
            .set_parameters(Some(parameters))
            .send(),
    )
    .unwrap();
    let protection = || {
        rt.block_on(cognito.describe_user_pool().user_pool_id(&pool_id).send())
            .unwrap()
            .user_pool()
            .unwrap()
            .deletion_protection()
            .cloned()
    };
    assert_eq!(
        protection(),
        Some(aws_sdk_cognitoidentityprovider::types::DeletionProtectionType::Inactive)
    );
    deploy(&[]).ok();
    assert_eq!(
        protection(),
        Some(aws_sdk_cognitoidentityprovider::types::DeletionProtectionType::Active),
        "deploy puts the protection back"
    );
    let server = read_env(&dir.path().join("server/.env"));
    assert_eq!(
        env_value(&server, "COGNITO_DOMAIN_URL"),
        "https://second-prefix.auth.us-east-1.amazoncognito.com"
    );
    cleanup(dir.path(), stack, true).ok();
}
