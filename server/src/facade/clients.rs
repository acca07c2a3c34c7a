//! The façade's clients: registered by DCR (RFC 7591) or described by a Client ID Metadata
//! Document, and the rules their redirect URIs follow.

use serde::{Deserialize, Serialize};

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client (PKCE only).
    None,
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// The client secret in the form body.
    ClientSecretPost,
}

impl AuthMethod {
    /// Parses the RFC 7591 value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }

    /// The RFC 7591 value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Where a client's metadata came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Dynamic Client Registration.
    Dcr,
    /// A Client ID Metadata Document.
    Cimd,
}

/// A client the façade knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client id (for CIMD, the document's URL).
    pub client_id: String,
    /// SHA-256 of the secret, hex; secrets are 256-bit random, so a fast hash is enough.
    pub secret_sha256: Option<String>,
    /// Token endpoint authentication.
    pub auth_method: AuthMethod,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// A name to show on the consent page.
    pub client_name: Option<String>,
    /// Registered grant types.
    pub grant_types: Vec<String>,
    /// Where it came from.
    pub origin: Origin,
    /// When it was registered (seconds since the epoch).
    pub issued_at: u64,
}

impl Client {
    /// Whether `requested` is one of the client's redirect URIs: exactly, except that for
    /// loopback redirect URIs the port may differ (RFC 8252 section 7.3).
    pub fn accepts_redirect(&self, requested: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| redirect_matches(registered, requested))
    }

    /// The name to show, falling back to the id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }
}

/// RFC 8252 section 7.3 for loopback, exact match otherwise.
pub fn redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(r), Ok(q)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    is_loopback_http(&r)
        && r.scheme() == q.scheme()
        && r.host_str() == q.host_str()
        && r.path() == q.path()
        && r.query() == q.query()
        && q.fragment().is_none()
        && r.username() == q.username()
        && q.password().is_none()
}

/// `http://127.0.0.1`, `http://[::1]` or `http://localhost`, any port.
pub fn is_loopback_http(url: &url::Url) -> bool {
    url.scheme() == "http" && is_loopback_host(url)
}

/// Whether a URL names this machine (127.0.0.1, `[::1]` or `localhost`), whatever its scheme.
pub fn is_loopback_host(url: &url::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
}

/// Why a redirect URI cannot be registered.
pub fn redirect_uri_problem(uri: &str) -> Option<&'static str> {
    // URL parsers drop tabs and newlines and turn backslashes into slashes: what is registered
    // must be exactly what is later compared, so such input is refused, not repaired.
    if uri
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Some("contains whitespace, control characters or backslashes");
    }
    let Ok(url) = url::Url::parse(uri) else {
        return Some("is not an absolute URI");
    };
    // `http://localhost:3000` and `http://localhost:3000/` are the same URI; nothing else may differ.
    if url.as_str() != uri && url.as_str().strip_suffix('/') != Some(uri) {
        return Some(
            "is not in canonical form (lower-case scheme and host, no default port, no dot segments)",
        );
    }
    if url.fragment().is_some() || uri.contains('#') {
        return Some("has a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("has user information");
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => None,
        "http" if is_loopback_http(&url) => None,
        "http" => Some("uses http on a host that is not loopback (use https)"),
        _ => Some("uses a scheme other than https or loopback http"),
    }
}

/// Why a client name cannot be shown on the consent page: empty, too long, or with characters
/// that change how the text around them reads (control characters, bidirectional overrides).
pub fn client_name_problem(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        return Some("is empty");
    }
    if name.chars().count() > 200 {
        return Some("is longer than 200 characters");
    }
    let misleading = |c: char| {
        c.is_control()
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
    };
    if name.chars().any(misleading) {
        return Some("contains control or bidirectional-override characters");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ports_are_free_everything_else_exact() {
        assert!(redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53124/callback"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1:3000/callback",
            "http://127.0.0.1:53124/callback"
        ));
        assert!(redirect_matches(
            "http://localhost:3000/cb",
            "http://localhost:4000/cb"
        ));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:4000/cb"));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/callback",
            "http://localhost:5/callback"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com:444/cb"
        ));
        assert!(!redirect_matches(
            "https://app.example.com/cb",
            "https://app.example.com/cb/"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:1/cb#frag"
        ));
    }

    #[test]
    fn registrable_redirect_uris() {
        assert_eq!(redirect_uri_problem("https://app.example.com/cb"), None);
        assert_eq!(redirect_uri_problem("http://127.0.0.1:3000/cb"), None);
        assert_eq!(redirect_uri_problem("http://localhost/cb"), None);
        assert!(redirect_uri_problem("http://app.example.com/cb").is_some());
        assert!(redirect_uri_problem("https://app.example.com/cb#x").is_some());
        assert!(redirect_uri_problem("javascript:alert(1)").is_some());
        assert!(redirect_uri_problem("/relative").is_some());
        assert!(redirect_uri_problem("https://user:pw@app.example.com/cb").is_some());
    }
}
