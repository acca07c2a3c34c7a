//! What the token endpoint answers: a token response (RFC 6749 section 5.1) or an error
//! (section 5.2), whichever grant was asked for.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::{
    facade::{
        clients::AuthMethod, pages::RETRY_AFTER_SECS, store::StoreError, upstream::UpstreamTokens,
    },
    scope::ScopeSet,
};

/// An RFC 6749 section 5.2 error.
#[derive(Debug)]
pub struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// The client failed to authenticate with HTTP Basic: RFC 6749 section 5.2 asks for the
    /// challenge of the scheme it used.
    basic_challenge: bool,
}

pub(super) fn bad(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
        basic_challenge: false,
    }
}

/// The store failed: 503 and a generic description; the detail goes to the log only.
pub(super) fn unavailable(e: StoreError) -> TokenError {
    tracing::error!(error = %e, "the state store failed at the token endpoint");
    TokenError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: "temporarily_unavailable",
        description: "the authorization server is temporarily unavailable; try again".into(),
        basic_challenge: false,
    }
}

/// `invalid_client` for a client that authenticated with `method`.
pub(super) fn unauthorized(method: AuthMethod) -> TokenError {
    TokenError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed".into(),
        basic_challenge: method == AuthMethod::ClientSecretBasic,
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut r = (self.status, Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        if self.basic_challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        r
    }
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
