//! `POST /oauth2/token`: authorization code (PKCE S256) and refresh token (rotated).

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use super::state::{DevAuthServer, DevClient, Grant, MAX_PENDING};
use crate::{
    oauth_request::{self, OAuthForm, Params, ParamsError},
    scope::ScopeSet,
    secret::{equal as secrets_equal, random_token},
};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// An RFC 6749 section 5.2 error.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

fn bad(error: &'static str, description: impl Into<String>) -> TokenError {
    TokenError {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
        basic_challenge: false,
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let body =
            serde_json::json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, Json(body)).into_response();
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.basic_challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"dev-as\""),
            );
        }
        response
    }
}

/// The token endpoint.
pub async fn token(
    State(dev): State<Arc<DevAuthServer>>,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    let result = match form {
        Ok(OAuthForm(params)) => handle(&dev, &headers, &params),
        Err(e) => Err(bad("invalid_request", e.to_string())),
    };
    match result {
        Ok(body) => {
            let mut response = Json(body).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => e.into_response(),
    }
}

fn handle(
    dev: &DevAuthServer,
    headers: &HeaderMap,
    params: &Params,
) -> Result<serde_json::Value, TokenError> {
    params
        .refuse_repeated()
        .map_err(|e| bad("invalid_request", e))?;
    let client = authenticate(
        dev,
        headers,
        params.get("client_id"),
        params.get("client_secret"),
    )?;
    match params.get("grant_type") {
        Some("authorization_code") => {
            let code = params
                .get("code")
                .ok_or_else(|| bad("invalid_request", "code is required"))?;
            // Checked, then spent, under one lock: a wrong client or verifier spends nothing.
            let grant = dev.with_state(|s| {
                let issued = s.codes.get(code).ok_or_else(|| {
                    bad(
                        "invalid_grant",
                        "the code is unknown, expired or already used",
                    )
                })?;
                oauth_request::redemption(
                    params,
                    &client.id,
                    &issued.grant.client_id,
                    &issued.redirect_uri,
                    &issued.code_challenge,
                )
                .map_err(|(e, d)| bad(e, d))?;
                let grant = bind_resource(dev, issued.grant.clone(), params.get("resource"))?;
                s.codes.remove(code);
                Ok(grant)
            })?;
            issue(dev, client, grant)
        }
        Some("refresh_token") => {
            let presented = params
                .get("refresh_token")
                .ok_or_else(|| bad("invalid_request", "refresh_token is required"))?;
            // Rotation: checked, then spent, under one lock; a refused request spends nothing.
            let grant = dev.with_state(|s| {
                let grant = s.refresh_tokens.get(presented).ok_or_else(|| {
                    bad(
                        "invalid_grant",
                        "the refresh token is unknown or already used",
                    )
                })?;
                if grant.client_id != client.id {
                    return Err(bad(
                        "invalid_grant",
                        "the refresh token was issued to another client",
                    ));
                }
                let mut grant = bind_resource(dev, grant.clone(), params.get("resource"))?;
                if let Some(scope) = params.get("scope") {
                    let narrowed = ScopeSet::parse(scope);
                    if !narrowed.is_subset_of(&grant.scope) {
                        return Err(bad("invalid_scope", "a refresh cannot widen the scope"));
                    }
                    grant.scope = narrowed;
                }
                s.refresh_tokens.remove(presented);
                Ok(grant)
            })?;
            issue(dev, client, grant)
        }
        Some(other) => Err(bad(
            "unsupported_grant_type",
            format!("grant_type {other} is not supported"),
        )),
        None => Err(bad("invalid_request", "grant_type is required")),
    }
}

/// `POST /oauth2/revoke` (RFC 7009): revokes a refresh token of the authenticated client.
/// Unknown tokens, and other clients' tokens (left alone), are answered 200 all the same.
pub async fn revoke(
    State(dev): State<Arc<DevAuthServer>>,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    let params = match form {
        Ok(OAuthForm(p)) => p,
        Err(e) => return bad("invalid_request", e.to_string()).into_response(),
    };
    if let Err(e) = params.refuse_repeated() {
        return bad("invalid_request", e).into_response();
    }
    let client = match authenticate(
        &dev,
        &headers,
        params.get("client_id"),
        params.get("client_secret"),
    ) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(token) = params.get("token") else {
        return bad("invalid_request", "token is required").into_response();
    };
    dev.with_state(|s| {
        if s.refresh_tokens
            .get(token)
            .is_some_and(|g| g.client_id == client.id)
        {
            s.refresh_tokens.remove(token);
        }
    });
    StatusCode::OK.into_response()
}

fn bind_resource(
    dev: &DevAuthServer,
    mut grant: Grant,
    requested: Option<&str>,
) -> Result<Grant, TokenError> {
    match (requested, &grant.resource) {
        (None, _) => {}
        // Whatever the spelling, the identifier is bound (the `aud` is compared exactly).
        (Some(r), Some(_)) if dev.config.resource.matches(r) => {}
        (Some(r), None) if dev.config.resource.matches(r) => {
            grant.resource = Some(dev.config.resource.to_string())
        }
        (Some(_), _) => {
            return Err(bad(
                "invalid_target",
                "resource differs from the authorization request",
            ));
        }
    }
    Ok(grant)
}

fn authenticate<'a>(
    dev: &'a DevAuthServer,
    headers: &HeaderMap,
    body_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<&'a DevClient, TokenError> {
    let unauthorized = |basic: bool| TokenError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed".into(),
        basic_challenge: basic,
    };
    let (id, secret, used_basic) = match (oauth_request::basic_credentials(headers), body_secret) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "invalid_request",
                "use one client authentication method",
            ));
        }
        (Some(basic), None) => {
            let (id, secret) = basic.map_err(|()| unauthorized(true))?;
            (id, Some(secret), true)
        }
        (None, secret) => (
            body_id.unwrap_or_default().to_owned(),
            secret.map(str::to_owned),
            false,
        ),
    };
    let client = dev.client(&id).ok_or_else(|| unauthorized(used_basic))?;
    match (&client.secret, secret) {
        (Some(expected), Some(given)) if secrets_equal(expected, &given) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(unauthorized(used_basic)),
    }
}

/// The claims of a Cognito-shaped access token issued at `iat`, expiring at `exp`.
pub(super) fn access_claims(
    dev: &DevAuthServer,
    client_id: &str,
    scope: &str,
    resource: Option<&str>,
    iat: u64,
    exp: u64,
) -> serde_json::Value {
    let mut access = serde_json::json!({
        "sub": dev.config.user.subject,
        "iss": dev.issuer(),
        "client_id": client_id,
        "token_use": "access",
        "scope": scope,
        "auth_time": iat,
        "iat": iat,
        "exp": exp,
        "jti": random_token(16),
        "username": dev.config.user.username,
    });
    if let Some(resource) = resource {
        // Cognito resource binding: the resource becomes the audience.
        access["aud"] = resource.into();
    }
    access
}

fn issue(
    dev: &DevAuthServer,
    client: &DevClient,
    grant: Grant,
) -> Result<serde_json::Value, TokenError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let lifetime = dev.config.token_lifetime.as_secs();
    let user = &dev.config.user;
    let access = access_claims(
        dev,
        &client.id,
        &grant.scope.to_string(),
        grant.resource.as_deref(),
        now,
        now + lifetime,
    );
    let sign = |claims: &serde_json::Value| {
        dev.key.sign(claims).map_err(|e| TokenError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: e.to_string(),
            basic_challenge: false,
        })
    };
    let mut body = serde_json::json!({
        "access_token": sign(&access)?,
        "token_type": "Bearer",
        "expires_in": lifetime,
    });
    if grant.scope.iter().any(|s| s == "openid") {
        let mut id = serde_json::json!({
            "sub": user.subject,
            "iss": dev.issuer(),
            "aud": client.id,
            "token_use": "id",
            "email": user.username,
            "email_verified": true,
            "auth_time": now,
            "iat": now,
            "exp": now + lifetime,
        });
        if let Some(nonce) = &grant.nonce {
            id["nonce"] = nonce.clone().into();
        }
        body["id_token"] = sign(&id)?.into();
    }
    let refresh = random_token(32);
    let stored = dev.with_state(|s| {
        if s.refresh_tokens.len() >= MAX_PENDING {
            return false;
        }
        s.refresh_tokens.insert(refresh.clone(), grant);
        true
    });
    if stored {
        body["refresh_token"] = refresh.into();
    }
    Ok(body)
}
