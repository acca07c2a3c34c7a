//! What the token endpoint answers: a token response (RFC 6749 section 5.1) or an error
//! (section 5.2), whichever grant was asked for.

use crate::{
    facade::{pages::RETRY_AFTER_SECS, store::StoreError, upstream::UpstreamTokens},
    oauth::{ErrorCode, TokenError},
    scope::ScopeSet,
};

/// The store failed: 503 and a generic description; the detail goes to the log only.
pub(super) fn unavailable(e: StoreError) -> TokenError {
    tracing::error!(error = %e, "the state store failed at the token endpoint");
    TokenError::new(
        ErrorCode::TemporarilyUnavailable,
        "the authorization server is temporarily unavailable; try again",
    )
    .retry_after(RETRY_AFTER_SECS)
}

/// A token response (RFC 6749 section 5.1).
pub(super) fn body(
    tokens: &UpstreamTokens,
    scope: &ScopeSet,
    refresh_token: Option<String>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "scope": scope.to_string(),
    });
    if let Some(expires_in) = tokens.expires_in {
        body["expires_in"] = expires_in.into();
    }
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = refresh_token.into();
    }
    body
}
