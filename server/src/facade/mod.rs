//! The authorization façade: the authorization server MCP clients see, in front of Cognito (or
//! the development AS).
//!
//! Cognito has no Dynamic Client Registration, no Client ID Metadata Documents, no RFC 8414
//! metadata, and matches redirect URIs exactly (port included). The façade supplies all of it
//! and signs every MCP client in through one upstream client of its own, after asking the user
//! to consent (every client shares that upstream client, so Cognito's consent would not tell
//! them apart: the confused-deputy problem the MCP spec names).
//!
//! Flow: `/authorize` (checks, consent) -> upstream authorize with the façade's own PKCE and
//! state -> `/oauth/callback` (exchanges the upstream code) -> the client's redirect URI with a
//! one-time façade code and `iss` -> `/token` (PKCE, client authentication) -> the upstream
//! access token, whose audience is this resource.

pub mod admission;
pub mod authorize;
pub mod browser;
pub mod callback;
pub mod cimd;
pub mod client_metadata;
pub mod clients;
mod config;
pub mod consent;
pub mod dynamodb;
mod flow;
pub mod limits;
pub mod metadata;
mod pages;
pub mod readiness;
pub mod registration;
mod state;
pub mod store;
pub mod token;
pub mod upstream;

use std::sync::Arc;

use axum::{
    Router,
    extract::State,
    routing::{get, post},
};

pub use config::{FacadeConfig, RegistrationLimits, UpstreamConfig};
pub use state::Facade;

impl Facade {
    /// The routes, at the root of the server.
    pub fn router(self: &Arc<Self>) -> Router {
        let metadata = Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(metadata::metadata),
            )
            .route("/.well-known/openid-configuration", get(metadata::metadata))
            .layer(tower_http::cors::CorsLayer::permissive());
        Router::new()
            .merge(metadata)
            .route("/register", post(registration::register))
            .route("/authorize", get(authorize::authorize))
            .route("/consent", post(consent::consent))
            .route("/oauth/callback", get(callback::callback))
            .route("/token", post(token::token))
            .route(
                "/readyz",
                get(|State(facade): State<Arc<Self>>| async move {
                    facade.readiness.answer(&facade.store).await
                }),
            )
            .with_state(self.clone())
    }
}
