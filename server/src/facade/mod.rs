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

pub mod authorize;
pub mod callback;
pub mod cimd;
pub mod clients;
pub mod dynamodb;
pub mod metadata;
pub mod registration;
pub mod store;
pub mod token;
pub mod upstream;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    routing::{get, post},
};

use crate::resource::ResourceUri;

/// Limits on Dynamic Client Registration.
#[derive(Debug, Clone)]
pub struct RegistrationLimits {
    /// Registrations per address per window.
    pub per_ip_limit: u32,
    /// The window.
    pub per_ip_window: Duration,
    /// Registrations alive at once, all addresses together.
    pub max_clients: usize,
}

impl Default for RegistrationLimits {
    fn default() -> Self {
        Self {
            per_ip_limit: 20,
            per_ip_window: Duration::from_secs(600),
            max_clients: 10_000,
        }
    }
}

/// The façade's upstream: Cognito, or the development AS.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Its authorization endpoint.
    pub authorization_endpoint: String,
    /// Its token endpoint.
    pub token_endpoint: String,
    /// The façade's client there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The façade's callback, registered on that client.
    pub redirect_uri: String,
}

/// Settings of the façade.
#[derive(Debug, Clone)]
pub struct FacadeConfig {
    /// The façade's issuer: the server's public base URL.
    pub issuer: String,
    /// The MCP resource.
    pub resource: ResourceUri,
    /// Scopes clients may ask for (`mcp:read`, `mcp:write`).
    pub scopes: Vec<String>,
    /// Scope granted when a client asks for none.
    pub default_scope: String,
    /// Where users really sign in.
    pub upstream: UpstreamConfig,
    /// DCR limits.
    pub registration: RegistrationLimits,
    /// Accept `http://127.0.0.1…` metadata documents (development only).
    pub allow_http_loopback_cimd: bool,
    /// Key for CSRF tokens; 32 random bytes, the same on every replica.
    pub csrf_key: Vec<u8>,
}

/// The running façade.
pub struct Facade {
    config: FacadeConfig,
    store: Arc<dyn store::Store>,
    cimd: cimd::CimdResolver,
    registration_limiter: registration::RateLimiter,
    http: reqwest::Client,
}

impl Facade {
    /// A façade over `store`.
    pub fn new(config: FacadeConfig, store: Arc<dyn store::Store>) -> Arc<Self> {
        let cimd = cimd::CimdResolver::new(config.allow_http_loopback_cimd);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with static settings");
        Arc::new(Self {
            config,
            store,
            cimd,
            registration_limiter: Default::default(),
            http,
        })
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

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
            .route("/consent", post(authorize::consent))
            .route("/oauth/callback", get(callback::callback))
            .route("/token", post(token::token))
            .with_state(self.clone())
    }

    /// The client `client_id` names: a registration, or a metadata document.
    async fn client(&self, client_id: &str) -> Result<clients::Client, String> {
        if cimd::is_metadata_url(client_id) {
            return self
                .cimd
                .resolve(client_id)
                .await
                .map_err(|e| e.to_string());
        }
        store::Records(self.store.as_ref())
            .get::<clients::Client>(store::Kind::Client, client_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "unknown client_id: register first (or it expired unused)".to_owned())
    }

    /// A scope the façade grants, in the upstream's form (Cognito names resource-server scopes
    /// `<identifier>/<name>`).
    fn upstream_scope(&self, scope: &str) -> String {
        format!("{}/{scope}", self.config.resource)
    }
}

/// 32 random bytes, URL-safe.
pub fn random_secret() -> String {
    crate::secret::random_token(32)
}
