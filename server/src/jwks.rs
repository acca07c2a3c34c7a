//! The authorization server's signing keys (JWKS), cached.
//!
//! - An unknown `kid` triggers a refresh, once at a time (single flight: concurrent requests
//!   wait for the one fetch) and at most once per `min_refresh_interval` (so a flood of tokens
//!   with made-up key ids cannot turn the server into a JWKS fetch amplifier).
//! - When the JWKS endpoint is down, the keys already known keep working.
//! - Keys older than `max_age` are refreshed in the background, so a key the AS withdrew stops
//!   being accepted.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
};
use url::Url;

/// A verification key and the one algorithm it may be used with.
pub struct VerifyingKey {
    /// The key.
    pub key: DecodingKey,
    /// RS256 for RSA keys, ES256 for P-256 keys: nothing else is accepted.
    pub algorithm: Algorithm,
}

/// Why a key could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// The JWKS has no such key, even after a refresh (or a refresh was not allowed yet).
    #[error("no signing key with id {0:?}")]
    UnknownKey(String),
    /// The JWKS could not be fetched and no key is known.
    #[error("the authorization server's keys are unavailable: {0}")]
    Unavailable(String),
}

/// Timing of refreshes.
#[derive(Debug, Clone, Copy)]
pub struct RefreshPolicy {
    /// No two fetches closer than this.
    pub min_refresh_interval: Duration,
    /// Keys older than this are refreshed in the background.
    pub max_age: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            min_refresh_interval: Duration::from_secs(30),
            max_age: Duration::from_secs(3600),
        }
    }
}

/// The cache; cheap to clone (shared).
#[derive(Clone)]
pub struct JwksCache(Arc<Inner>);

struct Inner {
    url: Url,
    http: reqwest::Client,
    policy: RefreshPolicy,
    keys: RwLock<Arc<Snapshot>>,
    // Held while fetching: the single flight. Holds the time of the last attempt.
    refresh: tokio::sync::Mutex<Option<Instant>>,
}

struct Snapshot {
    keys: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Option<Instant>,
}

impl JwksCache {
    /// A cache for the JWKS at `url`; nothing is fetched until [`JwksCache::prime`] or a lookup.
    pub fn new(url: Url, http: reqwest::Client, policy: RefreshPolicy) -> Self {
        Self(Arc::new(Inner {
            url,
            http,
            policy,
            keys: RwLock::new(Arc::new(Snapshot {
                keys: HashMap::new(),
                fetched_at: None,
            })),
            refresh: tokio::sync::Mutex::new(None),
        }))
    }

    /// The JWKS URL.
    pub fn url(&self) -> &Url {
        &self.0.url
    }

    /// Fetches the keys now (at start-up); returns how many usable keys there are.
    pub async fn prime(&self) -> Result<usize, JwksError> {
        let mut last = self.0.refresh.lock().await;
        *last = Some(Instant::now());
        self.fetch_and_store().await
    }

    /// The key for `kid`, refreshing the set when the id is unknown.
    pub async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, JwksError> {
        let snapshot = self.snapshot();
        if let Some(key) = snapshot.keys.get(kid) {
            if snapshot
                .fetched_at
                .is_some_and(|t| t.elapsed() > self.0.policy.max_age)
            {
                self.refresh_in_background();
            }
            return Ok(key.clone());
        }
        let mut last = self.0.refresh.lock().await;
        // Another request may have fetched the key while this one waited.
        if let Some(key) = self.snapshot().keys.get(kid) {
            return Ok(key.clone());
        }
        if last.is_some_and(|t| t.elapsed() < self.0.policy.min_refresh_interval) {
            return Err(self.missing(kid));
        }
        *last = Some(Instant::now());
        match self.fetch_and_store().await {
            Ok(_) => self
                .snapshot()
                .keys
                .get(kid)
                .cloned()
                .ok_or_else(|| self.missing(kid)),
            Err(e) if self.snapshot().keys.is_empty() => Err(e),
            Err(_) => Err(self.missing(kid)),
        }
    }

    fn missing(&self, kid: &str) -> JwksError {
        JwksError::UnknownKey(kid.to_owned())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.0.keys.read().expect("JWKS lock").clone()
    }

    fn refresh_in_background(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            let Ok(mut last) = this.0.refresh.try_lock() else {
                return;
            };
            if last.is_some_and(|t| t.elapsed() < this.0.policy.min_refresh_interval) {
                return;
            }
            *last = Some(Instant::now());
            let _ = this.fetch_and_store().await;
        });
    }

    async fn fetch_and_store(&self) -> Result<usize, JwksError> {
        let set = self.fetch().await.map_err(|e| {
            tracing::warn!(url = %self.0.url, error = %e, "JWKS fetch failed; keeping the keys already known");
            JwksError::Unavailable(e)
        })?;
        let keys: HashMap<_, _> = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, Arc::new(verifying_key(jwk)?))))
            .collect();
        let count = keys.len();
        tracing::debug!(url = %self.0.url, keys = count, "JWKS refreshed");
        *self.0.keys.write().expect("JWKS lock") = Arc::new(Snapshot {
            keys,
            fetched_at: Some(Instant::now()),
        });
        Ok(count)
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let response = self
            .0
            .http
            .get(self.0.url.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        if bytes.len() > 256 * 1024 {
            return Err("JWKS larger than 256 KiB".into());
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("not a JWK set: {e}"))
    }
}

/// Turns a JWK into a key pinned to one algorithm; keys for other uses or algorithms are
/// dropped, so a token can never pick an algorithm the key was not meant for.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => algorithm == Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => algorithm == Algorithm::ES256,
        Some(_) => false,
    };
    if !declared_ok {
        return None;
    }
    Some(VerifyingKey {
        key: DecodingKey::from_jwk(jwk).ok()?,
        algorithm,
    })
}
