//! Authorization Server Metadata (RFC 8414), also served at the OIDC discovery path for clients
//! that look only there.

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use super::state::Facade;

/// The metadata document.
pub fn document(facade: &Facade) -> serde_json::Value {
    let issuer = facade.issuer().as_str();
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "scopes_supported": facade.config.scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "client_id_metadata_document_supported": true,
        "authorization_response_iss_parameter_supported": true,
    })
}

/// `GET /.well-known/oauth-authorization-server` (and `/.well-known/openid-configuration`).
pub async fn metadata(State(facade): State<Arc<Facade>>) -> Response {
    let mut r = Json(document(&facade)).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}
