//! The MCP server's canonical resource URI (RFC 8707 section 2, MCP Authorization "Canonical
//! Server URI"): what PRM's `resource` says, what clients send as `resource`, and what access
//! tokens must be bound to.

use std::{fmt, str::FromStr};

use url::Url;

/// A canonical resource URI: absolute http(s), a host, no fragment, no query; lower-case scheme
/// and host, no default port, and no trailing slash on an empty path.
///
/// Parsed once: the canonical text and its URL travel together, so no caller parses it again.
#[derive(Debug, Clone)]
pub struct ResourceUri {
    text: String,
    url: Url,
}

impl PartialEq for ResourceUri {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for ResourceUri {}

impl std::hash::Hash for ResourceUri {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.text.hash(state);
    }
}

/// Why a string is not a resource URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceUriError {
    /// Not an absolute URI at all.
    #[error(
        "{0:?} is not an absolute URI (a resource URI needs a scheme, e.g. https://mcp.example.com/mcp)"
    )]
    NotAbsolute(String),
    /// A scheme other than http or https.
    #[error("{0:?} is not an http(s) URI")]
    NotHttp(String),
    /// RFC 8707: "MUST NOT include a fragment component".
    #[error("{0:?} has a fragment, which a resource URI must not have (RFC 8707 section 2)")]
    Fragment(String),
    /// RFC 8707: "SHOULD NOT include a query component"; we hold to it, for exact matching.
    #[error("{0:?} has a query, which a resource URI should not have (RFC 8707 section 2)")]
    Query(String),
}

impl ResourceUri {
    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The canonical URI, parsed.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Its path (`/mcp`; `/` for a resource at the root): where the MCP endpoint is served.
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// Its origin (`https://mcp.example.com`): the server's public base URL.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Whether `candidate` (e.g. a client's `resource` parameter or a token's `aud`) names this
    /// resource. Upper-case scheme and host are accepted, as the MCP spec asks; nothing else is
    /// loosened (a different path, port or trailing slash is a different resource).
    pub fn matches(&self, candidate: &str) -> bool {
        // The canonical form itself is the usual case (every token's scopes are checked on every
        // request), and it needs no URL parsing.
        candidate == self.text || candidate.parse::<ResourceUri>().is_ok_and(|c| c == *self)
    }
}

impl FromStr for ResourceUri {
    type Err = ResourceUriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s).map_err(|_| ResourceUriError::NotAbsolute(s.to_owned()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ResourceUriError::NotHttp(s.to_owned()));
        }
        let Some(host) = url.host_str() else {
            return Err(ResourceUriError::NotAbsolute(s.to_owned()));
        };
        if url.fragment().is_some() || s.contains('#') {
            return Err(ResourceUriError::Fragment(s.to_owned()));
        }
        if url.query().is_some() {
            return Err(ResourceUriError::Query(s.to_owned()));
        }
        // `Url` lower-cases scheme and host and drops a default port already.
        let mut canonical = format!("{}://{host}", url.scheme());
        if let Some(port) = url.port() {
            canonical.push_str(&format!(":{port}"));
        }
        // An empty path and "/" are the same resource for http(s) (RFC 3986 section 6.2.3); the
        // canonical form omits it, as the MCP spec recommends.
        if url.path() != "/" {
            canonical.push_str(url.path());
        }
        // Parsed again from the canonical text, not kept from the input: the input's user info,
        // which the canonical form drops, must not reach the URLs built from this one (PRM's).
        let url =
            Url::parse(&canonical).map_err(|_| ResourceUriError::NotAbsolute(s.to_owned()))?;
        Ok(Self {
            text: canonical,
            url,
        })
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        s.parse::<ResourceUri>().unwrap().to_string()
    }

    #[test]
    fn the_spec_examples_are_canonical_as_written() {
        for s in [
            "https://mcp.example.com/mcp",
            "https://mcp.example.com",
            "https://mcp.example.com:8443",
            "https://mcp.example.com/server/mcp",
            "http://127.0.0.1:8080/mcp",
        ] {
            assert_eq!(canon(s), s);
        }
    }

    #[test]
    fn the_spec_counter_examples_are_refused() {
        assert!(matches!(
            "mcp.example.com".parse::<ResourceUri>(),
            Err(ResourceUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            "https://mcp.example.com#fragment".parse::<ResourceUri>(),
            Err(ResourceUriError::Fragment(_))
        ));
        assert!(matches!(
            "https://mcp.example.com/mcp?x=1".parse::<ResourceUri>(),
            Err(ResourceUriError::Query(_))
        ));
        assert!(matches!(
            "ftp://mcp.example.com".parse::<ResourceUri>(),
            Err(ResourceUriError::NotHttp(_))
        ));
    }

    #[test]
    fn case_and_default_ports_are_normalised() {
        assert_eq!(
            canon("HTTPS://MCP.Example.COM/mcp"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canon("https://mcp.example.com:443/mcp"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(canon("http://localhost:80/mcp"), "http://localhost/mcp");
        assert_eq!(canon("https://mcp.example.com/"), "https://mcp.example.com");
    }

    #[test]
    fn matching_is_exact_but_for_case() {
        let r: ResourceUri = "https://mcp.example.com/mcp".parse().unwrap();
        assert!(r.matches("https://mcp.example.com/mcp"));
        assert!(r.matches("HTTPS://MCP.EXAMPLE.COM/mcp"));
        assert!(
            !r.matches("https://mcp.example.com/MCP"),
            "paths are case-sensitive"
        );
        assert!(
            !r.matches("https://mcp.example.com/mcp/"),
            "a trailing slash is another resource"
        );
        assert!(!r.matches("https://mcp.example.com:8443/mcp"));
        assert!(!r.matches("https://mcp.example.com"));
        assert!(!r.matches("not a uri"));
    }
}
