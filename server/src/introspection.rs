//! Token introspection (RFC 7662) for authorization servers that issue opaque access tokens.
//!
//! A token that is not a JWS goes to the introspection endpoint, with this resource server's
//! own client credentials. The answer must say `active`, name our issuer (when it names one),
//! be unexpired, and bind the token to this resource through `aud`. Positive answers are cached
//! for at most a minute and never past the token's expiry, so a revoked token stops working
//! within that minute; negative answers are not cached.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use serde::Deserialize;
use url::Url;

use crate::{
    access_token::{Principal, TokenError, TokenPolicy},
    scope::ScopeSet,
    secret,
};

/// Where and how to introspect.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// The introspection endpoint.
    pub endpoint: Url,
    /// This resource server's client id there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// Longest time an answer is reused.
    pub max_cache: Duration,
    /// Most answers kept.
    pub cache_capacity: usize,
}

/// Introspects tokens, with a bounded cache.
pub struct Introspector {
    config: IntrospectionConfig,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (Principal, Instant)>>,
}

#[derive(Deserialize)]
struct Answer {
    active: bool,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

impl Introspector {
    /// An introspector.
    pub fn new(config: IntrospectionConfig) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .expect("an HTTP client with static settings");
        Self {
            config,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// What the authorization server says of `token`.
    pub async fn introspect(
        &self,
        token: &str,
        policy: &TokenPolicy,
        now: u64,
    ) -> Result<Principal, TokenError> {
        let key = secret::sha256_hex(token);
        if let Some((p, until)) = self.cache.lock().expect("introspection cache").get(&key)
            && Instant::now() < *until
        {
            return Ok(p.clone());
        }
        let response = self
            .http
            .post(self.config.endpoint.clone())
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "introspection endpoint unreachable");
                TokenError::KeysUnavailable
            })?;
        if !response.status().is_success() {
            tracing::warn!(status = %response.status(), "introspection refused our request");
            return Err(TokenError::KeysUnavailable);
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|_| TokenError::KeysUnavailable)?;
        let principal = check(answer, policy, now)?;
        let ttl = Duration::from_secs(principal.expires_at.saturating_sub(now))
            .min(self.config.max_cache);
        let mut cache = self.cache.lock().expect("introspection cache");
        if cache.len() >= self.config.cache_capacity {
            let t = Instant::now();
            cache.retain(|_, (_, until)| *until > t);
            if cache.len() >= self.config.cache_capacity {
                cache.clear();
            }
        }
        if self.config.cache_capacity > 0 {
            cache.insert(key, (principal.clone(), Instant::now() + ttl));
        }
        Ok(principal)
    }
}

fn check(a: Answer, policy: &TokenPolicy, now: u64) -> Result<Principal, TokenError> {
    if !a.active {
        return Err(TokenError::Inactive);
    }
    if a.iss.as_deref().is_some_and(|iss| iss != policy.issuer) {
        return Err(TokenError::WrongIssuer);
    }
    let exp = a
        .exp
        .ok_or_else(|| TokenError::MissingClaim("exp".into()))?;
    if exp + policy.leeway_secs <= now {
        return Err(TokenError::Expired);
    }
    if a.nbf.is_some_and(|nbf| nbf > now + policy.leeway_secs) {
        return Err(TokenError::NotYetValid);
    }
    let bound = match &a.aud {
        Some(serde_json::Value::String(s)) => policy.resource.matches(s),
        Some(serde_json::Value::Array(v)) => v
            .iter()
            .filter_map(|x| x.as_str())
            .any(|s| policy.resource.matches(s)),
        _ => false,
    };
    if !bound {
        return Err(TokenError::WrongAudience);
    }
    Ok(Principal {
        subject: a
            .sub
            .or_else(|| a.username.clone())
            .ok_or_else(|| TokenError::MissingClaim("sub".into()))?,
        client_id: a.client_id,
        username: a.username,
        scopes: ScopeSet::parse(a.scope.as_deref().unwrap_or_default()),
        expires_at: exp,
    })
}
