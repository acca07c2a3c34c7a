//! The pages a person can be shown (consent, the development sign-in and its retry, the façade's
//! and the development AS's error pages), attacked: each refuses to be framed, cached or sniffed
//! and loads nothing; text a peer chose (a client's name, parameter names) arrives as text.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use mcp_auth_server::local::{LocalOptions, LocalServer, STATIC_CLIENT_REDIRECTS};
use reqwest::{Response, StatusCode, header};
use support::{
    facade::{authorization_url, discover, register_named_public_client},
    hidden, http, pkce,
};

const HOSTILE_NAME: &str = r#"<script>alert(1)</script><img src=x onerror="alert(2)">"#;

/// Asserts the headers every page must carry and that no markup a peer sent was let through;
/// returns the page.
async fn page(what: &str, response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "{what}");
    let h = response.headers().clone();
    let get = |name: header::HeaderName| {
        h.get(&name)
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(get(header::CONTENT_TYPE).starts_with("text/html"), "{what}");
    let csp = get(header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{what}: {csp}");
    }
    assert_eq!(get(header::X_FRAME_OPTIONS), "DENY", "{what}");
    assert_eq!(get(header::CACHE_CONTROL), "no-store", "{what}");
    assert_eq!(get(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{what}");
    let html = response.text().await.unwrap();
    assert!(
        !html.contains("<script") && !html.contains("<img"),
        "{what}: {html}"
    );
    html
}

#[tokio::test]
async fn the_consent_page_and_facade_errors() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let metadata = discover(&server).await;
    let redirect = "http://127.0.0.1:9/callback";
    let client_id = register_named_public_client(&metadata, redirect, HOSTILE_NAME).await;
    let (_, challenge) = pkce();
    let url = authorization_url(
        &server, &metadata, &client_id, redirect, "mcp:read", &challenge,
    );
    let consent = http().get(&url).send().await.unwrap();
    let csp = consent.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page("consent", consent, StatusCode::OK).await;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    // Its answers lead upstream (here the development AS on this origin) and back to the
    // client: nowhere else.
    let upstream = format!("http://{}", server.addr);
    assert!(
        csp.ends_with(&format!("form-action 'self' {upstream} http://127.0.0.1:9")),
        "{csp}"
    );

    let issuer = &server.issuer;
    let unknown = http()
        .get(format!(
            "{issuer}/authorize?client_id=nobody&response_type=code"
        ))
        .send()
        .await
        .unwrap();
    page("unknown client", unknown, StatusCode::BAD_REQUEST).await;
    let repeated = http()
        .get(format!("{issuer}/authorize?%3Cscript%3E=1&%3Cscript%3E=2"))
        .send()
        .await
        .unwrap();
    page(
        "repeated hostile parameter",
        repeated,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let callback = http()
        .get(format!("{issuer}/oauth/callback?code=x&state=%3Cscript%3E"))
        .send()
        .await
        .unwrap();
    let status = callback.status();
    assert!(status.is_client_error(), "{status}");
    page("callback from nowhere", callback, status).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_development_sign_in_and_its_errors() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let (_, challenge) = pkce();
    let mut authorize =
        url::Url::parse(&format!("{}/oauth2/authorize", server.dev_issuer)).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &server.static_client.id)
        .append_pair("redirect_uri", STATIC_CLIENT_REDIRECTS[0])
        .append_pair("scope", "openid")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let sign_in = http().get(authorize).send().await.unwrap();
    let csp = sign_in.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page("sign-in", sign_in, StatusCode::OK).await;
    // A good sign-in redirects to a client, which may redirect on anywhere: not restricted.
    assert!(!csp.contains("form-action"), "{csp}");
    let wrong = http()
        .post(format!("{}/login", server.dev_issuer))
        .form(&[
            ("login_id", hidden(&html, "login_id").as_str()),
            ("username", server.user.username.as_str()),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    let retry = page("sign-in again", wrong, StatusCode::UNAUTHORIZED).await;
    assert!(retry.contains("Incorrect email or password."), "{retry}");

    let unknown = http()
        .get(format!(
            "{}/oauth2/authorize?client_id=%3Cscript%3E",
            server.dev_issuer
        ))
        .send()
        .await
        .unwrap();
    page("unknown client", unknown, StatusCode::BAD_REQUEST).await;
    let expired = http()
        .post(format!("{}/login", server.dev_issuer))
        .form(&[
            ("login_id", "<script>"),
            ("username", "u"),
            ("password", "p"),
        ])
        .send()
        .await
        .unwrap();
    page("expired sign-in", expired, StatusCode::BAD_REQUEST).await;
    server.shutdown().await.unwrap();
}
