//! The token endpoint (OAuth 2.1 §3.2): code exchange with the PKCE verifier, refresh, client
//! credentials; `resource` (RFC 8707) on each.

use url::Url;

use crate::probe::{Exchange, Probe};

/// How the client authenticates at the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// A public client: `client_id` in the body.
    Public(String),
    /// `client_secret_basic`.
    Basic {
        /// The id.
        id: String,
        /// The secret.
        secret: String,
    },
    /// `client_secret_post`.
    Post {
        /// The id.
        id: String,
        /// The secret.
        secret: String,
    },
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::Public(id) => write!(f, "Public({id})"),
            ClientAuth::Basic { id, .. } => write!(f, "Basic({id}, [redacted])"),
            ClientAuth::Post { id, .. } => write!(f, "Post({id}, [redacted])"),
        }
    }
}

impl ClientAuth {
    /// The client's id.
    pub fn client_id(&self) -> &str {
        match self {
            ClientAuth::Public(id) | ClientAuth::Basic { id, .. } | ClientAuth::Post { id, .. } => {
                id
            }
        }
    }

    /// Its `token_endpoint_auth_method`.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::Public(_) => "none",
            ClientAuth::Basic { .. } => "client_secret_basic",
            ClientAuth::Post { .. } => "client_secret_post",
        }
    }

    /// From a registration's `token_endpoint_auth_method` (RFC 7591; basic is the default).
    pub fn for_method(id: String, secret: Option<String>, method: Option<&str>) -> Self {
        match (secret, method) {
            (None, _) | (_, Some("none")) => ClientAuth::Public(id),
            (Some(secret), Some("client_secret_post")) => ClientAuth::Post { id, secret },
            (Some(secret), _) => ClientAuth::Basic { id, secret },
        }
    }
}

/// How a client that holds a secret authenticates at a token endpoint that lists `supported`
/// (its `token_endpoint_auth_methods_supported`): `client_secret_basic` when listed or when
/// nothing is listed (RFC 8414 §2: the default), else `client_secret_post` when listed, else
/// `none` (the secret is of no use there).
pub fn secret_method(supported: Option<&serde_json::Value>) -> &'static str {
    let listed = |m: &str| {
        supported
            .and_then(|s| s.as_array())
            .is_none_or(|a| a.iter().any(|x| x == m))
    };
    if listed("client_secret_basic") {
        "client_secret_basic"
    } else if listed("client_secret_post") {
        "client_secret_post"
    } else {
        "none"
    }
}

/// Tokens from a successful answer.
#[derive(Clone)]
pub struct Tokens {
    /// The access token.
    pub access_token: String,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires, if said.
    pub expires_in: Option<u64>,
    /// The granted scope, if said.
    pub scope: Option<String>,
    /// The `token_type`, if said.
    pub token_type: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// What the token endpoint answered.
#[derive(Debug, Clone)]
pub struct TokenAnswer {
    /// The exchange, as evidence (tokens redacted).
    pub exchange: Exchange,
    /// The tokens, on a 200 with an access token.
    pub tokens: Option<Tokens>,
    /// The OAuth `error` code, on an error answer.
    pub error: Option<String>,
}

/// Exchanges an authorization code (OAuth 2.1 §4.1.3).
pub async fn exchange_code(
    probe: &Probe,
    endpoint: &Url,
    auth: &ClientAuth,
    code: &str,
    redirect_uri: &Url,
    verifier: &str,
    resource: Option<&str>,
) -> TokenAnswer {
    let mut fields = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code.to_owned()),
        ("redirect_uri", redirect_uri.to_string()),
        ("code_verifier", verifier.to_owned()),
    ];
    if let Some(r) = resource {
        fields.push(("resource", r.to_owned()));
    }
    request(probe, endpoint, auth, fields).await
}

/// Uses a refresh token (OAuth 2.1 §4.3).
pub async fn refresh(
    probe: &Probe,
    endpoint: &Url,
    auth: &ClientAuth,
    refresh_token: &str,
    resource: Option<&str>,
) -> TokenAnswer {
    refresh_asking(probe, endpoint, auth, refresh_token, resource, None).await
}

/// Refreshes, asking for `scope` (OAuth 2.1 §4.3.1: it may not name a scope the grant lacks).
pub async fn refresh_asking(
    probe: &Probe,
    endpoint: &Url,
    auth: &ClientAuth,
    refresh_token: &str,
    resource: Option<&str>,
    scope: Option<&str>,
) -> TokenAnswer {
    let mut fields = vec![
        ("grant_type", "refresh_token".to_owned()),
        ("refresh_token", refresh_token.to_owned()),
    ];
    if let Some(r) = resource {
        fields.push(("resource", r.to_owned()));
    }
    if let Some(s) = scope {
        fields.push(("scope", s.to_owned()));
    }
    request(probe, endpoint, auth, fields).await
}

/// The client credentials grant (OAuth 2.1 §4.2), for machine clients.
pub async fn client_credentials(
    probe: &Probe,
    endpoint: &Url,
    auth: &ClientAuth,
    scope: Option<&str>,
    resource: Option<&str>,
) -> TokenAnswer {
    let mut fields = vec![("grant_type", "client_credentials".to_owned())];
    if let Some(s) = scope {
        fields.push(("scope", s.to_owned()));
    }
    if let Some(r) = resource {
        fields.push(("resource", r.to_owned()));
    }
    request(probe, endpoint, auth, fields).await
}

async fn request(
    probe: &Probe,
    endpoint: &Url,
    auth: &ClientAuth,
    mut fields: Vec<(&str, String)>,
) -> TokenAnswer {
    let basic = match auth {
        ClientAuth::Public(id) => {
            fields.push(("client_id", id.clone()));
            None
        }
        ClientAuth::Post { id, secret } => {
            fields.push(("client_id", id.clone()));
            fields.push(("client_secret", secret.clone()));
            None
        }
        ClientAuth::Basic { id, secret } => Some((id.as_str(), secret.as_str())),
    };
    let fields: Vec<(String, String)> =
        fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let answer = probe.post_form(endpoint, &fields, basic).await;
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let tokens = (answer.exchange.status == Some(200))
        .then(|| text("access_token"))
        .flatten()
        .map(|access_token| Tokens {
            access_token,
            refresh_token: text("refresh_token"),
            expires_in: json.get("expires_in").and_then(|v| v.as_u64()),
            scope: text("scope"),
            token_type: text("token_type"),
        });
    TokenAnswer {
        exchange: answer.exchange,
        tokens,
        error: text("error"),
    }
}

/// The payload of a JWT, decoded without verification (for display, or to see when a token
/// says it expires), or `None` if the token is not a JWT.
pub fn unverified_claims(token: &str) -> Option<serde_json::Value> {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_goes_where_the_token_endpoint_takes_it() {
        let list = |v: serde_json::Value| Some(v);
        assert_eq!(secret_method(None), "client_secret_basic");
        assert_eq!(
            secret_method(list(serde_json::json!(["none", "client_secret_post"])).as_ref()),
            "client_secret_post"
        );
        assert_eq!(
            secret_method(
                list(serde_json::json!([
                    "client_secret_post",
                    "client_secret_basic"
                ]))
                .as_ref()
            ),
            "client_secret_basic"
        );
        assert_eq!(
            secret_method(list(serde_json::json!(["none"])).as_ref()),
            "none"
        );
    }
}
