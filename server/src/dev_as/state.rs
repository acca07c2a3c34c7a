//! The development AS's configuration, its one user and clients, its signing key, and the
//! sign-ins, codes and refresh tokens in flight.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{resource::ResourceUri, scope::ScopeSet, secret::random_token, signing::Rs256Key};

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
    pub(super) config: DevAsConfig,
    pub(super) key: Rs256Key,
    pub(super) state: Mutex<State>,
    /// Sign-ins waiting for the login form. Anyone can start one without credentials, so the
    /// oldest make way for new ones instead of the form being refused to everybody once full.
    pub(super) logins: moka::sync::Cache<String, PendingLogin>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) codes: HashMap<String, IssuedCode>,
    pub(super) refresh_tokens: HashMap<String, Grant>,
}

/// An authorization request waiting for the user to sign in.
#[derive(Debug, Clone)]
pub(super) struct PendingLogin {
    pub(super) grant: Grant,
    pub(super) redirect_uri: String,
    pub(super) state: Option<String>,
    pub(super) code_challenge: String,
    pub(super) failures: u8,
}

/// A code waiting to be redeemed (once, within its lifetime).
#[derive(Debug, Clone)]
pub(super) struct IssuedCode {
    pub(super) grant: Grant,
    pub(super) redirect_uri: String,
    pub(super) code_challenge: String,
    pub(super) created: Instant,
}

/// What the user granted to which client.
#[derive(Debug, Clone)]
pub(super) struct Grant {
    pub(super) client_id: String,
    pub(super) scope: ScopeSet,
    pub(super) resource: Option<String>,
    pub(super) nonce: Option<String>,
}

pub(super) const LOGIN_LIFETIME: Duration = Duration::from_secs(600);
pub(super) const CODE_LIFETIME: Duration = Duration::from_secs(300);
/// Bound on pending logins and codes, so abandoned flows cannot grow memory without end.
pub(super) const MAX_PENDING: usize = 10_000;

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

    pub(super) fn client(&self, id: &str) -> Option<&DevClient> {
        self.config.clients.iter().find(|c| c.id == id)
    }

    /// Scopes a client may ask for: the OIDC ones and the resource server's, Cognito style.
    pub(super) fn allowed_scope(&self, scope: &str) -> bool {
        matches!(scope, "openid" | "email" | "profile")
            || self
                .config
                .resource_scopes
                .iter()
                .any(|name| scope == format!("{}/{name}", self.config.resource))
    }

    pub(super) fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().expect("dev AS state");
        let now = Instant::now();
        state
            .codes
            .retain(|_, c| now.duration_since(c.created) < CODE_LIFETIME);
        f(&mut state)
    }
}
