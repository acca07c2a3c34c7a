//! `POST /oauth2/token`: authorization code (PKCE S256) and refresh token (rotated).

use std::{
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use super::state::{DevAuthServer, DevClient, Grant, MAX_PENDING};
use crate::{
    oauth::{
        self, ErrorCode, OAuthForm, Params, ParamsError, Presented, TokenError, token_response,
    },
    scope::ScopeSet,
    secret::{equal as secrets_equal, random_token},
};
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

/// The realm of the Basic challenge a failed client authentication gets.
const REALM: &str = "dev-as";

/// The token endpoint.
pub async fn token(
    State(dev): State<Arc<DevAuthServer>>,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    let result = match form {
        Ok(OAuthForm(params)) => handle(&dev, &headers, &params),
        Err(e) => Err(TokenError::new(ErrorCode::InvalidRequest, e.to_string())),
    };
    match result {
        Ok(body) => token_response(body),
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
        .map_err(|e| TokenError::new(ErrorCode::InvalidRequest, e))?;
    let client = authenticate(dev, &Presented::read(headers, params, REALM)?)?;
    match oauth::Grant::of(params)? {
        oauth::Grant::AuthorizationCode => {
            let code = params
                .get("code")
                .ok_or_else(|| TokenError::new(ErrorCode::InvalidRequest, "code is required"))?;
            // Checked, then spent, under one lock: a wrong client or verifier spends nothing.
            let grant = dev.with_state(|s| {
                let issued = s.codes.get(code).ok_or_else(|| {
                    TokenError::new(
                        ErrorCode::InvalidGrant,
                        "the code is unknown, expired or already used",
                    )
                })?;
                oauth::redemption(
                    params,
                    &client.id,
                    &issued.grant.client_id,
                    &issued.redirect_uri,
                    &issued.code_challenge,
                )
                .map_err(TokenError::from)?;
                let grant = bind_resource(dev, issued.grant.clone(), params.get("resource"))?;
                s.codes.remove(code);
                Ok::<_, TokenError>(grant)
            })?;
            issue(dev, client, grant)
        }
        oauth::Grant::RefreshToken => {
            let presented = params.get("refresh_token").ok_or_else(|| {
                TokenError::new(ErrorCode::InvalidRequest, "refresh_token is required")
            })?;
            // Rotation: checked, then spent, under one lock; a refused request spends nothing.
            let grant = dev.with_state(|s| {
                let grant = s.refresh_tokens.get(presented).ok_or_else(|| {
                    TokenError::new(
                        ErrorCode::InvalidGrant,
                        "the refresh token is unknown or already used",
                    )
                })?;
                if grant.client_id != client.id {
                    return Err(TokenError::new(
                        ErrorCode::InvalidGrant,
                        "the refresh token was issued to another client",
                    ));
                }
                let mut grant = bind_resource(dev, grant.clone(), params.get("resource"))?;
                if let Some(scope) = params.get("scope") {
                    let narrowed = ScopeSet::parse(scope);
                    if !narrowed.is_subset_of(&grant.scope) {
                        return Err(TokenError::new(
                            ErrorCode::InvalidScope,
                            "a refresh cannot widen the scope",
                        ));
                    }
                    grant.scope = narrowed;
                }
                s.refresh_tokens.remove(presented);
                Ok(grant)
            })?;
            issue(dev, client, grant)
        }
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
        Err(e) => return TokenError::new(ErrorCode::InvalidRequest, e.to_string()).into_response(),
    };
    if let Err(e) = params.refuse_repeated() {
        return TokenError::new(ErrorCode::InvalidRequest, e).into_response();
    }
    let client = match Presented::read(&headers, &params, REALM)
        .and_then(|presented| authenticate(&dev, &presented))
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(token) = params.get("token") else {
        return TokenError::new(ErrorCode::InvalidRequest, "token is required").into_response();
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
            return Err(TokenError::new(
                ErrorCode::InvalidTarget,
                "resource differs from the authorization request",
            ));
        }
    }
    Ok(grant)
}

/// The client the credentials name, when its secret matches. Unlike the façade, the
/// development AS does not hold a client to one way of presenting its secret: its clients
/// record no method (as Cognito's app clients record none), so either way is taken.
fn authenticate<'a>(
    dev: &'a DevAuthServer,
    presented: &Presented,
) -> Result<&'a DevClient, TokenError> {
    let client = dev
        .client(&presented.client_id)
        .ok_or_else(|| presented.refused())?;
    match (&client.secret, &presented.secret) {
        (Some(expected), Some(given)) if secrets_equal(expected, given) => Ok(client),
        (None, None) => Ok(client),
        _ => Err(presented.refused()),
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
        dev.key
            .sign(claims)
            .map_err(|e| TokenError::new(ErrorCode::ServerError, e.to_string()))
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
