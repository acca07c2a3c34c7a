//! `POST /token`: the façade's token endpoint.
//!
//! A code or refresh token is checked against the presenting client, its redirect URI, PKCE
//! verifier, scope and resource *before* it is spent, so a wrong client cannot lock the
//! rightful one out. A code redeemed twice, or a refresh token used after it was rotated,
//! revokes the refresh family issued from it (RFC 6749 section 4.1.2, OAuth 2.1 section 4.3.1).

mod code;
mod refresh;
mod reply;
mod retry;

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};

pub use refresh::{FAMILY_TTL, Family};
use reply::{TokenError, bad, unauthorized, unavailable};

use super::{
    clients::{AuthMethod, Client},
    state::{ClientError, Facade},
};
use crate::{
    oauth_request::{self, OAuthForm, Params, ParamsError},
    secret,
};

/// The token endpoint.
pub async fn token(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    let result = match form {
        Ok(OAuthForm(params)) => handle(&facade, &headers, &params).await,
        Err(e) => Err(bad("invalid_request", e.to_string())),
    };
    match result {
        Ok(body) => {
            let mut r = Json(body).into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(
    facade: &Facade,
    headers: &HeaderMap,
    params: &Params,
) -> Result<serde_json::Value, TokenError> {
    params
        .refuse_repeated()
        .map_err(|e| bad("invalid_request", e))?;
    let client = authenticate(
        facade,
        headers,
        params.get("client_id"),
        params.get("client_secret"),
    )
    .await?;
    match params.get("grant_type") {
        Some("authorization_code") => code::redeem(facade, &client, params).await,
        Some("refresh_token") => refresh::refresh(facade, &client, params).await,
        Some(other) => Err(bad(
            "unsupported_grant_type",
            format!("grant_type {other} is not supported"),
        )),
        None => Err(bad("invalid_request", "grant_type is required")),
    }
}

/// Authenticates the client as it registered (or, for a metadata document, as a public client).
async fn authenticate(
    facade: &Facade,
    headers: &HeaderMap,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<Client, TokenError> {
    let (client_id, secret, method) = match (oauth_request::basic_credentials(headers), body_secret)
    {
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_request",
                "use one client authentication method",
            ));
        }
        (Some(basic), None) => {
            let (id, secret) = basic.map_err(|()| unauthorized(AuthMethod::ClientSecretBasic))?;
            (id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        (None, Some(secret)) => (
            body_id.unwrap_or_default().to_owned(),
            Some(secret.to_owned()),
            AuthMethod::ClientSecretPost,
        ),
        (None, None) => (
            body_id.unwrap_or_default().to_owned(),
            None,
            AuthMethod::None,
        ),
    };
    if body_id.is_some_and(|b| b != client_id) {
        return Err(bad(
            "invalid_request",
            "client_id differs from the authenticated client",
        ));
    }
    let client = match facade.client(&client_id).await {
        Ok(c) => c,
        // The store being down says nothing about the client's credentials.
        Err(ClientError::Store(e)) => return Err(unavailable(e)),
        Err(_) => return Err(unauthorized(method)),
    };
    if client.auth_method != method {
        return Err(unauthorized(method));
    }
    match (&client.secret_sha256, secret) {
        (Some(hash), Some(given)) if secret::equal(hash, &secret::sha256_hex(&given)) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(unauthorized(method)),
    }
}
