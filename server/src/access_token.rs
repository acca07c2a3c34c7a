//! Validating access tokens (OAuth 2.1 section 5.2, RFC 8707 audience binding, RFC 9068 shape).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;

use crate::{
    jwks::{JwksCache, JwksError},
    resource::ResourceUri,
    scope::ScopeSet,
};

/// How tokens from this authorization server look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProfile {
    /// Cognito (and the development AS, which imitates it): `token_use` must be `access`; `aud`
    /// is present only when the client asked for a resource, otherwise a scope of the resource
    /// server (`<resource>/<name>`) binds the token to this resource.
    Cognito,
    /// Any other authorization server: `aud` must name this resource.
    Generic,
}

/// What a valid token must satisfy.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// The exact `iss`.
    pub issuer: String,
    /// This server's resource URI: the audience.
    pub resource: ResourceUri,
    /// The token shape.
    pub profile: TokenProfile,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

/// Who is calling, from a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `sub`.
    pub subject: String,
    /// `client_id` (Cognito, RFC 9068).
    pub client_id: Option<String>,
    /// `username` (Cognito), when present.
    pub username: Option<String>,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
}

/// Why a token was refused; every message is safe to send back (none contains the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWS compact serialization, or bad JSON inside.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// `alg` outside the allow-list (RS256, ES256).
    #[error("the token's algorithm {0} is not accepted (RS256 or ES256 only)")]
    AlgorithmNotAllowed(String),
    /// No `kid` in the header.
    #[error("the token names no signing key (kid)")]
    NoKeyId,
    /// The key is not in the JWKS.
    #[error("the token's signing key is unknown")]
    UnknownKey,
    /// The JWKS could not be fetched and no key is known.
    #[error("the authorization server's keys are unavailable; try again later")]
    KeysUnavailable,
    /// The header's algorithm does not fit the key.
    #[error("the token's algorithm does not match its key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iss` is not our authorization server.
    #[error("the token was issued by another authorization server")]
    WrongIssuer,
    /// A required claim is missing.
    #[error("the token lacks the {0} claim")]
    MissingClaim(String),
    /// An ID token or other non-access token.
    #[error("the token is not an access token")]
    NotAnAccessToken,
    /// Issued for another resource.
    #[error("the token was not issued for this resource")]
    WrongAudience,
    /// Introspection says the token is not active (revoked, expired, or unknown).
    #[error("the token is not active")]
    Inactive,
}

// `sub` and `exp` are optional here only so that jsonwebtoken's required-claims check (which
// runs after deserialization) reports which one is missing.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    aud: Option<OneOrMany>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    token_use: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn any(&self, f: impl Fn(&str) -> bool) -> bool {
        match self {
            OneOrMany::One(s) => f(s),
            OneOrMany::Many(v) => v.iter().any(|s| f(s)),
        }
    }
}

/// Verifies tokens against a policy and the AS's keys, remembering tokens already verified
/// until they expire; opaque tokens go to introspection when it is configured.
pub struct TokenVerifier {
    policy: TokenPolicy,
    jwks: JwksCache,
    verified: VerifiedCache,
    introspector: Option<crate::introspection::Introspector>,
}

impl TokenVerifier {
    /// A verifier; `cache_capacity` bounds the verified-token cache.
    pub fn new(policy: TokenPolicy, jwks: JwksCache, cache_capacity: usize) -> Self {
        Self {
            policy,
            jwks,
            verified: VerifiedCache::new(cache_capacity),
            introspector: None,
        }
    }

    /// Sends tokens that are not JWTs to RFC 7662 introspection.
    pub fn with_introspection(mut self, introspector: crate::introspection::Introspector) -> Self {
        self.introspector = Some(introspector);
        self
    }

    /// The policy.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// Verifies `token` and returns who it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let now = now_secs();
        let fingerprint = fingerprint(token);
        if let Some(principal) = self.verified.get(&fingerprint, now) {
            return Ok(principal);
        }
        if let Some(introspector) = &self.introspector
            && !looks_like_jws(token)
        {
            // Introspection keeps its own, shorter cache: a revocation must show within it.
            return introspector.introspect(token, &self.policy, now).await;
        }
        let principal = self.verify_uncached(token).await?;
        self.verified.insert(fingerprint, principal.clone(), now);
        Ok(principal)
    }

    /// Full verification, without the cache (what a cache miss costs).
    pub async fn verify_uncached(&self, token: &str) -> Result<Principal, TokenError> {
        let header = decode_header(token).map_err(|_| match declared_algorithm(token) {
            // e.g. "none", which the JWT library does not even model: say so, not "malformed".
            Some(alg) => TokenError::AlgorithmNotAllowed(alg),
            None => TokenError::Malformed,
        })?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(TokenError::AlgorithmNotAllowed(format!("{:?}", header.alg)));
        }
        let kid = header.kid.as_deref().ok_or(TokenError::NoKeyId)?;
        let key = self.jwks.key(kid).await.map_err(|e| match e {
            JwksError::UnknownKey(_) => TokenError::UnknownKey,
            JwksError::Unavailable(_) => TokenError::KeysUnavailable,
        })?;
        if key.algorithm != header.alg {
            return Err(TokenError::AlgorithmMismatch);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.policy.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = self.policy.leeway_secs;
        validation.validate_nbf = true;
        // The audience rules differ by profile; they are applied below.
        validation.validate_aud = false;
        let claims = decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
                ErrorKind::InvalidAlgorithm => TokenError::AlgorithmMismatch,
                _ => TokenError::Malformed,
            })?
            .claims;
        self.check_claims(claims)
    }

    fn check_claims(&self, claims: Claims) -> Result<Principal, TokenError> {
        let policy = &self.policy;
        match (policy.profile, claims.token_use.as_deref()) {
            (_, Some("access")) => {}
            (TokenProfile::Generic, None) => {}
            _ => return Err(TokenError::NotAnAccessToken),
        }
        let scopes = ScopeSet::parse(claims.scope.as_deref().unwrap_or_default());
        let bound = match (&claims.aud, policy.profile) {
            (Some(aud), _) => aud.any(|a| policy.resource.matches(a)),
            (None, TokenProfile::Cognito) => scopes.any_under(&policy.resource),
            (None, TokenProfile::Generic) => false,
        };
        if !bound {
            return Err(TokenError::WrongAudience);
        }
        Ok(Principal {
            subject: claims
                .sub
                .ok_or_else(|| TokenError::MissingClaim("sub".into()))?,
            client_id: claims.client_id,
            username: claims.username,
            scopes,
            expires_at: claims
                .exp
                .ok_or_else(|| TokenError::MissingClaim("exp".into()))?,
        })
    }
}

/// Whether a token has the three dot-separated parts of a JWS compact serialization.
fn looks_like_jws(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The `alg` a token's header declares, read without trusting anything else in it.
fn declared_algorithm(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let alg = value.get("alg")?.as_str()?;
    // Echoed in an error description: keep it short and printable.
    Some(
        alg.chars()
            .filter(|c| c.is_ascii_graphic())
            .take(16)
            .collect(),
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

type Fingerprint = [u8; 32];

fn fingerprint(token: &str) -> Fingerprint {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    digest.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Tokens already verified, by SHA-256 of the token (the token itself is never kept), valid
/// until the token's own expiry. Bounded: when full, expired entries go first, then all.
struct VerifiedCache {
    capacity: usize,
    entries: Mutex<HashMap<Fingerprint, Principal>>,
}

impl VerifiedCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))),
        }
    }

    fn get(&self, fingerprint: &Fingerprint, now: u64) -> Option<Principal> {
        let entries = self.entries.lock().expect("token cache lock");
        entries
            .get(fingerprint)
            .filter(|p| p.expires_at > now)
            .cloned()
    }

    fn insert(&self, fingerprint: Fingerprint, principal: Principal, now: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().expect("token cache lock");
        if entries.len() >= self.capacity {
            entries.retain(|_, p| p.expires_at > now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(fingerprint, principal);
    }
}
