//! The URLs the server answers on and talks to, checked once at start-up: https, or plain http
//! only on this machine's loopback. A bad one stops the server before it listens, never a request
//! halfway through a sign-in.
//!
//! Why loopback is the only exception: OAuth 2.1 section 1.5 requires TLS for every endpoint
//! but loopback redirect URIs, the MCP authorization spec says "All authorization server
//! endpoints MUST be served over HTTPS", and browsers keep the façade's `__Host-` cookies only
//! on https, so over plain http anywhere else tokens, codes and sign-in cookies travel in clear.

use std::{fmt, str::FromStr};

use url::Url;

use crate::resource::ResourceUri;

/// The hosts that name this machine, as they must be written (OAuth 2.1 section 8.4.2's loopback
/// redirect URIs, and the development setups).
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// `http://127.0.0.1`, `http://[::1]` or `http://localhost`, any port.
pub fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http" && is_loopback_host(url)
}

/// Whether a URL names this machine (127.0.0.1, `[::1]` or `localhost`), whatever its scheme.
pub fn is_loopback_host(url: &Url) -> bool {
    url.host_str().is_some_and(|h| LOOPBACK_HOSTS.contains(&h))
}

/// The host part of a loopback URI as written (`127.0.0.1`, `[::1]`, `localhost`) that `authority`
/// starts with, if any.
pub(crate) fn loopback_host_prefix(authority: &str) -> Option<&'static str> {
    LOOPBACK_HOSTS
        .into_iter()
        .find(|h| authority.starts_with(h))
}

/// Why a configured URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// Not an absolute URL.
    #[error("{given:?} is not an absolute URL (e.g. https://auth.example.com/oauth2/token)")]
    NotUrl {
        /// The text.
        given: String,
    },
    /// Neither http nor https, or no host.
    #[error("{given:?} is not an http(s) URL with a host")]
    NotHttp {
        /// The text.
        given: String,
    },
    /// Plain http to a host that is not this machine.
    #[error(
        "{given:?} is plain http to {host}, which is not this machine: tokens, codes and sign-in \
         cookies would cross the network in clear (OAuth 2.1 section 1.5, Communication \
         Security, asks TLS of every endpoint). Use https (TLS can end at a proxy in front of \
         the server), or http only on localhost, 127.0.0.1 or [::1]"
    )]
    PlainHttpOffLoopback {
        /// The text.
        given: String,
        /// Its host.
        host: String,
    },
}

/// An absolute URL the server talks to or sends browsers to: https, or http on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(Url);

impl Endpoint {
    /// Parses and checks `given`.
    pub fn parse(given: &str) -> Result<Self, EndpointError> {
        let url = Url::parse(given).map_err(|_| EndpointError::NotUrl {
            given: given.to_owned(),
        })?;
        Self::from_url(url)
    }

    /// Checks an already parsed URL.
    pub fn from_url(url: Url) -> Result<Self, EndpointError> {
        let given = || url.as_str().to_owned();
        let Some(host) = url.host_str() else {
            return Err(EndpointError::NotHttp { given: given() });
        };
        match url.scheme() {
            "https" => Ok(Self(url)),
            "http" if is_loopback_host(&url) => Ok(Self(url)),
            "http" => Err(EndpointError::PlainHttpOffLoopback {
                given: given(),
                host: host.to_owned(),
            }),
            _ => Err(EndpointError::NotHttp { given: given() }),
        }
    }

    /// This URL with `path` (which starts with `/`) appended to its path: an endpoint under a
    /// base such as a Cognito domain.
    pub fn under(&self, path: &str) -> Self {
        let mut url = self.0.clone();
        let joined = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        Self(url)
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// Its text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The façade's issuer: the origin of the resource URI, which every client discovers the
/// authorization server from (RFC 8414 issuer, no path, no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    origin: String,
    https: bool,
}

impl Issuer {
    /// The issuer for `resource`: its origin, which must be https or loopback http.
    pub fn for_resource(resource: &ResourceUri) -> Result<Self, EndpointError> {
        let url = resource.url();
        Endpoint::from_url(url.clone())?;
        Ok(Self {
            origin: url.origin().ascii_serialization(),
            https: url.scheme() == "https",
        })
    }

    /// The issuer's text (`https://mcp.example.com`).
    pub fn as_str(&self) -> &str {
        &self.origin
    }

    /// Whether it is served over TLS (its cookies can then be `Secure` and `__Host-`).
    pub fn is_https(&self) -> bool {
        self.https
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_and_http_only_on_loopback() {
        for ok in [
            "https://auth.example.com/oauth2/token",
            "http://localhost:8080/oauth2/token",
            "http://127.0.0.1:5000/x",
            "http://[::1]:9/",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        let plain = Endpoint::parse("http://auth.example.com/token").unwrap_err();
        assert!(
            matches!(&plain, EndpointError::PlainHttpOffLoopback { host, .. } if host == "auth.example.com"),
            "{plain:?}"
        );
        assert!(plain.to_string().contains("https"), "{plain}");
        // 10.0.0.1 or a name that happens to resolve to loopback is not this machine for sure.
        assert!(Endpoint::parse("http://10.0.0.1/x").is_err());
        assert!(Endpoint::parse("http://localhost.example.com/x").is_err());
        assert!(matches!(
            Endpoint::parse("ftp://auth.example.com/"),
            Err(EndpointError::NotHttp { .. })
        ));
        assert!(matches!(
            Endpoint::parse("/oauth2/token"),
            Err(EndpointError::NotUrl { .. })
        ));
    }

    #[test]
    fn an_endpoint_under_a_base_keeps_its_path() {
        let base = Endpoint::parse("https://auth.example.com/").unwrap();
        assert_eq!(
            base.under("/oauth2/token").as_str(),
            "https://auth.example.com/oauth2/token"
        );
        let nested = Endpoint::parse("http://127.0.0.1:5000/cognito").unwrap();
        assert_eq!(
            nested.under("/oauth2/authorize").as_str(),
            "http://127.0.0.1:5000/cognito/oauth2/authorize"
        );
    }

    #[test]
    fn the_issuer_is_the_resource_origin_and_refuses_plain_http_off_loopback() {
        let issuer =
            Issuer::for_resource(&"https://MCP.example.com:443/mcp".parse().unwrap()).unwrap();
        assert_eq!(issuer.as_str(), "https://mcp.example.com");
        assert!(issuer.is_https());
        let local = Issuer::for_resource(&"http://127.0.0.1:8080/mcp".parse().unwrap()).unwrap();
        assert_eq!(local.as_str(), "http://127.0.0.1:8080");
        assert!(!local.is_https());
        assert!(matches!(
            Issuer::for_resource(&"http://mcp.example.com/mcp".parse().unwrap()),
            Err(EndpointError::PlainHttpOffLoopback { .. })
        ));
    }
}
