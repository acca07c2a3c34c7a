//! Local mode end to end, offline: discovery from a 401, sign-in at the development AS through
//! its login form with PKCE, MCP calls, the 403 step-up, refresh rotation, and refusals.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use mcp_auth_server::local::{LocalOptions, LocalServer, STATIC_CLIENT_REDIRECTS};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use support::{auto_approving_server, hidden, http, pkce};

const ACCEPT: &str = "application/json, text/event-stream";

fn query_param(location: &str, name: &str) -> Option<String> {
    support::query(location).remove(name)
}

struct Tokens {
    access: String,
    refresh: String,
}

/// Posts the login form: a wrong password first (the form comes back and the sign-in stays
/// usable), then the right one; returns where the AS sends the browser.
async fn log_in(http: &reqwest::Client, server: &LocalServer, login_id: &str) -> String {
    let post = |password: &str| {
        http.post(format!("{}/login", server.dev_issuer))
            .form(&[
                ("login_id", login_id),
                ("username", server.user.username.as_str()),
                ("password", password),
            ])
            .send()
    };
    assert_eq!(post("nope").await.unwrap().status(), 401);
    let done = post(&server.user.password).await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    done.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Signs in with the static client through the login form; returns the tokens.
async fn sign_in(server: &LocalServer, scope: &str) -> Tokens {
    sign_in_naming(server, scope, server.resource.as_str()).await
}

/// Signs in as [`sign_in`] does, naming the resource as `resource` writes it.
async fn sign_in_naming(server: &LocalServer, scope: &str, resource: &str) -> Tokens {
    let http = http();
    let (verifier, challenge) = pkce();
    let redirect = STATIC_CLIENT_REDIRECTS[0];
    let mut authorize =
        url::Url::parse(&format!("{}/oauth2/authorize", server.dev_issuer)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &server.static_client.id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", scope)
        .append_pair("state", "st-1")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", resource);
    let page = http.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let login_id = hidden(&html, "login_id");
    // The form posts where these requests go (a relative action once pointed elsewhere).
    assert!(
        html.contains(r#"<form method="post" action="/dev-as/login">"#),
        "{html}"
    );
    let location = log_in(&http, server, &login_id).await;
    assert!(location.starts_with(redirect), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-1"));
    let code = query_param(&location, "code").unwrap();
    let secret = server.static_client.secret.as_deref().unwrap();
    let token = http
        .post(format!("{}/oauth2/token", server.dev_issuer))
        .basic_auth(&server.static_client.id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
            ("resource", resource),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    assert_eq!(token.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = token.json().await.unwrap();
    // The code is single-use.
    let replay = http
        .post(format!("{}/oauth2/token", server.dev_issuer))
        .basic_auth(&server.static_client.id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 400);
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// A JSON-RPC response body, whether sent as JSON or as an SSE stream (clients must take both).
/// A 2025-11-25 `initialize` to the server's MCP endpoint with `token`, ready to send.
fn initialize(server: &LocalServer, token: &str) -> reqwest::RequestBuilder {
    http()
        .post(server.resource.as_str())
        .header(header::ACCEPT, ACCEPT)
        .header("MCP-Protocol-Version", "2025-11-25")
        .bearer_auth(token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
}

async fn rpc_body(response: reqwest::Response) -> Value {
    let is_sse = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.to_str()
                .unwrap_or_default()
                .starts_with("text/event-stream")
        });
    let text = response.text().await.unwrap();
    if !is_sse {
        return serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("id").is_some() && (m.get("result").is_some() || m.get("error").is_some()))
        .unwrap_or_else(|| panic!("no JSON-RPC response in the stream: {text}"))
}

struct Mcp<'a> {
    server: &'a LocalServer,
    token: String,
    session: Option<String>,
    next_id: u64,
}

impl Mcp<'_> {
    async fn post(&mut self, body: Value) -> reqwest::Response {
        let mut request = http()
            .post(self.server.resource.as_str())
            .header(header::ACCEPT, ACCEPT)
            .header("MCP-Protocol-Version", "2025-11-25")
            .bearer_auth(&self.token)
            .json(&body);
        if let Some(session) = &self.session {
            request = request.header("Mcp-Session-Id", session);
        }
        request.send().await.unwrap()
    }

    async fn call(&mut self, method: &str, params: Value) -> reqwest::Response {
        self.next_id += 1;
        self.post(json!({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}))
            .await
    }

    async fn initialize(&mut self) {
        let response = self
            .call(
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}),
            )
            .await;
        assert_eq!(response.status(), 200);
        self.session = response
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = rpc_body(response).await;
        assert_eq!(
            body["result"]["serverInfo"]["name"],
            "mcp-auth-kit demo server"
        );
        let ack = self
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(ack.status(), 202);
    }
}

#[tokio::test]
async fn discovery_sign_in_tools_and_step_up() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let http = http();

    // 401 with where to look and what to ask for.
    let unauthenticated = http
        .post(server.resource.as_str())
        .header(header::ACCEPT, ACCEPT)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let challenge = unauthenticated.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        challenge,
        format!(
            r#"Bearer resource_metadata="{}", scope="mcp:read""#,
            server.resource_metadata
        )
    );
    let prm: Value = http
        .get(server.resource_metadata.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], server.resource.as_str());
    assert_eq!(
        prm["authorization_servers"][0], server.issuer,
        "the façade is the AS clients see"
    );
    assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
    let root_prm: Value = http
        .get(format!(
            "http://{}/.well-known/oauth-protected-resource",
            server.addr
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root_prm, prm);
    // The development AS looks like Cognito: no PKCE methods, no registration.
    let oidc: Value = http
        .get(format!(
            "{}/.well-known/openid-configuration",
            server.dev_issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc["issuer"], server.dev_issuer);
    assert!(oidc.get("code_challenge_methods_supported").is_none());
    assert!(oidc.get("registration_endpoint").is_none());

    // Read-only sign-in, then MCP.
    let read_scope = format!("openid {}/mcp:read", server.resource);
    let tokens = sign_in(&server, &read_scope).await;
    let mut mcp = Mcp {
        server: &server,
        token: tokens.access.clone(),
        session: None,
        next_id: 0,
    };
    mcp.initialize().await;
    let tools = rpc_body(mcp.call("tools/list", json!({})).await).await;
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["notes_add", "notes_list", "whoami"]);
    let whoami = rpc_body(
        mcp.call("tools/call", json!({"name": "whoami", "arguments": {}}))
            .await,
    )
    .await;
    let who: Value =
        serde_json::from_str(whoami["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(who["subject"], "dev-user-0001");
    assert_eq!(who["client_id"], server.static_client.id.as_str());

    // The write tool: 403 naming the scope, until the client asks for it.
    let denied = mcp
        .call(
            "tools/call",
            json!({"name": "notes_add", "arguments": {"text": "hi"}}),
        )
        .await;
    assert_eq!(denied.status(), 403);
    let challenge = denied.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    // What the token holds and what the call needs (MCP 2025-11-25, the recommended approach).
    assert!(
        challenge.contains(r#"scope="mcp:read mcp:write""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="{}""#,
            server.resource_metadata
        )),
        "{challenge}"
    );
    let wider = sign_in(
        &server,
        &format!("{read_scope} {}/mcp:write", server.resource),
    )
    .await;
    let mut mcp = Mcp {
        server: &server,
        token: wider.access,
        session: None,
        next_id: 0,
    };
    mcp.initialize().await;
    let added = mcp
        .call(
            "tools/call",
            json!({"name": "notes_add", "arguments": {"text": "hi"}}),
        )
        .await;
    assert_eq!(added.status(), 200);
    let listed = rpc_body(
        mcp.call("tools/call", json!({"name": "notes_list", "arguments": {}}))
            .await,
    )
    .await;
    assert!(
        listed["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("hi (dev-user-0001)")
    );

    // Refresh rotates: the new token works, the old refresh token is spent.
    let secret = server.static_client.secret.clone().unwrap();
    let refresh = |token: String| {
        let http = http.clone();
        let url = format!("{}/oauth2/token", server.dev_issuer);
        let id = server.static_client.id.clone();
        let secret = secret.clone();
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let rotated = refresh(tokens.refresh.clone()).await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    assert_ne!(rotated["refresh_token"], tokens.refresh.as_str());
    assert_eq!(
        refresh(tokens.refresh.clone()).await.status(),
        400,
        "a spent refresh token"
    );

    server.shutdown().await.unwrap();
}

/// The resource server is named in another spelling (`HTTP://`, as the MCP spec lets clients
/// write it): the development AS binds the token to the identifier itself, so the exact `aud`
/// comparison at the MCP endpoint accepts it.
#[tokio::test]
async fn a_resource_named_in_upper_case_binds_the_canonical_audience() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let shouted = server.resource.as_str().replacen("http://", "HTTP://", 1);
    let scope = format!("openid {}/mcp:read", server.resource);
    let tokens = sign_in_naming(&server, &scope, &shouted).await;
    let response = initialize(&server, &tokens.access).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.headers());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn refusals_at_the_mcp_endpoint() {
    let server = auto_approving_server().await;
    let http = http();
    let post = |auth: Option<&str>, url: String| {
        let mut r = http
            .post(url)
            .header(header::ACCEPT, ACCEPT)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.send()
    };
    let garbage = post(Some("Bearer not.a.jwt"), server.resource.to_string())
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    let challenge = garbage.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let basic = post(Some("Basic dXNlcjpwYXNz"), server.resource.to_string())
        .await
        .unwrap();
    assert_eq!(basic.status(), 400);
    let huge = http
        .get(format!("http://{}/healthz", server.addr))
        .header("x-padding", "p".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 431, "headers over 32 KiB");
    let in_query = post(None, format!("{}?access_token=abc", server.resource))
        .await
        .unwrap();
    assert_eq!(in_query.status(), 400);
    assert!(
        in_query.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_foreign_browser_origin_is_refused_even_with_a_valid_token() {
    let server = auto_approving_server().await;
    let token = server
        .static_client_token(&format!("openid {}/mcp:read", server.resource))
        .await
        .unwrap();
    let send = |origin: Option<String>| {
        let mut r = initialize(&server, &token);
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        r.send()
    };
    assert_eq!(
        send(Some("http://evil.example".into()))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        send(Some(format!("http://{}", server.addr)))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(None).await.unwrap().status(),
        200,
        "non-browser clients send no Origin"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_development_as_enforces_pkce_s256_and_exact_redirects() {
    let server = auto_approving_server().await;
    let http = http();
    let authorize = |extra: &[(&str, &str)], redirect: &str| {
        let mut url = url::Url::parse(&format!("{}/oauth2/authorize", server.dev_issuer)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &server.static_client.id)
            .append_pair("redirect_uri", redirect)
            .append_pair("state", "s")
            .extend_pairs(extra);
        http.get(url).send()
    };
    let redirect = STATIC_CLIENT_REDIRECTS[0];
    let (verifier, challenge) = pkce();
    let no_pkce = authorize(&[], redirect).await.unwrap();
    let location = no_pkce.headers()[header::LOCATION].to_str().unwrap();
    assert_eq!(
        query_param(location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(location, "state").as_deref(), Some("s"));
    let plain = authorize(
        &[
            ("code_challenge", &verifier),
            ("code_challenge_method", "plain"),
        ],
        redirect,
    )
    .await
    .unwrap();
    assert_eq!(
        query_param(plain.headers()[header::LOCATION].to_str().unwrap(), "error").as_deref(),
        Some("invalid_request")
    );
    // A redirect URI that is not registered exactly (another port) gets an error page, no redirect.
    let other_port = authorize(
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        "http://localhost:3999/callback",
    )
    .await
    .unwrap();
    assert_eq!(other_port.status(), 400);
    assert!(other_port.headers().get(header::LOCATION).is_none());
    // A wrong verifier at the token endpoint.
    let ok = authorize(
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
        redirect,
    )
    .await
    .unwrap();
    let code = query_param(ok.headers()[header::LOCATION].to_str().unwrap(), "code").unwrap();
    let redeem = |secret: Option<&str>, verifier: &str| {
        http.post(format!("{}/oauth2/token", server.dev_issuer))
            .basic_auth(&server.static_client.id, secret)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let secret = server.static_client.secret.as_deref();
    let wrong = redeem(secret, &format!("w{}", "y".repeat(50)))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // And a wrong client secret.
    let bad_client = redeem(Some("wrong"), &verifier).await.unwrap();
    assert_eq!(bad_client.status(), 401);
    server.shutdown().await.unwrap();
}

/// The token the conformance demo uses for its expiry check: signed by this server's development
/// AS, right in every claim but its expiry, and refused for that alone.
#[tokio::test]
async fn the_expired_token_differs_from_a_good_one_only_in_expiry() {
    let server = auto_approving_server().await;
    let good = server
        .static_client_token(&format!("openid {}/mcp:read", server.resource))
        .await
        .unwrap();
    let expired = server.expired_token().unwrap();
    assert_eq!(
        initialize(&server, &good).send().await.unwrap().status(),
        200
    );
    let refused = initialize(&server, &expired).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains("expired"),
        "{challenge}"
    );
    server.shutdown().await.unwrap();
}

/// The façade's token endpoint and the development AS's read client credentials with one piece
/// of code (`oauth::Presented`): the same ambiguous request gets the same answer from both,
/// with only the Basic realm telling them apart. (The development AS once took a body
/// `client_id` that contradicted the Basic one.)
#[tokio::test]
async fn both_token_endpoints_read_client_credentials_alike() {
    let server = auto_approving_server().await;
    let endpoints = [
        (format!("{}/token", server.issuer), "token"),
        (format!("{}/oauth2/token", server.dev_issuer), "dev-as"),
    ];
    for (url, realm) in &endpoints {
        let post = |basic: Option<(&str, &str)>, form: &[(&str, &str)]| {
            let mut request = http().post(url).form(form);
            if let Some((id, secret)) = basic {
                request = request.basic_auth(id, Some(secret));
            }
            request.send()
        };
        let code = |body: &Value| body["error"].as_str().unwrap_or_default().to_owned();
        let contradicted = post(
            Some((&server.static_client.id, "s")),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", "someone-else"),
            ],
        )
        .await
        .unwrap();
        assert_eq!(contradicted.status(), StatusCode::BAD_REQUEST, "{url}");
        let body: Value = contradicted.json().await.unwrap();
        assert_eq!(code(&body), "invalid_request", "{url}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("differs"),
            "{url}: {body}"
        );
        let twice = post(
            Some(("c", "s")),
            &[("grant_type", "authorization_code"), ("client_secret", "s")],
        )
        .await
        .unwrap();
        assert_eq!(twice.status(), StatusCode::BAD_REQUEST, "{url}");
        assert_eq!(
            code(&twice.json().await.unwrap()),
            "invalid_request",
            "{url}"
        );
        let unknown = post(
            Some(("nobody", "s")),
            &[("grant_type", "authorization_code")],
        )
        .await
        .unwrap();
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(
            unknown.headers()[header::WWW_AUTHENTICATE],
            format!("Basic realm=\"{realm}\"").as_str(),
            "{url}"
        );
        assert_eq!(
            unknown.headers()[header::CACHE_CONTROL],
            "no-store",
            "{url}"
        );
        assert_eq!(
            code(&unknown.json().await.unwrap()),
            "invalid_client",
            "{url}"
        );
        let public = post(None, &[("client_id", "nobody"), ("grant_type", "password")])
            .await
            .unwrap();
        assert_eq!(public.status(), StatusCode::UNAUTHORIZED, "{url}");
        assert!(
            !public.headers().contains_key(header::WWW_AUTHENTICATE),
            "{url}"
        );
    }
    server.shutdown().await.unwrap();
}
