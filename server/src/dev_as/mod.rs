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
mod token;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    routing::{get, post},
};

use crate::{resource::ResourceUri, scope::ScopeSet, secret::random_token, signing::Rs256Key};

/// Where the development AS is mounted on the server.
pub const MOUNT: &str = "/dev-as";

/// A registered client of the development AS.
#[derive(Debug, Clone)]
pub struct DevClient {
    /// Client id.
    pub id: String,
    /// Client secret; `None` for a public client.
    pub secret: Option<String>,
    /// Redirect URIs, matched exactly (as Cognito does).
    pub redirect_uris: Vec<String>,
    /// A name for the login page.
    pub name: String,
}

/// The development user.
#[derive(Debug, Clone)]
pub struct DevUser {
    /// The sign-in name (an email, as with the Cognito pool).
    pub username: String,
    /// The password, printed at start.
    pub password: String,
    /// `sub`.
    pub subject: String,
}

/// Settings of the development AS.
#[derive(Debug, Clone)]
pub struct DevAsConfig {
    /// The issuer: `<base>/dev-as`.
    pub issuer: String,
    /// The resource server identifier (the MCP resource URI).
    pub resource: ResourceUri,
    /// The resource server's scope names (`mcp:read`, `mcp:write`).
    pub resource_scopes: Vec<String>,
    /// Registered clients.
    pub clients: Vec<DevClient>,
    /// The one user.
    pub user: DevUser,
    /// Skip the login form (automated tests only).
    pub auto_approve: bool,
    /// Access and ID token lifetime.
    pub token_lifetime: Duration,
}

/// The running development AS.
pub struct DevAuthServer {
    config: DevAsConfig,
    key: Rs256Key,
    state: Mutex<State>,
    /// Sign-ins waiting for the login form. Anyone can start one without credentials, so the
    /// oldest make way for new ones instead of the form being refused to everybody once full.
    logins: moka::sync::Cache<String, PendingLogin>,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, IssuedCode>,
    refresh_tokens: HashMap<String, Grant>,
}

/// An authorization request waiting for the user to sign in.
#[derive(Debug, Clone)]
struct PendingLogin {
    grant: Grant,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    failures: u8,
}

/// A code waiting to be redeemed (once, within its lifetime).
#[derive(Debug, Clone)]
struct IssuedCode {
    grant: Grant,
    redirect_uri: String,
    code_challenge: String,
    created: Instant,
}

/// What the user granted to which client.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    scope: ScopeSet,
    resource: Option<String>,
    nonce: Option<String>,
}

const LOGIN_LIFETIME: Duration = Duration::from_secs(600);
const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// Bound on pending logins and codes, so abandoned flows cannot grow memory without end.
const MAX_PENDING: usize = 10_000;

impl DevAuthServer {
    /// Starts the AS: generates its signing key.
    pub fn new(config: DevAsConfig) -> Result<Arc<Self>, crate::signing::SigningError> {
        let key = Rs256Key::generate(format!("dev-{}", random_token(6)))?;
        let logins = moka::sync::Cache::builder()
            .max_capacity(MAX_PENDING as u64)
            .time_to_live(LOGIN_LIFETIME)
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .build();
        Ok(Arc::new(Self {
            config,
            key,
            state: Mutex::new(State::default()),
            logins,
        }))
    }

    /// Where the sign-in form posts: the issuer's path, then `/login`.
    pub fn login_action(&self) -> String {
        let path = url::Url::parse(&self.config.issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("{path}/login")
    }

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

    /// The issuer's origin, which its sign-in form is posted from.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.config.issuer)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.config.issuer.clone())
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
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

    fn client(&self, id: &str) -> Option<&DevClient> {
        self.config.clients.iter().find(|c| c.id == id)
    }

    /// Scopes a client may ask for: the OIDC ones and the resource server's, Cognito style.
    fn allowed_scope(&self, scope: &str) -> bool {
        matches!(scope, "openid" | "email" | "profile")
            || self
                .config
                .resource_scopes
                .iter()
                .any(|name| scope == format!("{}/{name}", self.config.resource))
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().expect("dev AS state");
        let now = Instant::now();
        state
            .codes
            .retain(|_, c| now.duration_since(c.created) < CODE_LIFETIME);
        f(&mut state)
    }
}
