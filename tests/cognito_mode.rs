//! The server in Cognito mode, against a stack deployed to the AWS emulator: configuration from
//! the env file `deploy` wrote, the façade's state in the stack's DynamoDB table, tokens checked
//! against the pool's JWKS. (The emulator has no managed login, so the browser part of the flow
//! stops at the redirect to Cognito.)

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use mcp_auth_server::cognito::{self, CognitoOptions, Deployment};
use reqwest::header;
use serde_json::{Value, json};
use support::{free_port, run, xtask};

#[tokio::test]
async fn cognito_mode_serves_the_facade_over_the_deployed_stack() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let resource = format!("http://localhost:{port}/mcp");
    let deploy = run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "upstream-mode",
            "--env-dir",
            dir.path().to_str().unwrap(),
            "--resource-uri",
            &resource,
            "--callback-url",
            &format!("http://localhost:{port}/oauth/callback"),
        ],
    );
    let deploy = deploy.ok();
    assert!(deploy.stdout.contains("CREATE_COMPLETE"));
    let deployment = Deployment::from_env_file(&dir.path().join("server/.env")).unwrap();
    assert_eq!(deployment.base_url(), format!("http://localhost:{port}"));
    let server = cognito::start(
        deployment.clone(),
        CognitoOptions {
            listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
            aws: Some(support::sdk_config().await),
            trusted_proxies: Default::default(),
            ..Default::default()
        },
    )
    .await
    .expect("starts against the emulator's JWKS");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = deployment.base_url();

    // Discovery names the façade.
    let prm: Value = http
        .get(server.resource_metadata.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], resource);
    assert_eq!(prm["authorization_servers"], json!([base]));
    let metadata: Value = http
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], base);

    // A registration lands in the stack's table, its secret only as a hash.
    let registered: Value = http
        .post(format!("{base}/register"))
        .json(&json!({"redirect_uris": ["http://127.0.0.1/callback"], "client_name": "cognito-mode test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{registered}"))
        .to_owned();
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let config = support::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let scan = dynamodb
        .scan()
        .table_name(&deployment.table)
        .send()
        .await
        .unwrap();
    let row = scan
        .items()
        .iter()
        .find(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&format!("client#{client_id}")))
        .expect("the registration row");
    let doc = row["doc"].as_s().unwrap();
    assert!(!doc.contains(&secret), "the secret is stored hashed");
    assert!(
        row.contains_key("expires_at"),
        "registrations expire (TTL attribute)"
    );

    // Consent, then the browser goes to Cognito with the façade's own client, PKCE and resource.
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let page = http
        .get(format!(
            "{base}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A4444%2Fcallback&code_challenge={challenge}&code_challenge_method=S256&state=s"
        ))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let hidden = |name: &str| {
        html.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let approved = http
        .post(format!("{base}/consent"))
        .header(header::COOKIE, cookie)
        .form(&[
            ("consent_id", hidden("consent_id")),
            ("csrf", hidden("csrf")),
            ("decision", "approve".into()),
        ])
        .send()
        .await
        .unwrap();
    let upstream = url::Url::parse(approved.headers()[header::LOCATION].to_str().unwrap()).unwrap();
    assert_eq!(
        upstream.as_str().split('?').next().unwrap(),
        format!("{}/oauth2/authorize", deployment.domain_url)
    );
    let q: std::collections::HashMap<_, _> = upstream.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], deployment.client_id);
    assert_eq!(q["resource"], resource);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], format!("openid {resource}/mcp:read"));
    let pending = dynamodb
        .scan()
        .table_name(&deployment.table)
        .send()
        .await
        .unwrap();
    assert!(
        pending
            .items()
            .iter()
            .any(|i| i["pk"].as_s().unwrap() == &format!("pending#{}", q["state"])),
        "the pending authorization is in DynamoDB, for any replica's callback"
    );

    // A real Cognito token (from the emulator) that was not issued for this resource: its
    // signature and issuer check out against the pool's JWKS, its audience does not.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
    let pool = &deployment.issuer.rsplit('/').next().unwrap().to_owned();
    let example = std::fs::read_to_string(dir.path().join(".env.client.static")).unwrap();
    let example_id = example
        .lines()
        .find_map(|l| l.strip_prefix("OAUTH_CLIENT_ID="))
        .unwrap();
    cognito
        .admin_create_user()
        .user_pool_id(pool)
        .username("alice@example.com")
        .send()
        .await
        .unwrap();
    cognito
        .admin_set_user_password()
        .user_pool_id(pool)
        .username("alice@example.com")
        .password("Correct-Horse-9!")
        .permanent(true)
        .send()
        .await
        .unwrap();
    let auth = cognito
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(example_id)
        .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "alice@example.com")
        .auth_parameters("PASSWORD", "Correct-Horse-9!")
        .send()
        .await
        .unwrap();
    let token = auth
        .authentication_result()
        .unwrap()
        .access_token()
        .unwrap()
        .to_owned();
    let refused = http
        .post(resource.as_str())
        .header(header::ACCEPT, "application/json, text/event-stream")
        .bearer_auth(&token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("the token was not issued for this resource"),
        "{challenge}"
    );

    server.shutdown().await.unwrap();
    run(
        xtask(),
        &[
            "cleanup",
            "--yes",
            "--stack-name",
            "upstream-mode",
            "--env-dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .ok();
}
