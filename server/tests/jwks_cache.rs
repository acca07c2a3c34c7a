//! The JWKS cache: refresh on unknown kid, single flight, rate limit, serving while down.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{sync::Arc, time::Duration};

use mcp_auth_server::{
    jwks::{JwksCache, JwksError, RefreshPolicy},
    signing::Rs256Key,
};
use support::jwks::JwksServer;

fn policy(min_refresh_ms: u64) -> RefreshPolicy {
    RefreshPolicy {
        min_refresh_interval: Duration::from_millis(min_refresh_ms),
        max_age: Duration::from_secs(3600),
    }
}

#[tokio::test]
async fn an_unknown_kid_refreshes_once_then_is_rate_limited() {
    let k1 = Rs256Key::generate("k1").unwrap();
    let server = JwksServer::start(vec![k1.public_jwk()]).await;
    let cache = JwksCache::new(server.url.clone(), reqwest::Client::new(), policy(60_000));
    assert_eq!(cache.prime().await.unwrap(), 1);
    assert_eq!(server.fetches(), 1);
    assert!(cache.key("k1").await.is_ok());
    assert_eq!(server.fetches(), 1, "a known kid needs no fetch");
    // The AS rotates in k2, but the last fetch was just now: made-up kids cannot force fetches.
    let k2 = Rs256Key::generate("k2").unwrap();
    server.set_keys(vec![k1.public_jwk(), k2.public_jwk()]);
    for _ in 0..20 {
        assert_eq!(
            cache.key("made-up").await.err(),
            Some(JwksError::UnknownKey("made-up".into()))
        );
    }
    assert_eq!(server.fetches(), 1, "rate limited");
}

#[tokio::test]
async fn rotation_is_picked_up_and_concurrent_lookups_share_one_fetch() {
    let k1 = Rs256Key::generate("k1").unwrap();
    let server = JwksServer::start(vec![k1.public_jwk()]).await;
    let cache = JwksCache::new(server.url.clone(), reqwest::Client::new(), policy(0));
    cache.prime().await.unwrap();
    let k2 = Rs256Key::generate("k2").unwrap();
    server.set_keys(vec![k1.public_jwk(), k2.public_jwk()]);
    let lookups: Vec<_> = (0..32)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.key("k2").await.is_ok() })
        })
        .collect();
    for l in lookups {
        assert!(l.await.unwrap());
    }
    assert_eq!(
        server.fetches(),
        2,
        "32 concurrent lookups of a new kid, one fetch"
    );
}

#[tokio::test]
async fn known_keys_keep_working_while_the_jwks_is_down() {
    let k1 = Rs256Key::generate("k1").unwrap();
    let server = JwksServer::start(vec![k1.public_jwk()]).await;
    let cache = JwksCache::new(server.url.clone(), reqwest::Client::new(), policy(0));
    cache.prime().await.unwrap();
    server.set_down(true);
    assert!(cache.key("k1").await.is_ok());
    assert_eq!(
        cache.key("k9").await.err(),
        Some(JwksError::UnknownKey("k9".into()))
    );
    assert!(
        cache.key("k1").await.is_ok(),
        "a failed refresh drops nothing"
    );
}

#[tokio::test]
async fn with_no_keys_at_all_the_jwks_is_reported_unavailable() {
    let server = JwksServer::start(vec![]).await;
    server.set_down(true);
    let cache = JwksCache::new(server.url.clone(), reqwest::Client::new(), policy(0));
    assert!(matches!(
        cache.prime().await,
        Err(JwksError::Unavailable(_))
    ));
    assert!(matches!(
        cache.key("k1").await,
        Err(JwksError::Unavailable(_))
    ));
}

#[tokio::test]
async fn keys_for_other_algorithms_or_uses_are_dropped() {
    let k1 = Rs256Key::generate("k1").unwrap();
    let mut enc = Rs256Key::generate("enc").unwrap().public_jwk();
    enc["use"] = "enc".into();
    let mut rs512 = Rs256Key::generate("rs512").unwrap().public_jwk();
    rs512["alg"] = "RS512".into();
    let hmac = serde_json::json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"});
    let server = JwksServer::start(vec![k1.public_jwk(), enc, rs512, hmac]).await;
    let cache = Arc::new(JwksCache::new(
        server.url.clone(),
        reqwest::Client::new(),
        policy(60_000),
    ));
    assert_eq!(
        cache.prime().await.unwrap(),
        1,
        "only the RS256 signing key is usable"
    );
}
