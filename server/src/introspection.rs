//! Token introspection (RFC 7662) for authorization servers that issue opaque access tokens.
//!
//! A token that is not a JWS goes to the introspection endpoint, with this resource server's
//! own client credentials. The answer must say `active`, name our issuer (when it names one),
//! be unexpired, and bind the token to this resource through `aud`. Positive answers are cached
//! for at most a minute and never past the token's expiry, so a revoked token stops working
//! within that minute; negative answers are not cached.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::{
    access_token::{MAX_REMAINING_LIFETIME, OpaqueTokens, Principal, TokenError, TokenPolicy},
    expiring::ExpiringCache,
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
    /// Positive answers, by SHA-256 of the token.
    cache: ExpiringCache<String, Principal>,
}

#[async_trait::async_trait]
impl OpaqueTokens for Introspector {
    async fn principal(
        &self,
        token: &str,
        policy: &TokenPolicy,
        now: u64,
    ) -> Result<Principal, TokenError> {
        self.introspect(token, policy, now).await
    }
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
        let cache = ExpiringCache::new(config.cache_capacity as u64);
        Self {
            config,
            http,
            cache,
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
        if let Some(principal) = self.cache.get(&key) {
            return Ok(principal);
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
        self.cache.insert(key, principal.clone(), ttl);
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
    if exp > now + MAX_REMAINING_LIFETIME.as_secs() + policy.leeway_secs {
        return Err(TokenError::ExpiryTooFar);
    }
    if a.nbf.is_some_and(|nbf| nbf > now + policy.leeway_secs) {
        return Err(TokenError::NotYetValid);
    }
    // Exact strings, as for JWTs: no URL normalisation.
    let resource = policy.resource.as_str();
    let bound = match &a.aud {
        Some(serde_json::Value::String(s)) => s == resource,
        Some(serde_json::Value::Array(v)) => v.iter().any(|x| x.as_str() == Some(resource)),
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
