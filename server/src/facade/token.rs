//! `POST /token`: the façade's token endpoint.

use std::{sync::Arc, time::Duration};

use axum::{
    Form, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    Facade,
    callback::IssuedCode,
    clients::{AuthMethod, Client, Origin},
    random_secret,
    registration::USED_REGISTRATION_TTL,
    store::{Kind, Records, now_secs},
    upstream::token_request,
};
use crate::{
    oauth_request::{self, FormParams},
    scope::ScopeSet,
    secret,
};

/// Lifetime of a façade refresh-token handle.
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// What a façade refresh token stands for: the upstream's, bound to one client.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RefreshGrant {
    client_id: String,
    scope: ScopeSet,
    resource: String,
    upstream_refresh_token: String,
}

/// An RFC 6749 section 5.2 error.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

fn bad(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
    }
}

fn unavailable(e: impl std::fmt::Display) -> TokenError {
    TokenError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: "temporarily_unavailable",
        description: e.to_string(),
    }
}

fn unauthorized() -> TokenError {
    TokenError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed".into(),
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut r = (self.status, Json(body)).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

/// The token endpoint.
pub async fn token(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    match handle(&facade, &headers, &pairs).await {
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
    pairs: &[(String, String)],
) -> Result<serde_json::Value, TokenError> {
    let params = FormParams::new(pairs).map_err(|e| bad("invalid_request", e))?;
    let get = |k: &str| params.get(k);
    let client = authenticate(facade, headers, get("client_id"), get("client_secret")).await?;
    let records = Records(facade.store.as_ref());
    match get("grant_type") {
        Some("authorization_code") => {
            let code = get("code").ok_or_else(|| bad("invalid_request", "code is required"))?;
            let issued = records
                .take::<IssuedCode>(Kind::Code, code)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    bad(
                        "invalid_grant",
                        "the code is unknown, expired or already used",
                    )
                })?;
            let request = &issued.request;
            oauth_request::redemption(
                &params,
                &client.client_id,
                &request.client_id,
                &request.redirect_uri,
                &request.code_challenge,
            )
            .map_err(|(e, d)| bad(e, d))?;
            if get("resource").is_some_and(|r| !facade.config.resource.matches(r)) {
                return Err(bad("invalid_target", "resource is not this MCP server"));
            }
            if client.origin == Origin::Dcr {
                // A registration that has been used lives on; unused ones expire in a day.
                let _ = records
                    .put(
                        Kind::Client,
                        &client.client_id,
                        &client,
                        now_secs() + USED_REGISTRATION_TTL.as_secs(),
                    )
                    .await;
            }
            respond(
                facade,
                &client,
                request.scope.clone(),
                request.resource.clone(),
                issued.tokens,
            )
            .await
        }
        Some("refresh_token") => {
            let presented = get("refresh_token")
                .ok_or_else(|| bad("invalid_request", "refresh_token is required"))?;
            // Rotation: the handle presented is spent whatever happens next.
            let grant = records
                .take::<RefreshGrant>(Kind::Refresh, presented)
                .await
                .map_err(unavailable)?
                .ok_or_else(|| {
                    bad(
                        "invalid_grant",
                        "the refresh token is unknown, expired or already used",
                    )
                })?;
            if grant.client_id != client.client_id {
                return Err(bad(
                    "invalid_grant",
                    "the refresh token was issued to another client",
                ));
            }
            let scope = match get("scope") {
                Some(s) => {
                    let narrowed = ScopeSet::parse(s);
                    if narrowed.iter().any(|x| !grant.scope.iter().any(|g| g == x)) {
                        return Err(bad("invalid_scope", "a refresh cannot widen the scope"));
                    }
                    narrowed
                }
                None => grant.scope.clone(),
            };
            let mut tokens = token_request(
                facade,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &grant.upstream_refresh_token),
                    ("resource", &grant.resource),
                ],
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "upstream refresh failed");
                bad("invalid_grant", "the identity provider refused the refresh")
            })?;
            // Cognito does not rotate its refresh tokens unless configured to; keep the old one.
            tokens
                .refresh_token
                .get_or_insert(grant.upstream_refresh_token);
            respond(facade, &client, scope, grant.resource, tokens).await
        }
        Some(other) => Err(bad(
            "unsupported_grant_type",
            format!("grant_type {other} is not supported"),
        )),
        None => Err(bad("invalid_request", "grant_type is required")),
    }
}

async fn respond(
    facade: &Facade,
    client: &Client,
    scope: ScopeSet,
    resource: String,
    tokens: super::upstream::UpstreamTokens,
) -> Result<serde_json::Value, TokenError> {
    let mut body = serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "scope": scope.to_string(),
    });
    if let Some(expires_in) = tokens.expires_in {
        body["expires_in"] = expires_in.into();
    }
    if let Some(upstream_refresh_token) = tokens.refresh_token {
        let handle = random_secret();
        let grant = RefreshGrant {
            client_id: client.client_id.clone(),
            scope,
            resource,
            upstream_refresh_token,
        };
        Records(facade.store.as_ref())
            .insert(
                Kind::Refresh,
                &handle,
                &grant,
                now_secs() + REFRESH_TTL.as_secs(),
            )
            .await
            .map_err(unavailable)?;
        body["refresh_token"] = handle.into();
    }
    Ok(body)
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
            let (id, secret) = basic.map_err(|()| unauthorized())?;
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
    let client = facade
        .client(&client_id)
        .await
        .map_err(|_| unauthorized())?;
    if client.auth_method != method {
        return Err(unauthorized());
    }
    match (&client.secret_sha256, secret) {
        (Some(hash), Some(given)) if secret::equal(hash, &secret::sha256_hex(&given)) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(unauthorized()),
    }
}
