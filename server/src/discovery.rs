//! Finding an authorization server's metadata (RFC 8414 section 3, OIDC Discovery), in the order
//! the MCP spec gives, and from it the JWKS URL.

use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// The parts of AS metadata the resource server needs.
#[derive(Debug, Clone, Deserialize)]
pub struct AsMetadata {
    /// Must equal the issuer asked for, exactly.
    pub issuer: String,
    /// Where the signing keys are.
    pub jwks_uri: Url,
    /// The authorization endpoint.
    pub authorization_endpoint: Url,
    /// The token endpoint.
    pub token_endpoint: Url,
}

/// Why metadata could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The issuer is not a URL.
    #[error("the issuer {0:?} is not a URL")]
    BadIssuer(String),
    /// No well-known location answered with valid metadata.
    #[error("no authorization server metadata for {issuer}; tried: {tried}")]
    NotFound {
        /// The issuer.
        issuer: String,
        /// What each location answered.
        tried: String,
    },
}

/// The well-known URLs to try for `issuer`, in the MCP spec's order.
pub fn metadata_urls(issuer: &str) -> Result<Vec<Url>, DiscoveryError> {
    let url = Url::parse(issuer).map_err(|_| DiscoveryError::BadIssuer(issuer.to_owned()))?;
    let path = url.path().trim_end_matches('/');
    let at = |p: String| {
        let mut u = url.clone();
        u.set_path(&p);
        u.set_query(None);
        u
    };
    Ok(if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    })
}

/// Fetches the metadata of `issuer`, trying each well-known location in order.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<AsMetadata, DiscoveryError> {
    let mut tried = Vec::new();
    for url in metadata_urls(issuer)? {
        let outcome = async {
            let response = http
                .get(url.clone())
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("HTTP {}", response.status()));
            }
            let metadata: AsMetadata = response
                .json()
                .await
                .map_err(|e| format!("not metadata: {e}"))?;
            if metadata.issuer != issuer {
                return Err(format!("issuer {:?} differs", metadata.issuer));
            }
            Ok(metadata)
        }
        .await;
        match outcome {
            Ok(m) => return Ok(m),
            Err(e) => tried.push(format!("{url} ({e})")),
        }
    }
    Err(DiscoveryError::NotFound {
        issuer: issuer.to_owned(),
        tried: tried.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_with_and_without_path() {
        let with: Vec<String> = metadata_urls("https://auth.example.com/tenant1")
            .unwrap()
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            with,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        let without: Vec<String> = metadata_urls("https://auth.example.com")
            .unwrap()
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            without,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }
}
