//! The façade with its state in DynamoDB (the emulator), as users run it past one machine:
//! two replicas behind a round-robin proxy complete one sign-in between them, and a table that
//! stops or pauses mid-flow gives clear 503s and loses nothing.
//!
//! The upstream is the development AS (the emulator has no Cognito sign-in pages), served on
//! its own port, approving without a form as an upstream single sign-on session would.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    response::Response,
};
use mcp_auth_server::{dev_as::DevClient, facade::dynamodb::DynamoStore, runtime::Running};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use support::Emulator;
use tokio::net::TcpListener;

const REDIRECT: &str = "http://127.0.0.1:7777/callback";
const KEY: &[u8] = b"a key the replicas share, 32+ bytes long";

/// A replica of the server, public at `public`, its state in `table` at `endpoint`.
async fn replica(
    listener: TcpListener,
    public: &str,
    upstream: &(String, DevClient),
    endpoint: &str,
    table: &str,
) -> Running {
    let dynamodb = aws_sdk_dynamodb::Client::new(&support::sdk_config_at(endpoint).await);
    let store = Arc::new(DynamoStore::new(dynamodb, table));
    Running::start(support::facade_assembly(
        listener, public, upstream, store, KEY,
    ))
    .await
    .unwrap()
}

/// Forwards each request to the next backend in turn, and notes which one served what.
struct RoundRobin {
    backends: Vec<String>,
    next: AtomicUsize,
    served: Mutex<Vec<(usize, String)>>,
    http: reqwest::Client,
}

async fn forward(State(proxy): State<Arc<RoundRobin>>, request: Request) -> Response {
    let i = proxy.next.fetch_add(1, Ordering::SeqCst) % proxy.backends.len();
    let (parts, body) = request.into_parts();
    proxy
        .served
        .lock()
        .unwrap()
        .push((i, parts.uri.path().to_owned()));
    let target = format!(
        "{}{}",
        proxy.backends[i],
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut headers = parts.headers.clone();
    headers.remove(header::HOST);
    let upstream = proxy
        .http
        .request(parts.method, target)
        .headers(headers)
        .body(to_bytes(body, 2 << 20).await.unwrap())
        .send()
        .await
        .unwrap();
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        response = response.header(name, value);
    }
    response
        .body(Body::from(upstream.bytes().await.unwrap()))
        .unwrap()
}

/// A browser: cookies kept, redirects shown rather than followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    use base64::Engine;
    let verifier = "v".repeat(64);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes());
    (
        verifier,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
    )
}

async fn register(browser: &reqwest::Client, public: &str) -> reqwest::Response {
    browser
        .post(format!("{public}/register"))
        .json(&json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": "Replica test"}))
        .send()
        .await
        .unwrap()
}

fn authorization_url(public: &str, client_id: &str, challenge: &str) -> String {
    let mut url = url::Url::parse(&format!("{public}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "mcp:read")
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

async fn token(
    browser: &reqwest::Client,
    public: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .post(format!("{public}/token"))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn consent_form(page: reqwest::Response) -> Vec<(&'static str, String)> {
    let html = page.text().await.unwrap();
    assert!(html.contains("Allow <em>"), "{html}");
    vec![
        ("consent_id", hidden(&html, "consent_id")),
        ("csrf", hidden(&html, "csrf")),
        ("decision", "approve".into()),
    ]
}

#[tokio::test]
async fn two_replicas_complete_one_sign_in_between_them() {
    let emulator = support::emulator();
    let dynamodb = aws_sdk_dynamodb::Client::new(&support::sdk_config().await);
    let table = support::state_table(&dynamodb, "replicas").await;
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", front.local_addr().unwrap());
    let up = support::dev_as_upstream(&public).await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        replicas.push(replica(listener, &public, &up, &emulator.endpoint, &table).await);
    }
    let proxy = Arc::new(RoundRobin {
        backends: replicas
            .iter()
            .map(|r| format!("http://{}", r.addr))
            .collect(),
        next: AtomicUsize::new(0),
        served: Mutex::new(Vec::new()),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    });
    let app = Router::new().fallback(forward).with_state(proxy.clone());
    tokio::spawn(axum::serve(front, app).into_future());

    let browser = browser();
    let registered: Value = register(&browser, &public).await.json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let page = browser
        .get(authorization_url(&public, client_id, &challenge))
        .send()
        .await
        .unwrap();
    let approved = browser
        .post(format!("{public}/consent"))
        .form(&consent_form(page).await)
        .send()
        .await
        .unwrap();
    let upstream_url = location(&approved);
    let signed_in = browser.get(&upstream_url).send().await.unwrap();
    let back = browser.get(location(&signed_in)).send().await.unwrap();
    let code = param(&location(&back), "code").expect("a code for the client");
    let issued = token(
        &browser,
        &public,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(issued.status(), 200);
    let issued: Value = issued.json().await.unwrap();
    let refreshed = token(
        &browser,
        &public,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", issued["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let access = refreshed.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Each step of the flow landed on the other replica than the step before.
    let served = proxy.served.lock().unwrap().clone();
    let paths: Vec<&str> = served.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/register",
            "/authorize",
            "/consent",
            "/oauth/callback",
            "/token",
            "/token"
        ]
    );
    for pair in served.windows(2) {
        assert_ne!(pair[0].0, pair[1].0, "alternating replicas: {served:?}");
    }
    // The code was redeemed through one replica; the other refuses it too.
    let redeemed_on = served[4].0;
    let other = &replicas[1 - redeemed_on];
    let replay = token(
        &browser,
        &format!("http://{}", other.addr),
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(replay.status(), 400);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    // And the token works at either replica.
    for r in &replicas {
        let call = reqwest::Client::new()
            .post(format!("http://{}/mcp", r.addr))
            .bearer_auth(&access)
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "tools/list")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}, "io.modelcontextprotocol/clientCapabilities": {}}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(call.status(), 200, "{}", call.text().await.unwrap());
    }
    for r in replicas {
        r.shutdown().await.unwrap();
    }
}

/// A 503 that says to come back, and says nothing of the backend's own error.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(
        response.headers().contains_key(header::RETRY_AFTER),
        "{what}: Retry-After"
    );
    let body = response.text().await.unwrap();
    for internal in [
        "dispatch",
        "DynamoDB",
        "timeout",
        "connection",
        "service error",
    ] {
        assert!(
            !body.to_lowercase().contains(&internal.to_lowercase()),
            "{what} leaks {internal:?}: {body}"
        );
    }
}

/// Bound on how long an answer may take while the table is paused: the store's own timeouts
/// must answer well before the server's 30 s request limit.
const ANSWER_BOUND: Duration = Duration::from_secs(20);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(ANSWER_BOUND, f)
        .await
        .expect("answered within the bound")
}

#[tokio::test]
async fn a_paused_or_stopped_table_gives_503s_and_loses_nothing() {
    let emulator = Emulator::start();
    let dynamodb = aws_sdk_dynamodb::Client::new(&support::sdk_config_at(&emulator.endpoint).await);
    let table = support::state_table(&dynamodb, "outage").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let up = support::dev_as_upstream(&public).await;
    let server = replica(listener, &public, &up, &emulator.endpoint, &table).await;
    let browser = browser();

    let registered: Value = register(&browser, &public).await.json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let (verifier, challenge) = pkce();
    let authorize = authorization_url(&public, &client_id, &challenge);
    let ready = browser
        .get(format!("{public}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["store"], "ok");

    // Paused at the authorization request: 503, then the same request works.
    emulator.pause();
    assert_unavailable(
        bounded(browser.get(&authorize).send()).await.unwrap(),
        "/authorize",
    )
    .await;
    assert_unavailable(bounded(register(&browser, &public)).await, "/register").await;
    emulator.resume();
    let page = browser.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let approved = browser
        .post(format!("{public}/consent"))
        .form(&consent_form(page).await)
        .send()
        .await
        .unwrap();
    let signed_in = browser.get(location(&approved)).send().await.unwrap();
    let callback = location(&signed_in);

    // Paused when the user comes back: 503; the callback reloaded later completes the flow.
    emulator.pause();
    assert_unavailable(
        bounded(browser.get(&callback).send()).await.unwrap(),
        "/oauth/callback",
    )
    .await;
    emulator.resume();
    let back = browser.get(&callback).send().await.unwrap();
    let code = param(&location(&back), "code").expect("the flow survived the outage");

    // Paused at redemption: 503 temporarily_unavailable (not invalid_client); then it redeems.
    let redemption = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id.as_str()),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
    ];
    let redeem = || token(&browser, &public, &redemption);
    emulator.pause();
    let refused = bounded(redeem()).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Tokens already issued do not depend on the table: the MCP endpoint keeps working.
    let health = bounded(browser.get(format!("{public}/healthz")).send())
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Readiness says what is wrong (once its last answer is older than it may be reused).
    tokio::time::sleep(mcp_auth_server::facade::readiness::REUSE).await;
    let ready = bounded(browser.get(format!("{public}/readyz")).send())
        .await
        .unwrap();
    assert_unavailable(ready, "/readyz").await;
    emulator.resume();
    let issued = redeem().await;
    assert_eq!(issued.status(), 200, "the code survived the outage");
    let issued: Value = issued.json().await.unwrap();
    let refresh_token = issued["refresh_token"].as_str().unwrap();
    let refreshing = [
        ("grant_type", "refresh_token"),
        ("client_id", client_id.as_str()),
        ("refresh_token", refresh_token),
    ];
    let refresh = || token(&browser, &public, &refreshing);
    emulator.pause();
    assert_eq!(
        bounded(refresh()).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    emulator.resume();
    assert_eq!(
        refresh().await.status(),
        200,
        "the refresh token survived the outage"
    );

    // Stopped for good: every endpoint that needs the table says so, quickly.
    emulator.kill();
    assert_unavailable(
        bounded(browser.get(&authorize).send()).await.unwrap(),
        "/authorize with the table gone",
    )
    .await;
    let gone = bounded(redeem()).await;
    assert_eq!(gone.status(), StatusCode::SERVICE_UNAVAILABLE);
    server.shutdown().await.unwrap();
}

/// A registration too large for a DynamoDB item (400 KB) was answered 503, as if the store
/// were down; it is the client's metadata that is wrong, and nothing is written.
#[tokio::test]
async fn an_oversized_registration_is_refused_as_bad_metadata_not_as_an_outage() {
    let emulator = support::emulator();
    let dynamodb = aws_sdk_dynamodb::Client::new(&support::sdk_config().await);
    let table = support::state_table(&dynamodb, "oversized").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let up = support::dev_as_upstream(&public).await;
    let server = replica(listener, &public, &up, &emulator.endpoint, &table).await;
    let long_uri = format!("https://app.example/{}", "a".repeat(500_000));
    for body in [
        json!({"redirect_uris": [long_uri], "token_endpoint_auth_method": "none"}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
               "software_statement": "x".repeat(500_000)}),
        json!({"redirect_uris": vec![REDIRECT; 11], "token_endpoint_auth_method": "none"}),
    ] {
        let r = browser()
            .post(format!("{public}/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let said: Value = r.json().await.unwrap();
        let error = said["error"].as_str().unwrap();
        assert!(
            ["invalid_client_metadata", "invalid_redirect_uri"].contains(&error),
            "{said}"
        );
        assert!(
            said.to_string().len() < 400,
            "the answer echoes the peer: {said}"
        );
    }
    let items = dynamodb.scan().table_name(&table).send().await.unwrap();
    assert_eq!(items.count(), 0, "nothing was written");
    server.shutdown().await.unwrap();
}
