//! The running façade: its settings, the state store, the client resolver, the browser binding,
//! the per-address limiters and the HTTP client every step of a flow shares.

use std::{sync::Arc, time::Duration};

use super::{
    browser, cimd, clients, config::FacadeConfig, limits::AddressLimiter, readiness, store,
};
use crate::endpoint::Issuer;

/// The running façade.
pub struct Facade {
    pub(super) config: FacadeConfig,
    pub(super) store: Arc<dyn store::Store>,
    pub(super) cimd: cimd::CimdResolver,
    pub(super) browsers: browser::BrowserBinding,
    pub(super) registration_limiter: AddressLimiter,
    pub(super) authorize_limiter: AddressLimiter,
    pub(super) consent_limiter: AddressLimiter,
    pub(super) http: reqwest::Client,
    pub(super) readiness: Arc<readiness::Readiness>,
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

    /// The client `client_id` names: a registration, or a metadata document.
    pub(super) async fn client(&self, client_id: &str) -> Result<clients::Client, ClientError> {
        if cimd::is_metadata_url(client_id) {
            return Ok(self.cimd.resolve(client_id).await?);
        }
        store::Records(self.store.as_ref())
            .get::<clients::Client>(client_id)
            .await?
            .ok_or(ClientError::Unknown)
    }

    /// A scope the façade grants, in the upstream's form (Cognito names resource-server scopes
    /// `<identifier>/<name>`).
    pub(super) fn upstream_scope(&self, scope: &str) -> String {
        format!("{}/{scope}", self.config.resource)
    }
}

/// 32 random bytes, URL-safe.
pub fn random_secret() -> String {
    crate::secret::random_token(32)
}

#[cfg(test)]
impl Facade {
    /// A façade for `https://mcp.example.com/mcp` over a memory store, signing its cookies and
    /// CSRF tokens with `key`, whose upstream is never reached.
    pub(crate) fn for_tests(key: &[u8]) -> Arc<Self> {
        Self::new(
            FacadeConfig {
                issuer: Issuer::for_resource(&"https://mcp.example.com/mcp".parse().unwrap())
                    .unwrap(),
                resource: "https://mcp.example.com/mcp".parse().unwrap(),
                scopes: vec!["mcp:read".into()],
                default_scope: "mcp:read".into(),
                upstream: super::config::UpstreamConfig::for_tests(),
                registration: super::config::RegistrationLimits::default(),
                loopback_cimd: None,
                csrf_key: key.to_vec(),
            },
            Arc::new(store::MemoryStore::default()),
        )
    }
}
