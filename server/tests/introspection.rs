//! RFC 7662 introspection of opaque tokens, against an introspection endpoint on loopback.

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

use axum::{Form, Json, Router, extract::State, http::HeaderMap, routing::post};
use mcp_auth_server::{
    access_token::{TokenError, TokenPolicy, TokenProfile, TokenVerifier},
    introspection::{IntrospectionConfig, Introspector},
    signing::Rs256Key,
};
use serde_json::{Value, json};
use support::{jwks::JwksServer, now, with};

const ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "http://127.0.0.1:8080/mcp";

#[derive(Default)]
struct Endpoint {
    answers: Mutex<Vec<(String, Value)>>,
    calls: AtomicUsize,
}

async fn introspect(
    State(e): State<Arc<Endpoint>>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Json<Value> {
    e.calls.fetch_add(1, Ordering::SeqCst);
    // Only the resource server's own credentials may introspect.
    let expected = format!("Basic {}", base64_basic("rs", "rs-secret"));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Json(json!({"active": false}));
    }
    let token = form
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let answers = e.answers.lock().unwrap();
    Json(
        answers
            .iter()
            .find(|(t, _)| *t == token)
            .map(|(_, a)| a.clone())
            .unwrap_or(json!({"active": false})),
    )
}

fn base64_basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
}

async fn fixture(secret: &str) -> (Arc<Endpoint>, TokenVerifier, Rs256Key, JwksServer) {
    let endpoint = Arc::new(Endpoint::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/introspect", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/introspect", post(introspect))
        .with_state(endpoint.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (key, jwks, cache) = JwksServer::serving_new_key().await;
    let policy = TokenPolicy {
        issuer: ISSUER.into(),
        resource: RESOURCE.parse().unwrap(),
        profile: TokenProfile::Generic,
        leeway_secs: 30,
    };
    let verifier = TokenVerifier::new(policy, cache, 100).with_introspection(Introspector::new(
        IntrospectionConfig {
            endpoint: url.parse().unwrap(),
            client_id: "rs".into(),
            client_secret: secret.into(),
            max_cache: Duration::from_secs(60),
            cache_capacity: 100,
        },
    ));
    (endpoint, verifier, key, jwks)
}

fn active(extra: Value) -> Value {
    with(
        json!({"active": true, "iss": ISSUER, "sub": "u1", "client_id": "c1", "scope": "mcp:read", "aud": RESOURCE, "exp": now() + 600}),
        extra,
    )
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_cached() {
    let (endpoint, verifier, _, _jwks) = fixture("rs-secret").await;
    endpoint
        .answers
        .lock()
        .unwrap()
        .push(("opaque-1".into(), active(json!({}))));
    let p = verifier.verify("opaque-1").await.unwrap();
    assert_eq!(
        (p.subject.as_str(), p.scopes.to_string().as_str()),
        ("u1", "mcp:read")
    );
    verifier.verify("opaque-1").await.unwrap();
    assert_eq!(
        endpoint.calls.load(Ordering::SeqCst),
        1,
        "the second check is served from the cache"
    );
}

#[tokio::test]
async fn introspection_answers_are_held_to_the_same_rules_as_jwts() {
    let (endpoint, verifier, _, _jwks) = fixture("rs-secret").await;
    let cases = [
        ("inactive", json!({"active": false}), TokenError::Inactive),
        (
            "other-issuer",
            active(json!({"iss": "https://evil.example"})),
            TokenError::WrongIssuer,
        ),
        (
            "expired",
            active(json!({"exp": now() - 120})),
            TokenError::Expired,
        ),
        (
            "no-exp",
            active(json!({"exp": null})),
            TokenError::MissingClaim("exp".into()),
        ),
        (
            "not-yet",
            active(json!({"nbf": now() + 600})),
            TokenError::NotYetValid,
        ),
        (
            "other-resource",
            active(json!({"aud": "https://other.example/mcp"})),
            TokenError::WrongAudience,
        ),
        (
            "no-aud",
            active(json!({"aud": null})),
            TokenError::WrongAudience,
        ),
        // Audiences are compared as exact strings, not as URLs that normalise to ours.
        (
            "aud-dot-segments",
            active(json!({"aud": "http://127.0.0.1:8080/x/../mcp"})),
            TokenError::WrongAudience,
        ),
        (
            "aud-decimal-host",
            active(json!({"aud": ["http://2130706433:8080/mcp"]})),
            TokenError::WrongAudience,
        ),
        (
            "exp-two-days-away",
            active(json!({"exp": now() + 2 * 24 * 3600})),
            TokenError::ExpiryTooFar,
        ),
    ];
    for (token, answer, _) in &cases {
        endpoint
            .answers
            .lock()
            .unwrap()
            .push((token.to_string(), answer.clone()));
    }
    for (token, _, expected) in cases {
        assert_eq!(verifier.verify(token).await, Err(expected), "{token}");
    }
    // Negative answers are not cached: a second look asks again.
    let before = endpoint.calls.load(Ordering::SeqCst);
    let _ = verifier.verify("inactive").await;
    assert_eq!(endpoint.calls.load(Ordering::SeqCst), before + 1);
}

#[tokio::test]
async fn jwts_never_go_to_introspection_and_bad_credentials_get_nothing() {
    let (endpoint, verifier, key, _jwks) = fixture("wrong-secret").await;
    endpoint
        .answers
        .lock()
        .unwrap()
        .push(("opaque-1".into(), active(json!({}))));
    assert_eq!(
        verifier.verify("opaque-1").await,
        Err(TokenError::Inactive),
        "the AS answers inactive to strangers"
    );
    let jwt = key
        .sign(&json!({"iss": ISSUER, "sub": "u", "aud": RESOURCE, "exp": now() + 60}))
        .unwrap();
    let calls = endpoint.calls.load(Ordering::SeqCst);
    assert!(verifier.verify(&jwt).await.is_ok());
    assert_eq!(
        endpoint.calls.load(Ordering::SeqCst),
        calls,
        "a JWT is verified locally"
    );
}
