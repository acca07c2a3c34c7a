//! The bad-token corpus: every token here must be refused, for the right reason; zero accepted.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use mcp_auth_server::{
    access_token::{TokenError, TokenPolicy, TokenProfile, TokenVerifier},
    jwks::{JwksCache, RefreshPolicy},
    signing::Rs256Key,
};
use serde_json::{Value, json};
use support::{jwks::JwksServer, now, with};

const ISSUER: &str = "http://127.0.0.1:9/dev";
const RESOURCE: &str = "http://127.0.0.1:8080/mcp";

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "user-1",
        "client_id": "client-1",
        "token_use": "access",
        "scope": "mcp:read",
        "aud": RESOURCE,
        "iat": now(),
        "exp": now() + 600,
    })
}

struct Fixture {
    key: Rs256Key,
    _jwks: JwksServer,
    verifier: TokenVerifier,
}

async fn fixture(profile: TokenProfile) -> Fixture {
    fixture_with_leeway(profile, 30).await
}

async fn fixture_with_leeway(profile: TokenProfile, leeway_secs: u64) -> Fixture {
    let (key, jwks, cache) = JwksServer::serving_new_key().await;
    cache.prime().await.unwrap();
    let policy = TokenPolicy {
        issuer: ISSUER.into(),
        resource: RESOURCE.parse().unwrap(),
        profile,
        leeway_secs,
    };
    Fixture {
        key,
        _jwks: jwks,
        verifier: TokenVerifier::new(policy, cache, 1000),
    }
}

fn unsigned(header: Value, claims: Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode(signature)
    )
}

fn hs256_with_public_key(key: &Rs256Key, claims: &Value) -> String {
    // The classic confusion attack: HMAC keyed with the public key the server knows.
    let secret = key.public_jwk().to_string();
    let input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "HS256", "typ": "JWT", "kid": "k1"}).to_string()),
        B64.encode(claims.to_string())
    );
    let hmac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&hmac_key, input.as_bytes());
    format!("{input}.{}", B64.encode(tag.as_ref()))
}

#[tokio::test]
async fn valid_tokens_are_accepted() {
    let f = fixture(TokenProfile::Cognito).await;
    let p = f
        .verifier
        .verify(&f.key.sign(&claims()).unwrap())
        .await
        .unwrap();
    assert_eq!(p.subject, "user-1");
    assert_eq!(p.client_id.as_deref(), Some("client-1"));
    assert_eq!(p.scopes.to_string(), "mcp:read");
    // Cognito without resource binding: no aud, but a scope of this resource server.
    let no_aud = with(
        claims(),
        json!({"aud": null, "scope": "openid http://127.0.0.1:8080/mcp/mcp:read"}),
    );
    assert!(
        f.verifier
            .verify(&f.key.sign(&no_aud).unwrap())
            .await
            .is_ok()
    );
    // aud as an array that names this resource exactly.
    let array = with(claims(), json!({"aud": ["other", RESOURCE]}));
    assert!(
        f.verifier
            .verify(&f.key.sign(&array).unwrap())
            .await
            .is_ok()
    );
    // Within the leeway.
    let just_expired = with(claims(), json!({"exp": now() - 5}));
    assert!(
        f.verifier
            .verify(&f.key.sign(&just_expired).unwrap())
            .await
            .is_ok()
    );
    // Cognito's longest access-token lifetime, a day.
    let a_day = with(claims(), json!({"exp": now() + 24 * 3600}));
    assert!(
        f.verifier
            .verify(&f.key.sign(&a_day).unwrap())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_bad_token_corpus_is_refused_for_the_right_reason() {
    let f = fixture(TokenProfile::Cognito).await;
    let other_key = Rs256Key::generate("k1").unwrap();
    let sign = |c: Value| f.key.sign(&c).unwrap();
    let valid = sign(claims());
    let header_and_claims = valid.rsplit_once('.').unwrap().0.to_owned();
    let rs256 = |extra: Value| {
        f.key
            .sign_with_header(
                &with(json!({"alg": "RS256", "kid": "k1"}), extra),
                &claims(),
            )
            .unwrap()
    };
    let claim_type = |claim| TokenError::ClaimType {
        claim,
        expected: "a string",
    };
    let corpus: Vec<(&str, String, TokenError)> = vec![
        ("garbage", "not-a-jwt".into(), TokenError::Malformed),
        ("three garbage parts", "a.b.c".into(), TokenError::Malformed),
        (
            "two segments (the signature cut off)",
            header_and_claims.clone(),
            TokenError::Malformed,
        ),
        (
            "four segments",
            format!("{valid}.{}", B64.encode("x")),
            TokenError::Malformed,
        ),
        (
            "five segments (a JWE's shape)",
            format!("{header_and_claims}.a.b.c"),
            TokenError::Malformed,
        ),
        (
            "alg none, two segments",
            format!(
                "{}.{}",
                B64.encode(json!({"alg": "none"}).to_string()),
                B64.encode(claims().to_string())
            ),
            TokenError::Malformed,
        ),
        (
            "an unknown critical extension",
            rs256(json!({"crit": ["exp"], "exp": 1})),
            TokenError::CriticalExtension,
        ),
        (
            "an empty crit list",
            rs256(json!({"crit": []})),
            TokenError::CriticalExtension,
        ),
        (
            "crit naming a registered header",
            rs256(json!({"crit": ["kid"]})),
            TokenError::CriticalExtension,
        ),
        (
            "iss as an array holding ours",
            sign(with(claims(), json!({"iss": [ISSUER]}))),
            claim_type("iss"),
        ),
        (
            "iss as a number",
            sign(with(claims(), json!({"iss": 1}))),
            claim_type("iss"),
        ),
        (
            "exp two days away",
            sign(with(claims(), json!({"exp": now() + 2 * 24 * 3600}))),
            TokenError::ExpiryTooFar,
        ),
        (
            "exp in the year 10000",
            sign(with(claims(), json!({"exp": 253_402_300_800u64}))),
            TokenError::ExpiryTooFar,
        ),
        (
            "aud with dot segments that normalise to this resource",
            sign(with(
                claims(),
                json!({"aud": "http://127.0.0.1:8080/x/../mcp"}),
            )),
            TokenError::WrongAudience,
        ),
        (
            "aud with the host as a decimal number",
            sign(with(claims(), json!({"aud": "http://2130706433:8080/mcp"}))),
            TokenError::WrongAudience,
        ),
        (
            "aud with the host in hexadecimal",
            sign(with(claims(), json!({"aud": "http://0x7f.0.0.1:8080/mcp"}))),
            TokenError::WrongAudience,
        ),
        (
            "aud in upper case",
            sign(with(claims(), json!({"aud": "HTTP://127.0.0.1:8080/mcp"}))),
            TokenError::WrongAudience,
        ),
        (
            "aud with a percent-encoded path",
            sign(with(
                claims(),
                json!({"aud": "http://127.0.0.1:8080/%6dcp"}),
            )),
            TokenError::WrongAudience,
        ),
        (
            "no aud, a scope under a resource that normalises to this one",
            sign(with(
                claims(),
                json!({"aud": null, "scope": "http://127.0.0.1:8080/x/../mcp/mcp:read"}),
            )),
            TokenError::WrongAudience,
        ),
        (
            "no aud, a scope under the decimal form of this host",
            sign(with(
                claims(),
                json!({"aud": null, "scope": "http://2130706433:8080/mcp/mcp:read"}),
            )),
            TokenError::WrongAudience,
        ),
        (
            "alg none",
            unsigned(json!({"alg": "none", "typ": "JWT"}), claims(), b""),
            TokenError::AlgorithmNotAllowed("none".into()),
        ),
        (
            "HS256 keyed with the public key",
            hs256_with_public_key(&f.key, &claims()),
            TokenError::AlgorithmNotAllowed("HS256".into()),
        ),
        (
            "ES256 header on an RSA key",
            unsigned(json!({"alg": "ES256", "kid": "k1"}), claims(), &[0; 64]),
            TokenError::AlgorithmMismatch,
        ),
        (
            "no kid",
            f.key
                .sign_with_header(&json!({"alg": "RS256"}), &claims())
                .unwrap(),
            TokenError::NoKeyId,
        ),
        (
            "unknown kid",
            f.key
                .sign_with_header(&json!({"alg": "RS256", "kid": "nope"}), &claims())
                .unwrap(),
            TokenError::UnknownKey,
        ),
        (
            "signed by another key under our kid",
            other_key.sign(&claims()).unwrap(),
            TokenError::BadSignature,
        ),
        (
            "tampered claims",
            {
                let t = sign(claims());
                let mut parts: Vec<&str> = t.split('.').collect();
                let forged = B64.encode(with(claims(), json!({"sub": "admin"})).to_string());
                parts[1] = &forged;
                parts.join(".")
            },
            TokenError::BadSignature,
        ),
        (
            "wrong issuer",
            sign(with(claims(), json!({"iss": "https://evil.example"}))),
            TokenError::WrongIssuer,
        ),
        (
            "no issuer",
            sign(with(claims(), json!({"iss": null}))),
            TokenError::MissingClaim("iss".into()),
        ),
        (
            "expired",
            sign(with(claims(), json!({"exp": now() - 120}))),
            TokenError::Expired,
        ),
        (
            "no exp",
            sign(with(claims(), json!({"exp": null}))),
            TokenError::MissingClaim("exp".into()),
        ),
        (
            "no sub",
            sign(with(claims(), json!({"sub": null}))),
            TokenError::MissingClaim("sub".into()),
        ),
        (
            // Nobody: every session and limit keyed on it would be everyone's.
            "an empty sub",
            sign(with(claims(), json!({"sub": ""}))),
            TokenError::MissingClaim("sub".into()),
        ),
        (
            "not yet valid",
            sign(with(claims(), json!({"nbf": now() + 600}))),
            TokenError::NotYetValid,
        ),
        (
            "ID token",
            sign(with(
                claims(),
                json!({"token_use": "id", "aud": "client-1", "scope": null}),
            )),
            TokenError::NotAnAccessToken,
        ),
        (
            "no token_use (Cognito)",
            sign(with(claims(), json!({"token_use": null}))),
            TokenError::NotAnAccessToken,
        ),
        (
            "token for another resource",
            sign(with(claims(), json!({"aud": "https://other.example/mcp"}))),
            TokenError::WrongAudience,
        ),
        (
            "trailing slash is another resource",
            sign(with(claims(), json!({"aud": "http://127.0.0.1:8080/mcp/"}))),
            TokenError::WrongAudience,
        ),
        (
            "no aud and no scope of this resource",
            sign(with(
                claims(),
                json!({"aud": null, "scope": "openid https://other.example/mcp/mcp:read"}),
            )),
            TokenError::WrongAudience,
        ),
    ];
    let mut accepted = Vec::new();
    for (name, token, expected) in &corpus {
        match f.verifier.verify(token).await {
            Ok(p) => accepted.push(format!("{name}: accepted as {p:?}")),
            Err(e) => assert_eq!(&e, expected, "{name}"),
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
}

#[tokio::test]
async fn generic_profile_requires_aud() {
    let f = fixture(TokenProfile::Generic).await;
    let no_token_use = with(claims(), json!({"token_use": null}));
    assert!(
        f.verifier
            .verify(&f.key.sign(&no_token_use).unwrap())
            .await
            .is_ok()
    );
    let scope_only = with(
        claims(),
        json!({"aud": null, "scope": "http://127.0.0.1:8080/mcp/mcp:read"}),
    );
    assert_eq!(
        f.verifier.verify(&f.key.sign(&scope_only).unwrap()).await,
        Err(TokenError::WrongAudience)
    );
}

#[tokio::test]
async fn a_cached_verification_never_outlives_the_token() {
    let Fixture {
        key,
        _jwks,
        verifier,
    } = fixture_with_leeway(TokenProfile::Cognito, 0).await;
    let token = key
        .sign(&with(claims(), json!({"exp": now() + 1})))
        .unwrap();
    assert!(verifier.verify(&token).await.is_ok());
    assert!(
        verifier.verify(&token).await.is_ok(),
        "served from the cache"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(verifier.verify(&token).await, Err(TokenError::Expired));
}

#[tokio::test]
async fn a_flood_of_new_tokens_does_not_evict_the_tokens_in_use() {
    let (old_key, new_key) = (
        Rs256Key::generate("k1").unwrap(),
        Rs256Key::generate("k2").unwrap(),
    );
    let jwks = JwksServer::start(vec![old_key.public_jwk()]).await;
    let keys = JwksCache::new(
        jwks.url.clone(),
        reqwest::Client::new(),
        RefreshPolicy {
            min_refresh_interval: Duration::ZERO,
            max_age: Duration::from_secs(3600),
        },
    );
    keys.prime().await.unwrap();
    let policy = TokenPolicy {
        issuer: ISSUER.into(),
        resource: RESOURCE.parse().unwrap(),
        profile: TokenProfile::Cognito,
        leeway_secs: 30,
    };
    let verifier = TokenVerifier::new(policy, keys, 50);
    let in_use = old_key.sign(&claims()).unwrap();
    verifier.verify(&in_use).await.unwrap();
    // The authorization server withdraws the old key: from now on only a verification already
    // cached accepts a token signed with it.
    jwks.set_keys(vec![new_key.public_jwk()]);
    verifier
        .verify(&new_key.sign(&claims()).unwrap())
        .await
        .unwrap();
    let never_seen = with(claims(), json!({"sub": "never-seen"}));
    assert_eq!(
        verifier.verify(&old_key.sign(&never_seen).unwrap()).await,
        Err(TokenError::UnknownKey),
        "the old key is gone"
    );
    // Ten times more valid tokens than the cache holds, each presented once, while the token
    // in use goes on being used.
    for n in 0..500 {
        let one_shot = with(claims(), json!({"sub": format!("flood-{n}")}));
        verifier
            .verify(&new_key.sign(&one_shot).unwrap())
            .await
            .unwrap();
        if n % 10 == 0 {
            assert!(
                verifier.verify(&in_use).await.is_ok(),
                "the token in use was evicted after {n} new tokens"
            );
        }
    }
}
