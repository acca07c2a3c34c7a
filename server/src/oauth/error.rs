//! OAuth errors that render themselves: the codes of RFC 6749 (sections 4.1.2.1 and 5.2) and
//! RFC 8707, and the token endpoint's error answer.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// An OAuth error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_request`: a parameter missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the code or refresh token is unknown, spent, or someone else's.
    InvalidGrant,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `unsupported_response_type`.
    UnsupportedResponseType,
    /// `invalid_scope`.
    InvalidScope,
    /// `invalid_target` (RFC 8707): a resource this server does not issue tokens for.
    InvalidTarget,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The token endpoint's status for it: 401 for a failed client authentication (RFC 6749
    /// section 5.2), 500 and 503 for the server's own failures, 400 otherwise.
    pub fn token_status(self) -> StatusCode {
        match self {
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error code and a fixed description, for checks that do not echo the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthError {
    /// The code.
    pub code: ErrorCode,
    /// What was wrong.
    pub description: &'static str,
}

impl OAuthError {
    /// `code`, because `description`.
    pub const fn new(code: ErrorCode, description: &'static str) -> Self {
        Self { code, description }
    }
}

/// A token (or revocation) endpoint's error answer (RFC 6749 section 5.2): JSON, never cached,
/// with the challenge of the scheme a failed client authentication used, and when to retry a
/// temporary failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    code: ErrorCode,
    description: String,
    /// `Basic realm="…"`, for a client that failed to authenticate with HTTP Basic.
    basic_realm: Option<&'static str>,
    retry_after_secs: Option<u64>,
}

impl TokenError {
    /// `code`, because `description`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic_realm: None,
            retry_after_secs: None,
        }
    }

    /// With a `WWW-Authenticate: Basic realm="…"` challenge.
    pub fn with_basic_challenge(mut self, realm: &'static str) -> Self {
        self.basic_realm = Some(realm);
        self
    }

    /// With `Retry-After`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<OAuthError> for TokenError {
    fn from(e: OAuthError) -> Self {
        Self::new(e.code, e.description)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let mut response = (self.code.token_status(), Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(realm) = self.basic_realm
            && let Ok(v) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
        {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        response
    }
}

/// A token endpoint's success answer (RFC 6749 section 5.1): JSON, never cached.
pub fn token_response(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A peer's value as an error message shows it: quoted, and cut after 100 characters, so a
/// megabyte sent is not a megabyte answered or logged.
pub fn shown(value: &str) -> String {
    match value.char_indices().nth(100) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_renders_its_code_status_and_headers() {
        let r = TokenError::new(ErrorCode::InvalidClient, "client authentication failed")
            .with_basic_challenge("token")
            .into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"token\""
        );
        let r = TokenError::new(ErrorCode::TemporarilyUnavailable, "try again")
            .retry_after(5)
            .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "5");
        assert!(!r.headers().contains_key(header::WWW_AUTHENTICATE));
        for (code, status) in [
            (ErrorCode::InvalidGrant, 400),
            (ErrorCode::InvalidTarget, 400),
            (ErrorCode::ServerError, 500),
        ] {
            assert_eq!(code.token_status().as_u16(), status, "{code}");
        }
    }
}
