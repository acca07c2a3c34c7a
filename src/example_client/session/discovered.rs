//! What discovery found, once validated: the resource, its authorization server and that
//! server's metadata.

use mcp_auth_conformance::client::scope::Scopes;
use url::Url;

/// What discovery found, once validated.
#[derive(Debug, Clone)]
pub(super) struct Discovered {
    /// The canonical resource (PRM `resource`, checked against the server's URL).
    pub(super) resource: String,
    /// The AS's issuer, from its validated metadata.
    pub(super) issuer: String,
    /// The AS's metadata (its issuer checked).
    pub(super) metadata: serde_json::Map<String, serde_json::Value>,
    pub(super) authorization_endpoint: Url,
    pub(super) token_endpoint: Url,
    /// The scopes the first sign-in asks for (the challenge's, else the PRM's).
    pub(super) initial_scope: Scopes,
}

impl Discovered {
    pub(super) fn url(&self, field: &str) -> Option<Url> {
        self.metadata
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
    }

    pub(super) fn flag(&self, field: &str) -> bool {
        self.metadata.get(field) == Some(&serde_json::Value::Bool(true))
    }
}
