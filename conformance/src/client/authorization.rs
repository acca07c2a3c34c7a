//! The authorization request (OAuth 2.1 §4.1.1 with PKCE and RFC 8707 `resource`) and the
//! authorization response, validated as the MCP spec asks (`state`, RFC 9207 `iss`).

use url::Url;

/// How the request carries PKCE: S256 as clients must, or deliberately wrong ways for the tester.
#[derive(Debug, Clone)]
pub enum Pkce {
    /// `code_challenge` and `code_challenge_method=S256`.
    S256(String),
    /// `code_challenge=<verifier>` and `code_challenge_method=plain`.
    Plain(String),
    /// No challenge at all.
    Omitted,
}

/// One authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The AS's `authorization_endpoint`.
    pub endpoint: Url,
    /// The client: an id, or a metadata document URL.
    pub client_id: String,
    /// Where the response goes.
    pub redirect_uri: Url,
    /// Space-separated scopes, if any.
    pub scope: Option<String>,
    /// The opaque value that ties the response to this request.
    pub state: String,
    /// The PKCE parameters.
    pub pkce: Pkce,
    /// The RFC 8707 resource (the MCP server's canonical URI).
    pub resource: Option<String>,
}

impl AuthorizationRequest {
    /// The URL a browser is sent to.
    pub fn url(&self) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", self.redirect_uri.as_str());
            if let Some(scope) = &self.scope {
                q.append_pair("scope", scope);
            }
            q.append_pair("state", &self.state);
            match &self.pkce {
                Pkce::S256(challenge) => {
                    q.append_pair("code_challenge", challenge)
                        .append_pair("code_challenge_method", "S256");
                }
                Pkce::Plain(verifier) => {
                    q.append_pair("code_challenge", verifier)
                        .append_pair("code_challenge_method", "plain");
                }
                Pkce::Omitted => {}
            }
            if let Some(resource) = &self.resource {
                q.append_pair("resource", resource);
            }
        }
        url
    }
}

/// The parameters the AS sent back to the redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// The query parameters, in order.
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// The response carried by `location`, if it is addressed to `redirect_uri` (same scheme,
    /// host, port and path; loopback ports may differ, as RFC 8252 §7.3 lets the AS match).
    pub fn from_location(location: &Url, redirect_uri: &Url) -> Option<Self> {
        let loopback = super::is_loopback(redirect_uri);
        let same = location.scheme() == redirect_uri.scheme()
            && location.host_str() == redirect_uri.host_str()
            && (loopback
                || location.port_or_known_default() == redirect_uri.port_or_known_default())
            && location.path() == redirect_uri.path();
        same.then(|| Self {
            params: location
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        })
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The authorization code, on success.
    pub fn code(&self) -> Option<&str> {
        self.get("code")
    }

    /// The error code, on failure.
    pub fn error(&self) -> Option<&str> {
        self.get("error")
    }

    /// Validates `state` and `iss` before anything in the response is used (RFC 6749 §4.1.2,
    /// RFC 9207 §2.4 with the MCP 2026-07-28 table): `iss` is compared as a plain string.
    pub fn validate(
        &self,
        state: &str,
        recorded_issuer: &str,
        iss_advertised: bool,
    ) -> Result<(), ResponseRejected> {
        match (self.get("iss"), iss_advertised) {
            (Some(iss), _) if iss != recorded_issuer => {
                return Err(ResponseRejected::IssuerMismatch {
                    got: iss.to_owned(),
                    expected: recorded_issuer.to_owned(),
                });
            }
            (None, true) => return Err(ResponseRejected::IssuerMissing),
            _ => {}
        }
        match self.get("state") {
            Some(s) if s == state => Ok(()),
            Some(_) => Err(ResponseRejected::StateMismatch),
            None => Err(ResponseRejected::StateMissing),
        }
    }
}

/// Why a client must not act on an authorization response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseRejected {
    /// `iss` names another issuer: a mix-up attack or a misconfigured AS.
    #[error(
        "iss is {got:?}, but the metadata's issuer is {expected:?} (RFC 9207 §2.4: compared exactly)"
    )]
    IssuerMismatch {
        /// What came.
        got: String,
        /// The recorded issuer.
        expected: String,
    },
    /// The AS advertises `iss` but left it out.
    #[error("no iss, though the metadata sets authorization_response_iss_parameter_supported")]
    IssuerMissing,
    /// `state` differs from the request's.
    #[error("state does not match the request's: the response belongs to another request")]
    StateMismatch,
    /// No `state`.
    #[error("no state in the response, though the request sent one")]
    StateMissing,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(q: &str) -> AuthorizationResponse {
        let redirect = Url::parse("http://127.0.0.1:3000/callback").unwrap();
        AuthorizationResponse::from_location(
            &Url::parse(&format!("http://127.0.0.1:4000/callback?{q}")).unwrap(),
            &redirect,
        )
        .unwrap()
    }

    #[test]
    fn the_request_carries_pkce_state_and_resource() {
        let request = AuthorizationRequest {
            endpoint: Url::parse("https://as.example.com/authorize?tenant=a").unwrap(),
            client_id: "https://client.example.com/meta.json".into(),
            redirect_uri: Url::parse("http://127.0.0.1/callback").unwrap(),
            scope: Some("mcp:read mcp:write".into()),
            state: "s1".into(),
            pkce: Pkce::S256("chal".into()),
            resource: Some("https://mcp.example.com/mcp".into()),
        };
        assert_eq!(
            request.url().as_str(),
            "https://as.example.com/authorize?tenant=a&response_type=code&client_id=https%3A%2F%2Fclient.example.com%2Fmeta.json&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=mcp%3Aread+mcp%3Awrite&state=s1&code_challenge=chal&code_challenge_method=S256&resource=https%3A%2F%2Fmcp.example.com%2Fmcp"
        );
    }

    #[test]
    fn responses_are_recognised_only_at_the_redirect_uri() {
        let redirect = Url::parse("https://app.example.com/cb").unwrap();
        let at = |u: &str| AuthorizationResponse::from_location(&Url::parse(u).unwrap(), &redirect);
        assert!(at("https://app.example.com/cb?code=x").is_some());
        assert!(at("https://app.example.com:8443/cb?code=x").is_none());
        assert!(at("https://app.example.com/other?code=x").is_none());
        assert!(at("http://app.example.com/cb?code=x").is_none());
    }

    #[test]
    fn rfc9207_table() {
        let issuer = "https://as.example.com";
        let ok = response("code=c&state=s&iss=https%3A%2F%2Fas.example.com");
        assert_eq!(ok.validate("s", issuer, true), Ok(()));
        assert_eq!(ok.validate("s", issuer, false), Ok(()));
        // Compared as strings: no trailing-slash or case normalisation.
        let slash = response("code=c&state=s&iss=https%3A%2F%2Fas.example.com%2F");
        assert!(matches!(
            slash.validate("s", issuer, false),
            Err(ResponseRejected::IssuerMismatch { .. })
        ));
        let upper = response("code=c&state=s&iss=https%3A%2F%2FAS.example.com");
        assert!(upper.validate("s", issuer, true).is_err());
        let absent = response("code=c&state=s");
        assert_eq!(
            absent.validate("s", issuer, true),
            Err(ResponseRejected::IssuerMissing)
        );
        assert_eq!(absent.validate("s", issuer, false), Ok(()));
        assert_eq!(
            ok.validate("other", issuer, true),
            Err(ResponseRejected::StateMismatch)
        );
        // The issuer is checked first: an error from a mixed-up AS is never acted on.
        let mixed_error = response("error=access_denied&state=s&iss=https%3A%2F%2Fevil.example");
        assert!(matches!(
            mixed_error.validate("s", issuer, true),
            Err(ResponseRejected::IssuerMismatch { .. })
        ));
    }
}
