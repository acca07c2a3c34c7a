//! OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint.

use serde::Serialize;
use url::Url;

use crate::{resource::ResourceUri, scope::ScopeSet};

/// The well-known suffix of RFC 9728 section 3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The PRM document (RFC 9728 section 2).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    /// The resource's canonical URI; clients must check it equals the URI they used.
    pub resource: String,
    /// Issuers of the authorization servers that issue tokens for this resource.
    pub authorization_servers: Vec<String>,
    /// Scopes a client needs for basic use (never `offline_access`, as MCP asks).
    pub scopes_supported: Vec<String>,
    /// Only the Authorization header.
    pub bearer_methods_supported: Vec<&'static str>,
    /// A name for consent screens and logs.
    pub resource_name: String,
}

impl ProtectedResourceMetadata {
    /// The document for `resource`, protected by `authorization_server`.
    pub fn new(
        resource: &ResourceUri,
        authorization_server: &str,
        scopes: &ScopeSet,
        resource_name: &str,
    ) -> Self {
        Self {
            resource: resource.to_string(),
            authorization_servers: vec![authorization_server.to_owned()],
            scopes_supported: scopes
                .iter()
                .filter(|s| *s != "offline_access")
                .map(str::to_owned)
                .collect(),
            bearer_methods_supported: vec!["header"],
            resource_name: resource_name.to_owned(),
        }
    }
}

/// The path-inserted metadata URL of RFC 9728 section 3.1: the well-known suffix goes between
/// the authority and the resource's path (`https://h/mcp` -> `https://h/.well-known/oauth-protected-resource/mcp`).
pub fn metadata_url(resource: &ResourceUri) -> Url {
    let path = resource.path().trim_end_matches('/');
    let mut out = resource.url().clone();
    // Built by hand: `Url::join` with a relative path would drop the last segment.
    out.set_path(&format!("{WELL_KNOWN}{path}"));
    out
}

/// The path component at which the path-inserted document is served.
pub fn metadata_path(resource: &ResourceUri) -> String {
    metadata_url(resource).path().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_insertion_per_rfc_9728() {
        let r: ResourceUri = "https://mcp.example.com/public/mcp".parse().unwrap();
        assert_eq!(
            metadata_url(&r).as_str(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp"
        );
        let root: ResourceUri = "https://mcp.example.com".parse().unwrap();
        assert_eq!(
            metadata_url(&root).as_str(),
            "https://mcp.example.com/.well-known/oauth-protected-resource"
        );
        let port: ResourceUri = "http://127.0.0.1:8080/mcp".parse().unwrap();
        assert_eq!(
            metadata_path(&port),
            "/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn document_shape() {
        let r: ResourceUri = "http://127.0.0.1:8080/mcp".parse().unwrap();
        let doc = ProtectedResourceMetadata::new(
            &r,
            "http://127.0.0.1:8080",
            &ScopeSet::parse("mcp:read offline_access"),
            "mcp-auth-kit demo",
        );
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "http://127.0.0.1:8080/mcp",
                "authorization_servers": ["http://127.0.0.1:8080"],
                "scopes_supported": ["mcp:read"],
                "bearer_methods_supported": ["header"],
                "resource_name": "mcp-auth-kit demo"
            })
        );
    }
}
