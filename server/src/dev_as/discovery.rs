//! OIDC discovery and JWKS, in Cognito's shape.

use std::sync::Arc;

use axum::{Json, extract::State};

use super::state::DevAuthServer;

/// `/.well-known/openid-configuration`: like Cognito's, it advertises no PKCE methods and no
/// registration endpoint; the façade exists to fill those gaps.
pub async fn openid_configuration(
    State(dev): State<Arc<DevAuthServer>>,
) -> Json<serde_json::Value> {
    let issuer = dev.issuer();
    let mut scopes = vec![
        "openid".to_owned(),
        "email".to_owned(),
        "profile".to_owned(),
    ];
    scopes.extend(
        dev.config
            .resource_scopes
            .iter()
            .map(|s| format!("{}/{s}", dev.config.resource)),
    );
    Json(serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

/// `/.well-known/jwks.json`.
pub async fn jwks(State(dev): State<Arc<DevAuthServer>>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": [dev.key.public_jwk()] }))
}
