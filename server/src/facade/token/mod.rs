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

use axum::{extract::State, http::HeaderMap, response::IntoResponse, response::Response};

pub use refresh::{FAMILY_TTL, Family};
use reply::unavailable;

use super::{
    clients::{AuthMethod, Client},
    state::{ClientError, Facade},
};
use crate::{
    oauth::{
        ErrorCode, Grant, OAuthForm, Params, ParamsError, Presented, Scheme, TokenError,
        token_response,
    },
    secret,
};

/// The realm of the Basic challenge a failed client authentication gets.
const REALM: &str = "token";

/// The token endpoint.
pub async fn token(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    let result = match form {
        Ok(OAuthForm(params)) => handle(&facade, &headers, &params).await,
        Err(e) => Err(TokenError::new(ErrorCode::InvalidRequest, e.to_string())),
    };
    match result {
        Ok(body) => token_response(body),
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
        .map_err(|e| TokenError::new(ErrorCode::InvalidRequest, e))?;
    let client = authenticate(facade, &Presented::read(headers, params, REALM)?).await?;
    match Grant::of(params)? {
        Grant::AuthorizationCode => code::redeem(facade, &client, params).await,
        Grant::RefreshToken => refresh::refresh(facade, &client, params).await,
    }
}

/// Authenticates the client as it registered (or, for a metadata document, as a public client).
async fn authenticate(facade: &Facade, presented: &Presented) -> Result<Client, TokenError> {
    let client = match facade.client(&presented.client_id).await {
        Ok(c) => c,
        // The store being down says nothing about the client's credentials.
        Err(ClientError::Store(e)) => return Err(unavailable(e)),
        Err(_) => return Err(presented.refused()),
    };
    let registered = match client.auth_method {
        AuthMethod::ClientSecretBasic => Scheme::Basic,
        AuthMethod::ClientSecretPost => Scheme::Post,
        AuthMethod::None => Scheme::None,
    };
    if registered != presented.scheme {
        return Err(presented.refused());
    }
    match (&client.secret_sha256, &presented.secret) {
        (Some(hash), Some(given)) if secret::equal(hash, &secret::sha256_hex(given)) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(presented.refused()),
    }
}
