//! Validating access tokens (OAuth 2.1 section 5.2, RFC 8707 audience binding, RFC 9068 shape).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, Validation, decode, errors::ErrorKind};
use serde::Deserialize;

use crate::{
    expiring::ExpiringCache,
    jwks::{JwksCache, JwksError},
    resource::ResourceUri,
    scope::ScopeSet,
};

/// The longest an access token may still have to live when it is presented: Cognito's own
/// ceiling for access tokens (one day). A token valid for longer is refused rather than trusted
/// (and cached) for however long its issuer wrote; iat is not needed, so it cannot be bent.
pub const MAX_REMAINING_LIFETIME: Duration = Duration::from_secs(24 * 3600);

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
    /// Not a JWS compact serialization (three dot-separated parts), or bad JSON inside.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header lists critical extensions (`crit`), none of which this server understands
    /// (RFC 7515 section 4.1.11).
    #[error(
        "the token's header marks extensions critical (crit) that this server does not support"
    )]
    CriticalExtension,
    /// A claim has the wrong JSON type (e.g. an `iss` that is an array).
    #[error("the token's {claim} claim is not {expected}")]
    ClaimType {
        /// The claim.
        claim: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `exp` is further away than [`MAX_REMAINING_LIFETIME`].
    #[error("the token expires more than a day from now, longer than any access token may live")]
    ExpiryTooFar,
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

impl TokenError {
    /// The kind of refusal, without its details: what refusals are counted by.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed",
            TokenError::CriticalExtension => "critical extension",
            TokenError::ClaimType { .. } => "claim of the wrong type",
            TokenError::ExpiryTooFar => "expiry too far",
            TokenError::AlgorithmNotAllowed(_) => "algorithm not accepted",
            TokenError::NoKeyId => "no kid",
            TokenError::UnknownKey => "unknown key",
            TokenError::KeysUnavailable => "keys unavailable",
            TokenError::AlgorithmMismatch => "algorithm mismatch",
            TokenError::BadSignature => "bad signature",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not yet valid",
            TokenError::WrongIssuer => "wrong issuer",
            TokenError::MissingClaim(_) => "missing claim",
            TokenError::NotAnAccessToken => "not an access token",
            TokenError::WrongAudience => "wrong audience",
            TokenError::Inactive => "inactive",
        }
    }
}

// `sub` and `exp` are optional here only so that jsonwebtoken's required-claims check (which
// runs after deserialization) reports which one is missing.
#[derive(Deserialize)]
struct Claims {
    // Any JSON here: jsonwebtoken accepts an array `iss` that contains ours; we do not.
    #[serde(default)]
    iss: Option<serde_json::Value>,
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
    /// Whether `value` is one of the audiences, compared as exact strings (RFC 7519 section
    /// 4.1.3: no URL normalisation, so `/x/../mcp` or a decimal IP address is not this resource).
    fn contains(&self, value: &str) -> bool {
        match self {
            OneOrMany::One(s) => s == value,
            OneOrMany::Many(v) => v.iter().any(|s| s == value),
        }
    }
}

/// What the server reads from a JWS header before trusting anything else in the token.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    /// Only its presence matters: no extension is understood here.
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

/// Verifies tokens against a policy and the AS's keys, remembering tokens already verified
/// until they expire; opaque tokens go to introspection when it is configured.
pub struct TokenVerifier {
    policy: TokenPolicy,
    jwks: JwksCache,
    /// Tokens already verified, by SHA-256 of the token (the token itself is never kept), until
    /// the token's own expiry.
    verified: ExpiringCache<Fingerprint, Principal>,
    introspector: Option<Box<dyn OpaqueTokens>>,
}

/// Who an opaque access token (not a JWT) speaks for, asked of its issuer: RFC 7662
/// introspection (`crate::introspection`).
#[async_trait::async_trait]
pub trait OpaqueTokens: Send + Sync {
    /// The token's principal under `policy`, at `now` (seconds since the epoch).
    async fn principal(
        &self,
        token: &str,
        policy: &TokenPolicy,
        now: u64,
    ) -> Result<Principal, TokenError>;
}

impl TokenVerifier {
    /// A verifier; `cache_capacity` bounds the verified-token cache.
    pub fn new(policy: TokenPolicy, jwks: JwksCache, cache_capacity: usize) -> Self {
        Self {
            policy,
            jwks,
            verified: ExpiringCache::new(cache_capacity as u64),
            introspector: None,
        }
    }

    /// Sends tokens that are not JWTs to RFC 7662 introspection.
    pub fn with_introspection(mut self, introspector: impl OpaqueTokens + 'static) -> Self {
        self.introspector = Some(Box::new(introspector));
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
        if let Some(principal) = self
            .verified
            .get(&fingerprint)
            .filter(|p| p.expires_at > now)
        {
            return Ok(principal);
        }
        if let Some(introspector) = &self.introspector
            && !looks_like_jws(token)
        {
            // Introspection keeps its own, shorter cache: a revocation must show within it.
            return introspector.principal(token, &self.policy, now).await;
        }
        let principal = self.verify_uncached(token).await?;
        let ttl = Duration::from_secs(principal.expires_at.saturating_sub(now));
        self.verified.insert(fingerprint, principal.clone(), ttl);
        Ok(principal)
    }

    /// Full verification, without the cache (what a cache miss costs).
    pub async fn verify_uncached(&self, token: &str) -> Result<Principal, TokenError> {
        let (alg, kid) = read_header(token)?;
        let key = self.jwks.key(&kid).await.map_err(|e| match e {
            JwksError::UnknownKey(_) => TokenError::UnknownKey,
            JwksError::Unavailable(_) => TokenError::KeysUnavailable,
        })?;
        if key.algorithm != alg {
            return Err(TokenError::AlgorithmMismatch);
        }
        let mut validation = Validation::new(key.algorithm);
        // `iss` is checked below, as a string: jsonwebtoken would take an array containing ours.
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = self.policy.leeway_secs;
        validation.validate_nbf = true;
        // The audience rules differ by profile; they are applied below.
        validation.validate_aud = false;
        let claims = decode::<Claims>(token, &key.key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
                ErrorKind::InvalidAlgorithm => TokenError::AlgorithmMismatch,
                _ => TokenError::Malformed,
            })?
            .claims;
        self.check_claims(claims)
    }

    fn check_claims(&self, claims: Claims) -> Result<Principal, TokenError> {
        let policy = &self.policy;
        match &claims.iss {
            Some(serde_json::Value::String(iss)) if *iss == policy.issuer => {}
            Some(serde_json::Value::String(_)) => return Err(TokenError::WrongIssuer),
            Some(_) => {
                return Err(TokenError::ClaimType {
                    claim: "iss",
                    expected: "a string",
                });
            }
            None => return Err(TokenError::MissingClaim("iss".into())),
        }
        let expires_at = claims
            .exp
            .ok_or_else(|| TokenError::MissingClaim("exp".into()))?;
        if expires_at > now_secs() + MAX_REMAINING_LIFETIME.as_secs() + policy.leeway_secs {
            return Err(TokenError::ExpiryTooFar);
        }
        match (policy.profile, claims.token_use.as_deref()) {
            (_, Some("access")) => {}
            (TokenProfile::Generic, None) => {}
            _ => return Err(TokenError::NotAnAccessToken),
        }
        let scopes = ScopeSet::parse(claims.scope.as_deref().unwrap_or_default());
        let bound = match (&claims.aud, policy.profile) {
            (Some(aud), _) => aud.contains(policy.resource.as_str()),
            (None, TokenProfile::Cognito) => scopes.any_under(&policy.resource),
            (None, TokenProfile::Generic) => false,
        };
        if !bound {
            return Err(TokenError::WrongAudience);
        }
        Ok(Principal {
            // An empty `sub` names nobody: sessions bound to it would be everyone's.
            subject: claims
                .sub
                .filter(|s| !s.is_empty())
                .ok_or_else(|| TokenError::MissingClaim("sub".into()))?,
            client_id: claims.client_id,
            username: claims.username,
            scopes,
            expires_at,
        })
    }
}

/// Whether a token has the three dot-separated parts of a JWS compact serialization.
fn looks_like_jws(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The algorithm and key id a JWS header declares, refusing what this server never accepts
/// before any key is looked up: another shape, another algorithm, critical extensions.
fn read_header(token: &str) -> Result<(Algorithm, String), TokenError> {
    if !looks_like_jws(token) {
        return Err(TokenError::Malformed);
    }
    let encoded = token.split('.').next().unwrap_or_default();
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    let alg = header.alg.ok_or(TokenError::Malformed)?;
    let alg = match alg.as_str() {
        "RS256" => Algorithm::RS256,
        "ES256" => Algorithm::ES256,
        // e.g. "none" or "HS256": say which, kept short and printable, since it is echoed.
        other => {
            return Err(TokenError::AlgorithmNotAllowed(
                other
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(16)
                    .collect(),
            ));
        }
    };
    // Every extension this server would have to understand is one it does not: refuse them all,
    // an empty list included (RFC 7515 section 4.1.11 forbids producing one).
    if header.crit.is_some() {
        return Err(TokenError::CriticalExtension);
    }
    let kid = header.kid.ok_or(TokenError::NoKeyId)?;
    Ok((alg, kid))
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
