//! The embedded development authorization server: what runs in Cognito's place when no AWS
//! deployment is configured, so everything works offline.
//!
//! It behaves like Cognito where the façade and the resource server can tell: OIDC discovery in
//! Cognito's shape (no `code_challenge_methods_supported`, no `registration_endpoint`),
//! Cognito-shaped access tokens (`client_id`, `token_use`, `scope` with resource-server scopes
//! as `<resource>/<name>`, and `aud` only when a `resource` was bound), exact redirect-URI
//! matching, RS256 keys generated at start. It is for development: in-memory, one user,
//! loopback only.

mod authorize;
mod discovery;
mod page;
mod state;
mod token;

use std::sync::Arc;

use axum::{
    Router,
    routing::{get, post},
};

pub use state::{DevAsConfig, DevAuthServer, DevClient, DevUser};

/// Where the development AS is mounted on the server.
pub const MOUNT: &str = "/dev-as";

impl DevAuthServer {
    /// An access token for `client_id` that expired an hour ago (well past any leeway),
    /// signed with this AS's key: what a conformance run needs to see expiry enforced without
    /// waiting a token's lifetime. Nothing reaches it over HTTP.
    pub fn expired_access_token(
        &self,
        client_id: &str,
        scope: &str,
        resource: &str,
    ) -> Result<String, crate::signing::SigningError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let claims = token::access_claims(
            self,
            client_id,
            scope,
            Some(resource),
            now - 7200,
            now - 3600,
        );
        self.key.sign(&claims)
    }

    /// The routes, to be nested at [`MOUNT`].
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(discovery::openid_configuration),
            )
            .route("/.well-known/jwks.json", get(discovery::jwks))
            .route("/oauth2/authorize", get(authorize::authorize))
            .route("/login", post(authorize::login))
            .route("/oauth2/token", post(token::token))
            .route("/oauth2/revoke", post(token::revoke))
            .with_state(self.clone())
    }
}
