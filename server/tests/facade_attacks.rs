//! The façade attacked: a consent carried to another browser, forged browser ids, repeated
//! parameters, parameter floods, unauthenticated requests that would make it store state, a
//! wrong client presenting someone else's code or refresh token, a rotated refresh token
//! reused, refresh asking for something else than was granted. Each was a defect once.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{body::Body, extract::ConnectInfo, http::Request};
use mcp_auth_server::{
    endpoint::Issuer,
    facade::{
        Facade, FacadeConfig, RegistrationLimits, UpstreamConfig,
        clients::{AuthMethod, Client, Origin},
        store::{MemoryStore, Records, now_secs},
    },
    local::{LocalOptions, LocalServer},
};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use support::{
    facade::{
        Browser, authorization_url, authorize, discover, location, redeem, register_public_client,
        signed_in,
    },
    hidden, http, pkce, query,
};
use tower::ServiceExt;

const REDIRECT: &str = support::facade::PUBLIC_REDIRECT;

/// A refresh at the façade's token endpoint for a public client, with extra parameters.
async fn refresh(
    metadata: &Value,
    client_id: &str,
    refresh_token: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", client_id),
        ("refresh_token", refresh_token),
    ];
    form.extend_from_slice(extra);
    http()
        .post(metadata["token_endpoint"].as_str().unwrap())
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn consent_given_in_one_browser_cannot_be_completed_in_another() {
    // The development AS approving without a form stands for an upstream single sign-on
    // session: the victim's browser passes the upstream without seeing anything.
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    let attacker_client = register_public_client(&metadata, REDIRECT).await;
    let (_, challenge) = pkce();
    let url = authorization_url(
        &server,
        &metadata,
        &attacker_client,
        REDIRECT,
        "mcp:read mcp:write",
        &challenge,
    );
    let mut attacker = Browser::new();
    let upstream = attacker.approve(&server, &url).await;

    // The attacker sends the upstream URL to a victim.
    let mut victim = Browser::new();
    let callback = victim.sign_in_upstream(&server, &upstream).await;
    let landed = victim.get(&callback).await;
    assert_eq!(landed.status(), StatusCode::FORBIDDEN);
    assert!(
        landed.headers().get(header::LOCATION).is_none(),
        "no redirect to the attacker's client"
    );
    assert!(
        landed
            .text()
            .await
            .unwrap()
            .contains("not started in this browser")
    );

    // A remembered consent does not travel either: the façade URL shows the victim the page.
    let asked = victim.get(&url).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("Allow <em>"));

    // In the browser that approved, the same flow completes.
    let callback = attacker.sign_in_upstream(&server, &upstream).await;
    let back = attacker.get(&callback).await;
    let to_client = query(&location(&back));
    assert!(to_client.contains_key("code"), "{to_client:?}");
    assert_eq!(to_client["iss"], server.issuer);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_browser_id_the_server_did_not_sign_is_not_one() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let client_id = register_public_client(&metadata, REDIRECT).await;
    let (_, challenge) = pkce();
    let url = authorization_url(
        &server, &metadata, &client_id, REDIRECT, "mcp:read", &challenge,
    );
    let forged = format!("mcpak_browser={}", "a".repeat(43));
    let page = http()
        .get(&url)
        .header(header::COOKIE, &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let set = page.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set.starts_with("mcpak_browser=") && !set.starts_with(&forged),
        "a fresh, signed id replaces the forged one: {set}"
    );
    let html = page.text().await.unwrap();
    let answered = http()
        .post(format!("{}/consent", server.issuer))
        .header(header::COOKIE, &forged)
        .form(&[
            ("consent_id", hidden(&html, "consent_id").as_str()),
            ("csrf", &hidden(&html, "csrf")),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::FORBIDDEN);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn repeated_parameters_are_refused_on_every_endpoint() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let client_id = register_public_client(&metadata, REDIRECT).await;
    let (_, challenge) = pkce();
    let url = authorization_url(
        &server, &metadata, &client_id, REDIRECT, "mcp:read", &challenge,
    );
    // Which of two redirect URIs (or clients) to trust cannot be known: a page, no redirect.
    for extra in [
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A7777%2Fother",
        "&client_id=other",
    ] {
        let r = http().get(format!("{url}{extra}")).send().await.unwrap();
        assert_eq!(r.status(), 400, "{extra}");
        assert!(r.headers().get(header::LOCATION).is_none(), "{extra}");
    }
    // Anything else repeated: invalid_request to the (single, registered) redirect URI.
    for extra in [
        "&state=second",
        "&code_challenge=AAAA",
        "&scope=mcp%3Awrite",
    ] {
        let r = http().get(format!("{url}{extra}")).send().await.unwrap();
        let p = query(&location(&r));
        assert_eq!(p["error"], "invalid_request", "{extra}");
        assert!(
            p["error_description"].contains("repeated"),
            "{extra}: {p:?}"
        );
        assert_eq!(p["iss"], server.issuer);
    }
    // A state too long to carry is refused without being carried back.
    let mut long = url::Url::parse(&url).unwrap();
    let pairs: Vec<(String, String)> = long
        .query_pairs()
        .map(|(k, v)| match k.as_ref() {
            "state" => (k.into_owned(), "s".repeat(2_000)),
            _ => (k.into_owned(), v.into_owned()),
        })
        .collect();
    long.query_pairs_mut().clear().extend_pairs(pairs);
    let r = http().get(long.as_str()).send().await.unwrap();
    let p = query(&location(&r));
    assert_eq!(p["error"], "invalid_request");
    assert!(!p.contains_key("state"), "{p:?}");
    let token = |body: &'static str, endpoint: String| async move {
        http()
            .post(endpoint)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    };
    let twice = "grant_type=authorization_code&code=a&code=b&client_id=x";
    for endpoint in [
        metadata["token_endpoint"].as_str().unwrap().to_owned(),
        format!("{}/oauth2/token", server.dev_issuer),
    ] {
        let (status, error) = error_of(token(twice, endpoint.clone()).await).await;
        assert_eq!(
            (status.as_u16(), error.as_str()),
            (400, "invalid_request"),
            "{endpoint}"
        );
    }
    for (endpoint, body) in [
        (
            format!("{}/consent", server.issuer),
            "consent_id=a&consent_id=b&csrf=c&decision=approve",
        ),
        (
            format!("{}/login", server.dev_issuer),
            "login_id=a&username=u&username=v&password=p",
        ),
    ] {
        let r = token(body, endpoint.clone()).await;
        assert_eq!(r.status(), 400, "{endpoint}");
    }
    let callback = http()
        .get(format!(
            "{}/oauth/callback?state=a&state=b&code=c",
            server.issuer
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(callback.status(), 400);
    let dev_authorize = http()
        .get(format!(
            "{}/oauth2/authorize?client_id={}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fx&response_type=code",
            server.dev_issuer, server.static_client.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(dev_authorize.status(), 400);
    assert!(dev_authorize.headers().get(header::LOCATION).is_none());
    // JSON has its own way to repeat a member.
    let registration = http()
        .post(metadata["registration_endpoint"].as_str().unwrap())
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"redirect_uris":["https://a.example/cb"],"redirect_uris":["https://evil.example/cb"],"token_endpoint_auth_method":"none"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(registration.status(), 400);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn parameter_floods_are_refused_without_stalling_the_server() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let token_endpoint = metadata["token_endpoint"].as_str().unwrap().to_owned();
    let over: String = (0..65).map(|i| format!("k{i}=v&")).collect();
    let r = http()
        .post(&token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(over)
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!((status.as_u16(), error.as_str()), (400, "invalid_request"));
    // Two unauthenticated 1 MiB bodies of ~160,000 distinct keys once stalled the server for
    // about 50 s; now each is refused after 65 keys, and the server answers meanwhile.
    let flood: String = (0..160_000)
        .map(|i| format!("k{i}=&"))
        .collect::<String>()
        .chars()
        .take(1024 * 1024 - 64)
        .collect();
    let send = |url: String| {
        let body = flood.clone();
        async move {
            http()
                .post(url)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let all = async {
        tokio::join!(
            send(token_endpoint.clone()),
            send(format!("{}/oauth2/token", server.dev_issuer)),
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                http()
                    .get(format!("{}/healthz", server.issuer))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        )
    };
    // A bound on "it was answered", not a performance figure.
    let (a, b, health) = tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .expect("the server answered the floods and a health check");
    assert_eq!((a.as_u16(), b.as_u16(), health.as_u16()), (400, 400, 200));
    server.shutdown().await.unwrap();
}

/// The façade alone, in process, over a store the test can count.
fn facade_over(store: Arc<MemoryStore>) -> axum::Router {
    facade_limited(store, RegistrationLimits::default())
}

/// [`facade_over`] with other limits.
fn facade_limited(store: Arc<MemoryStore>, registration: RegistrationLimits) -> axum::Router {
    Facade::new(
        FacadeConfig {
            issuer: Issuer::for_resource(&"https://mcp.example.com/mcp".parse().unwrap()).unwrap(),
            resource: "https://mcp.example.com/mcp".parse().unwrap(),
            scopes: vec!["mcp:read".into()],
            default_scope: "mcp:read".into(),
            upstream: UpstreamConfig {
                authorization_endpoint: "https://up.example/oauth2/authorize".parse().unwrap(),
                token_endpoint: "https://up.example/oauth2/token".parse().unwrap(),
                client_id: "facade".into(),
                client_secret: "secret".into(),
                redirect_uri: "https://mcp.example.com/oauth/callback".parse().unwrap(),
                revocation_endpoint: None,
                resource_at_token_endpoint: false,
            },
            registration,
            loopback_cimd: None,
            csrf_key: vec![7; 32],
        },
        store,
    )
    .router()
}

#[tokio::test]
async fn a_registration_flood_from_many_addresses_stops_at_the_cap() {
    let store = Arc::new(MemoryStore::default());
    let cap = 50;
    let app = facade_limited(
        store.clone(),
        RegistrationLimits {
            max_clients: cap,
            ..RegistrationLimits::default()
        },
    );
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let mut statuses = Vec::new();
    let mut retry_after = None;
    // Each from its own address, all at once: no per-address limit applies.
    let mut sent = tokio::task::JoinSet::new();
    for i in 0..80 {
        let request = Request::post("/register")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        sent.spawn(app.clone().oneshot(sent_from(request, i)));
    }
    while let Some(response) = sent.join_next().await {
        let response = response.unwrap().unwrap();
        if response.status() == 503 {
            retry_after = response.headers().get("retry-after").cloned();
        }
        statuses.push(response.status().as_u16());
    }
    let created = statuses.iter().filter(|s| **s == 201).count();
    println!("80 registrations from 80 addresses against a cap of {cap}: {created} created");
    assert_eq!(created, 50, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [201, 503].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        retry_after.unwrap(),
        "300",
        "a twelfth of the hour the cap counts over"
    );
    // The clients and one record of admissions: nothing else was stored.
    assert_eq!(store.len(), 50 + 1);
}

#[tokio::test]
async fn unauthenticated_authorization_requests_store_nothing() {
    let store = Arc::new(MemoryStore::default());
    let client = Client {
        client_id: "dcr-test".into(),
        secret_sha256: None,
        auth_method: AuthMethod::None,
        redirect_uris: vec!["https://app.example/cb".into()],
        client_name: Some("Test".into()),
        grant_types: vec!["authorization_code".into()],
        origin: Origin::Dcr,
        issued_at: now_secs(),
    };
    Records(store.as_ref())
        .insert(&client.client_id, &client, now_secs() + 600)
        .await
        .unwrap();
    let app = facade_over(store.clone());
    let (_, challenge) = pkce();
    let request = |from: SocketAddr| {
        let mut r = Request::get(format!(
            "/authorize?response_type=code&client_id=dcr-test&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge={challenge}&code_challenge_method=S256"
        ))
        .body(Body::empty())
        .unwrap();
        r.extensions_mut().insert(ConnectInfo(from));
        r
    };
    for i in 0..1000u32 {
        let from = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 40000));
        let page = app.clone().oneshot(request(from)).await.unwrap();
        assert_eq!(page.status(), 200, "a consent page");
    }
    assert_eq!(
        store.len(),
        1,
        "the registration only: no consent was stored"
    );
    // One address flooding is stopped after its allowance.
    let one = SocketAddr::from(([10, 9, 9, 9], 40000));
    let mut statuses = Vec::new();
    for _ in 0..200 {
        statuses.push(app.clone().oneshot(request(one)).await.unwrap().status());
    }
    assert_eq!(statuses[0], 200);
    assert_eq!(*statuses.last().unwrap(), 429);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn refresh_issues_what_was_granted_or_refuses() {
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    let (client_id, issued) = signed_in(&server, &metadata, "mcp:read mcp:write").await;
    let token = issued["refresh_token"].as_str().unwrap();
    // A narrower scope cannot be issued faithfully (the upstream's token keeps the grant's
    // scope): refused, not answered with a response that says less than the token carries.
    let narrowed = refresh(&metadata, &client_id, token, &[("scope", "mcp:read")]).await;
    assert_eq!(
        error_of(narrowed).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let widened = refresh(&metadata, &client_id, token, &[("scope", "mcp:read admin")]).await;
    assert_eq!(
        error_of(widened).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let foreign = refresh(
        &metadata,
        &client_id,
        token,
        &[("resource", "https://other.example/mcp")],
    )
    .await;
    assert_eq!(
        error_of(foreign).await,
        (StatusCode::BAD_REQUEST, "invalid_target".into())
    );
    // None of those spent the token.
    let same = refresh(
        &metadata,
        &client_id,
        token,
        &[
            ("scope", "mcp:write mcp:read"),
            ("resource", server.resource.as_str()),
        ],
    )
    .await;
    assert_eq!(same.status(), 200);
    let same: Value = same.json().await.unwrap();
    assert_eq!(same["scope"], "mcp:read mcp:write");
    server.shutdown().await.unwrap();
}

/// A remembered consent covers the redirect URI it was given for, and only an https one: a
/// loopback client cannot prove who it is (any program can listen on a port of this machine),
/// so RFC 8252 section 8.6 asks to treat its requests as never approved; `prompt=consent` asks
/// anyway. (Each once skipped the consent page.)
#[tokio::test]
async fn a_remembered_consent_covers_one_https_redirect_uri_only() {
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    let (_, challenge) = pkce();
    let url = |client: &str, redirect: &str| {
        authorization_url(&server, &metadata, client, redirect, "mcp:read", &challenge)
    };
    let asks = |r: reqwest::Response| r.status() == StatusCode::OK;
    let mut browser = Browser::new();

    let (cb, other) = ("https://app.example/cb", "https://app.example/other");
    let web = support::facade::register_public_client_at(&metadata, &[cb, other]).await;
    browser.approve(&server, &url(&web, cb)).await;
    let again = browser.get(&url(&web, cb)).await;
    assert!(again.status().is_redirection(), "remembered for {cb}");
    assert!(
        asks(browser.get(&url(&web, other)).await),
        "asked for {other}"
    );
    let forced = format!("{}&prompt=consent", url(&web, cb));
    assert!(
        asks(browser.get(&forced).await),
        "asked with prompt=consent"
    );

    let port_a = "http://127.0.0.1:5555/cb";
    let native = support::facade::register_public_client_at(&metadata, &[port_a]).await;
    browser.approve(&server, &url(&native, port_a)).await;
    assert!(
        asks(browser.get(&url(&native, port_a)).await),
        "asked again"
    );
    let port_b = "http://127.0.0.1:6666/cb";
    assert!(
        asks(browser.get(&url(&native, port_b)).await),
        "asked for another port"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_wrong_client_spends_nothing() {
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    let rightful = register_public_client(&metadata, REDIRECT).await;
    let other = register_public_client(&metadata, REDIRECT).await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let answer = authorize(
        &server,
        &mut browser,
        &metadata,
        &rightful,
        REDIRECT,
        "mcp:read",
        &challenge,
    )
    .await;
    let stolen = redeem(&metadata, &other, &answer["code"], &verifier).await;
    assert_eq!(
        error_of(stolen).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let issued = redeem(&metadata, &rightful, &answer["code"], &verifier).await;
    assert_eq!(issued.status(), 200, "the rightful client still redeems");
    let issued: Value = issued.json().await.unwrap();
    let token = issued["refresh_token"].as_str().unwrap();
    let stolen = refresh(&metadata, &other, token, &[]).await;
    assert_eq!(
        error_of(stolen).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        refresh(&metadata, &rightful, token, &[]).await.status(),
        200
    );
    server.shutdown().await.unwrap();
}

/// RFC 6749 section 5.2: a client that authenticated with the Authorization header and failed
/// gets 401 `invalid_client` with the challenge of the scheme it used; one that sent its
/// credentials in the body gets no challenge.
#[tokio::test]
async fn failed_basic_authentication_is_challenged_with_basic() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let endpoint = metadata["token_endpoint"].as_str().unwrap();
    let form = [("grant_type", "authorization_code"), ("code", "x")];
    let basic = http()
        .post(endpoint)
        .basic_auth("dcr-nobody", Some("wrong"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    let challenge = basic.headers().get(header::WWW_AUTHENTICATE).cloned();
    assert_eq!(
        error_of(basic).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    assert!(
        challenge.is_some_and(|c| c.to_str().unwrap().starts_with("Basic ")),
        "no Basic challenge"
    );
    let in_body = http()
        .post(endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "dcr-nobody"),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(in_body.status(), StatusCode::UNAUTHORIZED);
    assert!(in_body.headers().get(header::WWW_AUTHENTICATE).is_none());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_family() {
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    let (client_id, issued) = signed_in(&server, &metadata, "mcp:read").await;
    let first = issued["refresh_token"].as_str().unwrap();
    let rotate = |token: String| {
        let (metadata, client_id) = (&metadata, &client_id);
        async move {
            let r = refresh(metadata, client_id, &token, &[]).await;
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            body["refresh_token"].as_str().unwrap().to_owned()
        }
    };
    let second = rotate(first.to_owned()).await;
    assert_ne!(first, second, "rotated");
    let third = rotate(second.clone()).await;
    // A token older than the last rotation comes back (stolen, or replayed): refused, and the
    // live one dies with it.
    let reused = refresh(&metadata, &client_id, first, &[]).await;
    assert_eq!(
        error_of(reused).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let after = refresh(&metadata, &client_id, &third, &[]).await;
    assert_eq!(
        error_of(after).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into()),
        "the whole family is revoked"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_refresh_retried_after_a_lost_answer_gets_the_same_answer() {
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    let (client_id, issued) = signed_in(&server, &metadata, "mcp:read").await;
    let first = issued["refresh_token"].as_str().unwrap();
    // Twenty refreshes of one token at once (a client's threads racing, or retries of a cut
    // request): every one gets the one rotation's answer, and the family lives on.
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (metadata, client_id, token) = (metadata.clone(), client_id.clone(), first.to_owned());
        racing.spawn(async move {
            let r = refresh(&metadata, &client_id, &token, &[]).await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        });
    }
    let answers = racing.join_all().await;
    let next = answers[0]["refresh_token"].as_str().unwrap().to_owned();
    for a in &answers {
        assert_eq!(a["refresh_token"], next.as_str(), "{a}");
        assert_eq!(a["access_token"], answers[0]["access_token"]);
    }
    let r = refresh(&metadata, &client_id, &next, &[]).await;
    assert_eq!(r.status(), 200, "the family lives on");
    // Another client presenting the replaced token within the window gets nothing from it.
    let other = register_public_client(&metadata, REDIRECT).await;
    let stolen = refresh(&metadata, &other, first, &[]).await;
    assert_eq!(error_of(stolen).await.1, "invalid_grant");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn registration_takes_json_only() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let endpoint = metadata["registration_endpoint"].as_str().unwrap();
    let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    // What a cross-site HTML form could send from a visitor's browser.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = http()
            .post(endpoint)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    let ok = http().post(endpoint).json(&body).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_flood_of_sign_ins_does_not_lock_the_development_sign_in_out() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let (_, challenge) = pkce();
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&code_challenge={challenge}&code_challenge_method=S256",
        server.dev_issuer, server.static_client.id
    );
    let http = http();
    // 10,000 abandoned sign-ins, 16 at a time.
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..10_000 {
        if pending.len() == 16 {
            assert_eq!(pending.join_next().await.unwrap().unwrap(), 200);
        }
        let (http, url) = (http.clone(), url.clone());
        pending.spawn(async move { http.get(url).send().await.unwrap().status().as_u16() });
    }
    while let Some(status) = pending.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    // A person signing in now still gets the form, and the form still works.
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let signed_in = http
        .post(format!("{}/login", server.dev_issuer))
        .form(&[
            ("login_id", hidden(&html, "login_id").as_str()),
            ("username", &server.user.username),
            ("password", &server.user.password),
        ])
        .send()
        .await
        .unwrap();
    assert!(query(&location(&signed_in)).contains_key("code"));
    server.shutdown().await.unwrap();
}

/// A request to the in-process façade from its own address (each address has its own quota).
fn sent_from(mut request: Request<Body>, i: usize) -> Request<Body> {
    let i = u32::try_from(i).unwrap();
    let from = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 40000));
    request.extensions_mut().insert(ConnectInfo(from));
    request
}

/// A public DCR client with one redirect URI, straight into the store.
async fn stored_client(store: &MemoryStore, client_id: &str, redirect_uri: &str) {
    let client = Client {
        client_id: client_id.into(),
        secret_sha256: None,
        auth_method: AuthMethod::None,
        redirect_uris: vec![redirect_uri.into()],
        client_name: Some("Test".into()),
        grant_types: vec!["authorization_code".into()],
        origin: Origin::Dcr,
        issued_at: now_secs(),
    };
    Records(store)
        .insert(client_id, &client, now_secs() + 600)
        .await
        .unwrap();
}

#[tokio::test]
async fn loopback_redirect_uris_match_as_written_but_for_the_port() {
    let store = Arc::new(MemoryStore::default());
    stored_client(&store, "v4", "http://127.0.0.1:9999/cb").await;
    stored_client(&store, "name", "http://localhost:9999/cb").await;
    stored_client(&store, "v6", "http://[::1]/cb").await;
    let app = facade_over(store);
    let (_, challenge) = pkce();
    let (mut sent, mut wrong) = (0, Vec::new());
    // Collects each redirect URI not answered with `expected`, and never a redirect.
    let mut check = async |client_id: &str, redirect_uri: &str, expected: u16| {
        let encoded: String =
            url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect();
        let request = Request::get(format!(
            "/authorize?response_type=code&client_id={client_id}&redirect_uri={encoded}&code_challenge={challenge}&code_challenge_method=S256"
        ))
        .body(Body::empty())
        .unwrap();
        sent += 1;
        let r = app.clone().oneshot(sent_from(request, sent)).await.unwrap();
        assert!(
            r.headers().get(header::LOCATION).is_none(),
            "{redirect_uri:?}"
        );
        if r.status() != expected {
            wrong.push((redirect_uri.to_owned(), r.status().as_u16()));
        }
    };
    // RFC 8252 section 7.3: the port of a loopback redirect URI may vary, nothing else.
    for (client_id, accepted) in [
        ("v4", "http://127.0.0.1:9999/cb"),
        ("v4", "http://127.0.0.1:53124/cb"),
        ("v4", "http://127.0.0.1/cb"),
        ("v4", "http://127.0.0.1:1/cb"),
        ("v4", "http://127.0.0.1:65535/cb"),
        ("name", "http://localhost:4000/cb"),
        ("v6", "http://[::1]:4000/cb"),
    ] {
        check(client_id, accepted, 200).await;
    }
    // RFC 9700 section 2.1: everything else is compared as a string, not after URL parsing.
    for (client_id, trick) in [
        ("v4", "http://127.0.0.1:9999/x/../cb"),
        ("v4", "http://127.0.0.1:9999/./cb"),
        ("v4", "http://127.0.0.1:9999/x/%2e%2e/cb"),
        ("v4", "http://127.0.0.1:9999/x/%2E./cb"),
        ("v4", "http://127.0.0.1/x/..\\cb"),
        ("v4", "http://127.0.0.1:9999\\cb"),
        ("v4", "http://127.0.0.1:9999/c\tb"),
        ("v4", "http://127.0.0.1:9999/c\nb"),
        ("v4", "http://127.0.0.1:9999/c\rb"),
        ("v4", "http://127.0.0.1:9999/cb\0"),
        ("v4", " http://127.0.0.1:9999/cb"),
        ("v4", "http://127.0.0.1:9999/cb "),
        ("v4", "http://0177.0.0.1:9999/cb"),
        ("v4", "http://2130706433:9999/cb"),
        ("v4", "http://127.1:9999/cb"),
        ("v4", "http://127.0.0.1:09999/cb"),
        ("v4", "http://127.0.0.1:0/cb"),
        ("v4", "http://127.0.0.1:65536/cb"),
        ("v4", "http://127.0.0.1:/cb"),
        ("v4", "http://127.0.0.1:80/cb/"),
        ("v4", "HTTP://127.0.0.1:9999/cb"),
        ("v4", "http://127.0.0.1.:9999/cb"),
        ("v4", "http://127.0.0.1:9999/cb?"),
        ("v4", "http://127.0.0.1:9999/cb#"),
        ("v4", "http://127.0.0.1:9999/c%62"),
        ("v4", "http://127.0.0.1:9999//cb"),
        ("v4", "http://user@127.0.0.1:9999/cb"),
        ("v4", "http://127.0.0.1:9999@evil.example/cb"),
        ("v4", "http://localhost:9999/cb"),
        ("name", "http://LOCALHOST:9999/cb"),
        ("name", "http://LocalHost:4000/cb"),
        ("name", "http://localhost.:9999/cb"),
        ("v6", "http://[0:0:0:0:0:0:0:1]:4000/cb"),
        ("v6", "http://[::0001]/cb"),
    ] {
        check(client_id, trick, 400).await;
    }
    assert_eq!(wrong, [], "(redirect URI, status) answered wrongly");
}

#[tokio::test]
async fn client_names_that_hide_or_fake_text_are_refused() {
    let app = facade_over(Arc::new(MemoryStore::default()));
    let (mut sent, mut wrong) = (0, Vec::new());
    // Collects each name not answered with `expected` (status, OAuth error).
    let mut register = async |name: &str, expected: (u16, &str)| {
        let body = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none", "client_name": name});
        let request = Request::post("/register")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        sent += 1;
        let r = app.clone().oneshot(sent_from(request, sent)).await.unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let error = body["error"].as_str().unwrap_or_default();
        if (status.as_u16(), error) != expected {
            wrong.push((name.to_owned(), status.as_u16()));
        }
    };
    let marks = format!("Z{}", "\u{0301}".repeat(150));
    for hidden in [
        "Good\u{200B}Client",
        "Good\u{200D}Client",
        "Good\u{2060}Client",
        "\u{FEFF}Good Client",
        "Good\u{00AD}Client",
        "Good\u{FFF9}Client\u{FFFA}x\u{FFFB}",
        "Good\u{180E}Client",
        "Good\u{034F}Client",
        "Good Client\u{E0001}\u{E0041}",
        "Good\u{E0041}Client",
        "Good\u{2028}Client",
        "Good\u{2029}Client",
        "Good\u{FE0F}Client",
        "Good\u{E0100}Client",
        "\u{3164}",
        "\u{115F}\u{1160}",
        "\u{FFA0}",
        "\u{2800}",
        " \u{3000} ",
        "\u{0301}",
        "👩\u{200D}\u{200D}💻",
        "\u{200D}💻",
        marks.as_str(),
        "a\u{0301}\u{0302}\u{0303}\u{0304}\u{0305}",
    ] {
        register(hidden, (400, "invalid_client_metadata")).await;
    }
    for shown in [
        "Claude",
        "VS Code — Copilot",
        "日本語クライアント",
        "Tiếng Việt",
        "हिन्दी क्षत्रिय",
        "བསྒྲུབས",
        "a\u{0301}\u{0302}\u{0303}\u{0304}",
        "👩\u{200D}💻 dev tool",
        "👩🏽\u{200D}💻",
        "❤\u{FE0F} app",
        "1\u{FE0F}\u{20E3}",
    ] {
        register(shown, (201, "")).await;
    }
    assert_eq!(wrong, [], "(client_name, status) answered wrongly");
}

#[tokio::test]
async fn a_consent_posted_from_another_site_is_refused() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let client_id = register_public_client(&metadata, REDIRECT).await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let url = authorization_url(
        &server, &metadata, &client_id, REDIRECT, "mcp:read", &challenge,
    );
    let page = browser.get(&url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let form = [
        ("consent_id", hidden(&html, "consent_id")),
        ("csrf", hidden(&html, "csrf")),
        ("decision", "approve".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let consent = format!("{}/consent", server.issuer);
    // The victim's own cookies and a valid form, but posted by a page of a sibling host (what
    // cookie tossing on an http issuer allows): refused before anything is spent.
    for headers in [
        [
            ("Origin", "http://evil.localhost:8080"),
            ("Sec-Fetch-Site", "same-site"),
        ],
        [
            ("Origin", &server.issuer as &str),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        [("Origin", "null"), ("Sec-Fetch-Site", "same-origin")],
    ] {
        let r = browser.post_form_with(&consent, &form, &headers).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.text().await.unwrap().contains("another site"));
    }
    // From the page itself, as a browser sends it: the same form still works.
    let own = [
        ("Origin", &server.issuer as &str),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let r = browser.post_form_with(&consent, &form, &own).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    // The development AS's sign-in form follows the same rule (a login CSRF otherwise).
    let login_page = browser.get(&location(&r)).await.text().await.unwrap();
    let login = format!("{}/login", server.dev_issuer);
    let login_id = hidden(&login_page, "login_id");
    let form = [
        ("login_id", login_id.as_str()),
        ("username", server.user.username.as_str()),
        ("password", server.user.password.as_str()),
    ];
    let forged = [
        ("Origin", "http://evil.localhost:8080"),
        ("Sec-Fetch-Site", "same-site"),
    ];
    let r = browser.post_form_with(&login, &form, &forged).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = browser.post_form_with(&login, &form, &own).await;
    assert!(
        r.status().is_redirection(),
        "the login is still there: {}",
        r.status()
    );
    server.shutdown().await.unwrap();
}

/// The open redirector of issue 21: a client registered with a phishing page as its redirect
/// URI, then `/authorize` with errors of every kind, from a browser that never signed in to it.
#[tokio::test]
async fn authorization_errors_never_send_a_stranger_to_a_registered_phishing_page() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let phish = "https://evil.example/phish";
    let client_id = register_public_client(&metadata, phish).await;
    let (_, challenge) = pkce();
    let url = authorization_url(
        &server, &metadata, &client_id, phish, "mcp:read", &challenge,
    );
    let lure = "Your+account+is+locked.+Call+1-800-555-0100";
    let errors = [
        url.replace("response_type=code", "response_type=token"),
        url.replace("code_challenge_method=S256", "code_challenge_method=plain"),
        url.replace(&format!("code_challenge={challenge}"), ""),
        url.replace("scope=mcp%3Aread", &format!("scope={lure}")),
        url.replace("resource=", &format!("resource=https://{lure}&x=")),
        format!("{url}&state=second"),
        format!("{url}&scope=mcp%3Awrite"),
        url.replace("state=client-state", &format!("state={}", "x".repeat(1025))),
    ];
    let mut redirected = Vec::new();
    for (i, request) in errors.iter().enumerate() {
        // A stranger: no cookie; a visitor who has a browser id but never signed in to it.
        let mut visitor = Browser::new();
        let _ = visitor
            .get(&authorization_url(
                &server, &metadata, &client_id, phish, "mcp:read", &challenge,
            ))
            .await;
        for (who, response) in [
            ("stranger", http().get(request).send().await.unwrap()),
            ("visitor", visitor.get(request).await),
        ] {
            if let Some(to) = response.headers().get(header::LOCATION) {
                redirected.push(format!("{i} {who}: {}", to.to_str().unwrap()));
                continue;
            }
            assert_eq!(response.status(), 400, "{i} {who}");
            let page = response.text().await.unwrap();
            assert!(
                !page.contains("1-800"),
                "{i} {who}: the lure on our page: {page}"
            );
        }
    }
    println!(
        "{} error kinds, 2 browsers each: {} redirects",
        errors.len(),
        redirected.len()
    );
    assert!(redirected.is_empty(), "{redirected:#?}");
    server.shutdown().await.unwrap();
}
