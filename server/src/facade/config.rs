//! The façade's settings: its issuer and resource, the upstream it signs users in at, and the
//! limits on what anonymous callers can make it do.

use std::time::Duration;

use super::{cimd, limits::AddressQuota};
use crate::{
    endpoint::{Endpoint, Issuer},
    resource::ResourceUri,
};

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

#[cfg(test)]
impl UpstreamConfig {
    /// An upstream at `https://up.example` that is never reached, with the façade's client `c`
    /// and its callback at `https://mcp.example.com/oauth/callback`.
    pub(crate) fn for_tests() -> Self {
        Self {
            authorization_endpoint: "https://up.example/authorize".parse().unwrap(),
            token_endpoint: "https://up.example/token".parse().unwrap(),
            client_id: "c".into(),
            client_secret: "s".into(),
            redirect_uri: "https://mcp.example.com/oauth/callback".parse().unwrap(),
            revocation_endpoint: None,
            resource_at_token_endpoint: false,
        }
    }
}
