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
pub mod clients;
pub mod consent;
pub mod dynamodb;
pub mod limits;
pub mod metadata;
pub mod readiness;
pub mod registration;
pub mod store;
pub mod token;
pub mod upstream;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};

use crate::{
    endpoint::{Endpoint, Issuer},
    resource::ResourceUri,
};
use limits::{AddressLimiter, AddressQuota};

/// Limits on what anonymous callers can make the façade do.
#[derive(Debug, Clone)]
pub struct RegistrationLimits {
    /// Registrations per address.
    pub per_address: AddressQuota,
    /// Registrations admitted within an hour (an unused one's lifetime), all addresses and
    /// replicas together, exactly: never-used registrations alive at once stay below it.
    pub max_clients: u64,
    /// Authorization requests per address.
    pub authorize_per_address: AddressQuota,
    /// Consent answers per address (each one writes to the store).
    pub consent_per_address: AddressQuota,
}

impl Default for RegistrationLimits {
    fn default() -> Self {
        Self {
            per_address: AddressQuota::per_window(20, Duration::from_secs(600)),
            max_clients: 10_000,
            authorize_per_address: AddressQuota::per_window(120, Duration::from_secs(60)),
            consent_per_address: AddressQuota::per_window(60, Duration::from_secs(60)),
        }
    }
}

/// Seconds a client is asked to wait when the state store is unavailable.
pub const RETRY_AFTER_SECS: u64 = 5;

/// The façade's upstream: Cognito, or the development AS.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    /// Its authorization endpoint.
    pub authorization_endpoint: Endpoint,
    /// Its token endpoint.
    pub token_endpoint: Endpoint,
    /// The façade's client there.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// The façade's callback, registered on that client.
    pub redirect_uri: Endpoint,
    /// Its RFC 7009 revocation endpoint: where a revoked refresh family's upstream refresh token
    /// is revoked too.
    pub revocation_endpoint: Option<Endpoint>,
    /// Whether its token endpoint takes RFC 8707 `resource` too. Cognito binds the resource at
    /// the authorize endpoint only (its token endpoint documents no `resource`; a refreshed token
    /// keeps the original `aud`), so the façade sends it there alone unless this says otherwise.
    pub resource_at_token_endpoint: bool,
}

/// Settings of the façade.
#[derive(Debug, Clone)]
pub struct FacadeConfig {
    /// The façade's issuer: the server's public base URL.
    pub issuer: Issuer,
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
    /// Accept metadata documents served on this machine (development only).
    pub loopback_cimd: Option<cimd::LoopbackDocuments>,
    /// Key for CSRF tokens; 32 random bytes, the same on every replica.
    pub csrf_key: Vec<u8>,
}

/// The running façade.
pub struct Facade {
    config: FacadeConfig,
    store: Arc<dyn store::Store>,
    cimd: cimd::CimdResolver,
    browsers: browser::BrowserBinding,
    registration_limiter: AddressLimiter,
    authorize_limiter: AddressLimiter,
    consent_limiter: AddressLimiter,
    http: reqwest::Client,
    readiness: Arc<readiness::Readiness>,
}

/// Why the client a `client_id` names is not available.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No such registration (or it expired unused).
    #[error("unknown client_id: register first (or it expired unused)")]
    Unknown,
    /// The metadata document was refused.
    #[error(transparent)]
    Cimd(#[from] cimd::CimdError),
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl Facade {
    /// A façade over `store`.
    pub fn new(config: FacadeConfig, store: Arc<dyn store::Store>) -> Arc<Self> {
        let cimd = cimd::CimdResolver::new(config.loopback_cimd.clone());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with static settings");
        let browsers =
            browser::BrowserBinding::new(config.csrf_key.clone(), config.issuer.is_https());
        let limits = &config.registration;
        Arc::new(Self {
            registration_limiter: AddressLimiter::new(limits.per_address),
            authorize_limiter: AddressLimiter::new(limits.authorize_per_address),
            consent_limiter: AddressLimiter::new(limits.consent_per_address),
            config,
            store,
            cimd,
            browsers,
            http,
            readiness: Default::default(),
        })
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
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
            .route("/consent", post(consent::consent))
            .route("/oauth/callback", get(callback::callback))
            .route("/token", post(token::token))
            .route("/readyz", get(readiness::readyz))
            .with_state(self.clone())
    }

    /// The client `client_id` names: a registration, or a metadata document.
    async fn client(&self, client_id: &str) -> Result<clients::Client, ClientError> {
        if cimd::is_metadata_url(client_id) {
            return Ok(self.cimd.resolve(client_id).await?);
        }
        store::Records(self.store.as_ref())
            .get::<clients::Client>(store::Kind::Client, client_id)
            .await?
            .ok_or(ClientError::Unknown)
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

/// An HTML error page: for requests whose client or redirect URI cannot be trusted with a
/// redirect, and for people who landed somewhere they should not have.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    crate::html::error_page(status, message).into_response()
}

/// The page shown when the state store failed: 503 with `Retry-After`, the detail only in the
/// log (it can hold the backend's own error text).
pub fn store_unavailable_page(e: &store::StoreError) -> Response {
    tracing::error!(error = %e, "the state store failed");
    let mut response = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "the authorization server is temporarily unavailable; try again in a moment",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

/// The page shown when too many requests came from one address.
pub fn too_many_requests_page(wait: Duration) -> Response {
    let mut response = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests from this address; try again later",
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(wait.as_secs().max(1)),
    );
    response
}
