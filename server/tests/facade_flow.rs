//! The façade end to end, offline: a client discovers it from a 401, registers by DCR (or is a
//! metadata document), consents, signs in at the development AS through the façade, gets a
//! token, calls tools, steps up, refreshes; consent cannot be skipped or forged.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

use axum::{Json, Router, routing::get};
mod support;

use mcp_auth_server::local::{LocalOptions, LocalServer};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use support::{
    facade::{Browser, authorize, discover, location, register_public_client},
    hidden, http, pkce, query,
};

#[tokio::test]
async fn dcr_client_signs_in_through_the_facade_and_steps_up() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let http = http();

    // Register by DCR with a loopback redirect; sign in on another port (RFC 8252 section 7.3).
    let registration = http
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .json(&json!({"redirect_uris": ["http://127.0.0.1/callback"], "token_endpoint_auth_method": "none", "client_name": "Test <Client>", "grant_types": ["authorization_code", "refresh_token"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), StatusCode::CREATED);
    let registered: Value = registration.json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    assert!(
        registered.get("client_secret").is_none(),
        "a public client gets no secret"
    );
    let invalid = http
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .json(&json!({"redirect_uris": ["http://evil.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 400);
    assert_eq!(
        invalid.json::<Value>().await.unwrap()["error"],
        "invalid_redirect_uri"
    );

    let redirect = "http://127.0.0.1:49152/callback";
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let answer = authorize(
        &server,
        &mut browser,
        &metadata,
        &client_id,
        redirect,
        "mcp:read",
        &challenge,
    )
    .await;
    assert_eq!(answer["state"], "client-state");
    assert_eq!(answer["iss"], server.issuer, "RFC 9207 iss on success");
    let token = |code: String, verifier: String| {
        let http = http.clone();
        let url = metadata["token_endpoint"].as_str().unwrap().to_owned();
        let client_id = client_id.clone();
        let resource = server.resource.to_string();
        async move {
            http.post(url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client_id),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", &verifier),
                    ("resource", &resource),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // A wrong verifier is refused without spending the code (else whoever saw the code could
    // lock the client out); the right one then redeems it, once.
    let wrong = token(answer["code"].clone(), format!("w{}", "z".repeat(60))).await;
    assert_eq!(wrong.status(), 400);
    let first = token(answer["code"].clone(), verifier.clone()).await;
    assert_eq!(first.status(), 200, "the code survived the wrong verifier");
    let first: Value = first.json().await.unwrap();
    let replay = token(answer["code"].clone(), verifier.clone()).await;
    assert_eq!(replay.status(), 400, "codes are single-use");
    // RFC 6749 section 4.1.2: the replay revokes what the code issued.
    let revoked = http
        .post(metadata["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id.as_str()),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoked.status(),
        400,
        "the replay revoked the refresh token"
    );

    // Again (asked again: a loopback client's consent is never remembered), with the right
    // verifier.
    let answer = authorize(
        &server,
        &mut browser,
        &metadata,
        &client_id,
        redirect,
        "mcp:read",
        &challenge,
    )
    .await;
    let issued = token(answer["code"].clone(), verifier.clone()).await;
    assert_eq!(issued.status(), 200);
    assert_eq!(issued.headers()[header::CACHE_CONTROL], "no-store");
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["scope"], "mcp:read");
    let access = issued["access_token"].as_str().unwrap().to_owned();

    let call = |token: String, tool: &'static str| {
        let http = http.clone();
        let url = server.resource.to_string();
        // The stateless 2026-07-28 transport: no initialize; the version, method and tool name
        // travel in headers and in _meta.
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": tool, "arguments": {"text": "from dcr"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "facade-test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        }}});
        async move {
            http.post(url)
                .header(header::ACCEPT, "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", tool)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let whoami = call(access.clone(), "whoami").await;
    assert_eq!(whoami.status(), 200);
    // whoami takes no arguments: a call with one is rmcp's to answer, not the direct path's.
    assert_eq!(server.mcp_answered_directly(), 0);
    let whoami = whoami.text().await.unwrap();
    // The token is the upstream's: it names the façade's upstream client, not the MCP client.
    assert!(
        whoami.contains("dev-user-0001") && whoami.contains(r#"client_id\":\"facade-"#),
        "{whoami}"
    );
    let denied = call(access.clone(), "notes_add").await;
    assert_eq!(denied.status(), 403);
    assert!(
        denied.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"scope="mcp:read mcp:write""#)
    );

    // Step up: the wider scope needs consent again.
    let (verifier2, challenge2) = pkce();
    let answer = authorize(
        &server,
        &mut browser,
        &metadata,
        &client_id,
        redirect,
        "mcp:read mcp:write",
        &challenge2,
    )
    .await;
    let wider: Value = token(answer["code"].clone(), verifier2)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wider["scope"], "mcp:read mcp:write");
    let added = call(
        wider["access_token"].as_str().unwrap().to_owned(),
        "notes_add",
    )
    .await;
    assert_eq!(added.status(), 200);
    assert!(added.text().await.unwrap().contains("added note"));
    // Through the guard, a plain stateless call takes the direct path: it answers from the
    // guard's one reading of the body. The refused call never reached the endpoint.
    assert_eq!(server.mcp_answered_directly(), 1);

    // Refresh through the façade: rotated, bound to the client.
    let refresh = wider["refresh_token"].as_str().unwrap().to_owned();
    let redeem = || {
        http.post(metadata["token_endpoint"].as_str().unwrap())
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("refresh_token", &refresh),
            ])
            .send()
    };
    let refreshed = redeem().await.unwrap();
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], refresh.as_str());
    // Within the retry window the spent token gets the same answer again, nothing new
    // (docs/security.md); facade_attacks shows an older token revoking the family.
    let again = redeem().await.unwrap();
    assert_eq!(again.status(), 200, "a retry of the spent refresh token");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["refresh_token"], refreshed["refresh_token"]);
    assert_eq!(again["access_token"], refreshed["access_token"]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn consent_cannot_be_skipped_or_forged() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let client_id = &register_public_client(&metadata, "http://127.0.0.1/callback").await;
    let (_, challenge) = pkce();
    let mut url = url::Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", "http://127.0.0.1:5000/callback")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut browser = Browser::new();
    let page = browser.get(url.as_str()).await;
    assert_eq!(
        page.status(),
        200,
        "a new client gets the consent page, not a redirect upstream"
    );
    assert_eq!(page.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("localhost"), "the loopback warning is shown");
    let consent_id = hidden(&html, "consent_id");
    let consent_url = format!("{}/consent", server.issuer);
    // No CSRF token.
    let forged = browser
        .post_form(
            &consent_url,
            &[("consent_id", &consent_id), ("decision", "approve")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    // The right token, but from another browser (no cookie).
    let mut other = Browser::new();
    let csrf = hidden(&html, "csrf");
    let elsewhere = other
        .post_form(
            &consent_url,
            &[
                ("consent_id", &consent_id),
                ("csrf", &csrf),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(elsewhere.status(), 403);
    // Denied: the client hears access_denied, with state-less iss.
    let denied = browser
        .post_form(
            &consent_url,
            &[
                ("consent_id", &consent_id),
                ("csrf", &csrf),
                ("decision", "deny"),
            ],
        )
        .await;
    let p = query(&location(&denied));
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["iss"], server.issuer, "RFC 9207 iss on errors too");
    // The consent request is spent.
    let replay = browser
        .post_form(
            &consent_url,
            &[
                ("consent_id", &consent_id),
                ("csrf", &csrf),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(replay.status(), 400);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn authorize_refuses_bad_requests_without_open_redirects() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let client_id = &register_public_client(&metadata, "https://app.example.com/callback").await;
    let (_, challenge) = pkce();
    let url_of = |pairs: Vec<(&'static str, String)>| {
        let mut url =
            url::Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
        url.query_pairs_mut().extend_pairs(pairs);
        url.to_string()
    };
    let authorize = |pairs: Vec<(&'static str, String)>| http().get(url_of(pairs)).send();
    let base = || {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", client_id.to_owned()),
            (
                "redirect_uri",
                "https://app.example.com/callback".to_owned(),
            ),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("state", "s".to_owned()),
        ]
    };
    // The base request with one parameter's value changed.
    let replaced = |name: &str, value: &str| -> Vec<(&'static str, String)> {
        base()
            .into_iter()
            .map(|(k, v)| {
                if k == name {
                    (k, value.to_owned())
                } else {
                    (k, v)
                }
            })
            .collect()
    };
    // Unknown client, unregistered redirect: an error page, never a redirect.
    for pairs in [
        vec![
            ("client_id", "nope".to_owned()),
            (
                "redirect_uri",
                "https://app.example.com/callback".to_owned(),
            ),
        ],
        vec![
            ("client_id", client_id.to_owned()),
            ("redirect_uri", "https://evil.example/callback".to_owned()),
        ],
        vec![
            ("client_id", client_id.to_owned()),
            (
                "redirect_uri",
                "https://app.example.com:444/callback".to_owned(),
            ),
        ],
    ] {
        let r = authorize(pairs).await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(r.headers().get(header::LOCATION).is_none());
    }
    // Everything else: an error redirect to the client, with state and iss.
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (
            base()
                .into_iter()
                .filter(|(k, _)| *k != "code_challenge")
                .collect(),
            "invalid_request",
        ),
        (
            replaced("code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            replaced("response_type", "token"),
            "unsupported_response_type",
        ),
        (
            [base(), vec![("scope", "admin".to_owned())]].concat(),
            "invalid_scope",
        ),
        (
            [
                base(),
                vec![("resource", "https://other.example/mcp".to_owned())],
            ]
            .concat(),
            "invalid_target",
        ),
    ];
    // In a browser that never signed in to this client here: a page, never a redirect
    // (anyone can register a phishing page as a redirect URI; RFC 9700 section 4.11.2).
    let mut browser = Browser::new();
    for (pairs, expected) in &cases {
        let r = browser.get(&url_of(pairs.clone())).await;
        assert_eq!(r.status(), 400, "{expected}");
        assert!(r.headers().get(header::LOCATION).is_none(), "{expected}");
        let page = r.text().await.unwrap();
        assert!(page.contains(expected), "{expected}: {page}");
        assert!(
            !page.contains("admin") && !page.contains("other.example"),
            "{page}"
        );
    }
    // Once this browser has completed a sign-in with the client there: an error redirect to the
    // client, with state and iss.
    let (_, challenge) = pkce();
    let redirect = "https://app.example.com/callback";
    let signed_in = support::facade::authorize(
        &server,
        &mut browser,
        &metadata,
        client_id,
        redirect,
        "mcp:read",
        &challenge,
    )
    .await;
    assert!(signed_in.contains_key("code"));
    for (pairs, expected) in cases {
        let r = browser.get(&url_of(pairs)).await;
        let p = query(&location(&r));
        assert_eq!(p["error"], expected);
        assert_eq!(p["state"], "s");
        assert_eq!(p["iss"], server.issuer);
    }
    // Another browser has not.
    let bad_scope = [base(), vec![("scope", "admin".to_owned())]].concat();
    let r = Browser::new().get(&url_of(bad_scope)).await;
    assert_eq!(r.status(), 400);
    assert!(r.headers().get(header::LOCATION).is_none());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_metadata_document_client_signs_in_without_registering() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    // The client publishes its document on loopback (development mode accepts http there).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client_id = format!("http://{addr}/client-metadata.json");
    let redirect = format!("http://127.0.0.1:{}/callback", addr.port());
    let document = json!({"client_id": client_id, "client_name": "CIMD test client", "redirect_uris": [redirect], "token_endpoint_auth_method": "none"});
    tokio::spawn(
        axum::serve(
            listener,
            Router::new().route(
                "/client-metadata.json",
                get(move || async move { Json(document) }),
            ),
        )
        .into_future(),
    );

    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let answer = authorize(
        &server,
        &mut browser,
        &metadata,
        &client_id,
        &redirect,
        "mcp:read",
        &challenge,
    )
    .await;
    assert_eq!(answer["iss"], server.issuer);
    let issued = http()
        .post(metadata["token_endpoint"].as_str().unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &answer["code"]),
            ("redirect_uri", &redirect),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 200);
    // A redirect URI the document does not list is refused with an error page.
    let mut url = url::Url::parse(metadata["authorization_endpoint"].as_str().unwrap()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", "http://127.0.0.1:1/other")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let unlisted = http().get(url).send().await.unwrap();
    assert_eq!(unlisted.status(), 400);
    server.shutdown().await.unwrap();
}
