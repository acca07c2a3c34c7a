//! The façade's own HTML answers: for requests whose client or redirect URI cannot be trusted
//! with a redirect, a store that failed, and an address that asked too often.

use std::time::Duration;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::store;

/// Seconds a client is asked to wait when the state store is unavailable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// An HTML error page: for requests whose client or redirect URI cannot be trusted with a
/// redirect, and for people who landed somewhere they should not have.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    crate::html::error_page(status, message).into_response()
}

/// The page shown when the state store failed: 503 with `Retry-After`, the detail only in the
/// log (it can hold the backend's own error text).
pub fn store_unavailable_page(e: &store::StoreError) -> Response {
    tracing::error!(error = %e, "the state store failed");
    let mut response = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "the authorization server is temporarily unavailable; try again in a moment",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// The page shown when too many requests came from one address.
pub fn too_many_requests_page(wait: Duration) -> Response {
    let mut response = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests from this address; try again later",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    response
}

/// Why a browser-facing endpoint answers with a page of its own, never a redirect.
#[derive(Debug)]
pub enum PageRefusal {
    /// The request, its client or its redirect URI is in doubt: 400 saying what.
    BadRequest(String),
    /// The request did not come from the browser, the page or the site it must: 403 saying what.
    Forbidden(&'static str),
    /// The state store failed: 503.
    StoreUnavailable(store::StoreError),
    /// Too many requests from this address: 429.
    TooManyRequests(Duration),
}

impl PageRefusal {
    /// The page.
    pub fn page(&self) -> Response {
        match self {
            Self::BadRequest(message) => error_page(StatusCode::BAD_REQUEST, message),
            Self::Forbidden(message) => error_page(StatusCode::FORBIDDEN, message),
            Self::StoreUnavailable(e) => store_unavailable_page(e),
            Self::TooManyRequests(wait) => too_many_requests_page(*wait),
        }
    }
}
