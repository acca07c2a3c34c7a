//! Dynamic Client Registration (RFC 7591) of a client that signs in through a browser.

use url::Url;

use super::{is_loopback, token::ClientAuth};
use crate::probe::{Answer, Probe};

/// What the client asks to be registered as.
#[derive(Debug, Clone)]
pub struct ClientMetadata {
    /// Shown on consent pages.
    pub client_name: String,
    /// Where responses may go.
    pub redirect_uris: Vec<Url>,
    /// `none` for a public client, or a secret-based method.
    pub token_endpoint_auth_method: String,
    /// Scopes the client may ask for, if it says.
    pub scope: Option<String>,
}

impl ClientMetadata {
    /// The registration request body.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "client_name": self.client_name,
            "redirect_uris": self.redirect_uris.iter().map(Url::as_str).collect::<Vec<_>>(),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            // MCP 2026-07-28: loopback redirect URIs make a native application.
            "application_type": if self.redirect_uris.iter().all(is_loopback) { "native" } else { "web" },
        });
        if let Some(scope) = &self.scope {
            body["scope"] = scope.clone().into();
        }
        body
    }
}

/// The `token_endpoint_auth_method` a client signing in through a browser registers with at
/// an authorization server whose metadata lists `supported`: `none` (a public client, PKCE
/// its proof) when listed or when nothing is listed, else the secret-based method the token
/// endpoint takes. The registration's answer has the last word ([`register`]).
pub fn requested_auth_method(supported: Option<&serde_json::Value>) -> &'static str {
    let offers_none = supported
        .and_then(|s| s.as_array())
        .is_none_or(|a| a.iter().any(|m| m == "none"));
    if offers_none {
        "none"
    } else {
        super::token::secret_method(supported)
    }
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Registered {
    /// How to authenticate as it at the token endpoint.
    pub auth: ClientAuth,
    /// The whole answer, as JSON.
    pub document: serde_json::Value,
}

/// Registers; the answer is returned whatever it was, with the client when it is a 201 (or
/// 200, which some servers send) carrying a `client_id`.
pub async fn register(
    probe: &Probe,
    endpoint: &Url,
    metadata: &ClientMetadata,
) -> (Answer, Option<Registered>) {
    let answer = probe.post_json(endpoint, &metadata.to_json()).await;
    let document: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
    let registered = document
        .filter(|_| matches!(answer.exchange.status, Some(200 | 201)))
        .and_then(|doc| {
            let id = doc.get("client_id")?.as_str()?.to_owned();
            let secret = doc
                .get("client_secret")
                .and_then(|s| s.as_str())
                .map(str::to_owned);
            let method = doc
                .get("token_endpoint_auth_method")
                .and_then(|m| m.as_str())
                .unwrap_or(&metadata.token_endpoint_auth_method)
                .to_owned();
            Some(Registered {
                auth: ClientAuth::for_method(id, secret, Some(&method)),
                document: doc,
            })
        });
    (answer, registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_client_unless_the_token_endpoint_wants_a_secret() {
        assert_eq!(requested_auth_method(None), "none");
        let only = |m: &str| serde_json::json!([m]);
        assert_eq!(requested_auth_method(Some(&only("none"))), "none");
        assert_eq!(
            requested_auth_method(Some(&only("client_secret_basic"))),
            "client_secret_basic"
        );
        assert_eq!(
            requested_auth_method(Some(&only("client_secret_post"))),
            "client_secret_post"
        );
    }
}
