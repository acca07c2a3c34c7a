//! Client metadata (RFC 7591 section 2), as a registration request sends it (DCR,
//! `POST /register`) and as a client's metadata document states it (CIMD): one type and one
//! validator. Where the two sources are held to different rules, the difference is written here,
//! by source, with the text that makes it:
//!
//! - `client_id`: a registration is given one (RFC 7591 section 3.2.1); a document must name the
//!   URL it was fetched from (CIMD, Client Metadata: its `client_id` "MUST compare and match the
//!   URL of the document using simple string comparison").
//! - `client_name`: optional in a registration (RFC 7591 section 2: OPTIONAL); required in a
//!   document, because the consent page must name the client and no registration step asked.
//! - Client authentication: a registration may ask for `none`, `client_secret_basic` (RFC 7591's
//!   default when none is named) or `client_secret_post`; a document can only describe a public
//!   client, `none` (the default): the client writes its own registration, so "prior
//!   coordination of client credentials is not possible" (CIMD, Public vs Confidential Clients),
//!   and the draft lets a profile require `none`; the key-pair methods it allows instead
//!   (`private_key_jwt`) the façade does not support. A document carrying `client_secret` is
//!   refused outright: a secret published at a URL is no secret.
//! - `scope`: a registration is for this server alone, so a scope it does not offer is refused
//!   (RFC 7591 section 3.2.2 `invalid_client_metadata`); a document is the same for every server
//!   the client talks to, so scopes of other servers in it are no fault, and the scope that counts
//!   is the one each authorization request asks for, checked there.
//!
//! Everything else is one rule for both: 1 to 10 redirect URIs, each exact (`clients.rs`), a name
//! people can read, `authorization_code` with or without `refresh_token`, `response_types`
//! `["code"]`.

use serde::Deserialize;

use super::clients::{AuthMethod, client_name_problem, redirect_uris_problem};
use crate::oauth::shown;

/// The RFC 7591 fields the façade reads; others are ignored, as the RFC allows. The fields only
/// one source reads are taken as any JSON, so what the other source sends there is never a
/// parse error.
#[derive(Debug, Default, Deserialize)]
pub struct ClientMetadata {
    #[serde(default)]
    client_id: Option<serde_json::Value>,
    #[serde(default)]
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    response_types: Option<Vec<String>>,
    #[serde(default)]
    scope: Option<serde_json::Value>,
    #[serde(default)]
    client_secret: Option<serde_json::Value>,
}

/// Where the metadata comes from, and what that source is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A registration request, for a server offering `scopes`.
    Registration {
        /// The scopes the server offers.
        scopes: &'a [String],
    },
    /// A metadata document fetched from `url`.
    Document {
        /// The URL it was fetched from: its `client_id`.
        url: &'a str,
    },
}

/// Metadata that passed: what a client record is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Exactly as given.
    pub redirect_uris: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// `authorization_code`, and `refresh_token` when asked for.
    pub grant_types: Vec<String>,
    /// Its name, when it gave one (a document always does).
    pub client_name: Option<String>,
}

/// Why metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct Refusal {
    /// Which RFC 7591 section 3.2.2 error it is.
    pub kind: RefusalKind,
    /// What was wrong, with any echoed value cut short.
    pub description: String,
}

/// The two errors of RFC 7591 section 3.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// `invalid_redirect_uri`.
    RedirectUri,
    /// `invalid_client_metadata`.
    Metadata,
}

impl RefusalKind {
    /// The error code.
    pub fn code(self) -> &'static str {
        match self {
            Self::RedirectUri => "invalid_redirect_uri",
            Self::Metadata => "invalid_client_metadata",
        }
    }
}

fn metadata(description: impl Into<String>) -> Refusal {
    Refusal {
        kind: RefusalKind::Metadata,
        description: description.into(),
    }
}

impl ClientMetadata {
    /// Checks the metadata as `source` requires.
    pub fn validate(self, source: Source<'_>) -> Result<Accepted, Refusal> {
        if let Source::Document { url } = source {
            self.document_identity(url)?;
        }
        let redirect_uris = self.redirect_uris.unwrap_or_default();
        if let Some(problem) = redirect_uris_problem(&redirect_uris) {
            return Err(Refusal {
                kind: RefusalKind::RedirectUri,
                description: problem,
            });
        }
        let client_name = match (self.client_name, source) {
            (None, Source::Document { .. }) => return Err(metadata("it has no client_name")),
            (None, Source::Registration { .. }) => None,
            (Some(name), _) => match client_name_problem(&name) {
                Some(problem) => return Err(metadata(format!("client_name {problem}"))),
                None => Some(name),
            },
        };
        let auth_method = auth_method(self.token_endpoint_auth_method.as_deref(), source)?;
        let grant_types = grant_types(self.grant_types)?;
        if self.response_types.is_some_and(|r| r != ["code"]) {
            return Err(metadata("response_types must be [\"code\"]"));
        }
        if let Source::Registration { scopes } = source {
            registered_scope(self.scope.as_ref(), scopes)?;
        }
        Ok(Accepted {
            redirect_uris,
            auth_method,
            grant_types,
            client_name,
        })
    }

    /// A document names the URL it was fetched from and carries no secret.
    fn document_identity(&self, url: &str) -> Result<(), Refusal> {
        match &self.client_id {
            Some(serde_json::Value::String(id)) if id == url => {}
            Some(serde_json::Value::String(id)) => {
                return Err(metadata(format!(
                    "its client_id {} is not the URL it was fetched from",
                    shown(id)
                )));
            }
            Some(_) => return Err(metadata("its client_id is not a string")),
            None => return Err(metadata("it has no client_id")),
        }
        if self.client_secret.is_some() {
            return Err(metadata(
                "a metadata document must not carry a client_secret",
            ));
        }
        Ok(())
    }
}

/// The authentication method asked for, or the source's default.
fn auth_method(asked: Option<&str>, source: Source<'_>) -> Result<AuthMethod, Refusal> {
    match (asked, source) {
        // RFC 7591 section 2: the default is client_secret_basic.
        (None, Source::Registration { .. }) => Ok(AuthMethod::ClientSecretBasic),
        (None, Source::Document { .. }) => Ok(AuthMethod::None),
        (Some(m), Source::Registration { .. }) => AuthMethod::parse(m).ok_or_else(|| {
            metadata(format!(
                "token_endpoint_auth_method {} is not supported (none, client_secret_basic, client_secret_post)",
                shown(m)
            ))
        }),
        (Some("none"), Source::Document { .. }) => Ok(AuthMethod::None),
        (Some(m), Source::Document { .. }) => Err(metadata(format!(
            "token_endpoint_auth_method {} is not supported (none)",
            shown(m)
        ))),
    }
}

/// A registration's `scope`: a string of scopes this server offers.
fn registered_scope(scope: Option<&serde_json::Value>, offered: &[String]) -> Result<(), Refusal> {
    let scope = match scope {
        None => return Ok(()),
        Some(serde_json::Value::String(s)) => s,
        Some(_) => return Err(metadata("scope must be a string of space-separated scopes")),
    };
    match scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .find(|s| !offered.iter().any(|x| x == s))
    {
        Some(s) => Err(metadata(format!("scope {} is not supported", shown(s)))),
        None => Ok(()),
    }
}

/// `authorization_code`, with `refresh_token` or not; the default is the first alone.
fn grant_types(asked: Option<Vec<String>>) -> Result<Vec<String>, Refusal> {
    let grant_types = asked.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(g) = grant_types
        .iter()
        .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(metadata(format!(
            "grant type {} is not supported",
            shown(g)
        )));
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(metadata("grant_types must include authorization_code"));
    }
    Ok(grant_types)
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://app.example.com/client.json";

    fn scopes() -> Vec<String> {
        vec!["mcp:read".into(), "mcp:write".into()]
    }

    /// The same metadata checked both ways: as a registration and as the document at [`URL`].
    fn both(json: serde_json::Value) -> (Result<Accepted, Refusal>, Result<Accepted, Refusal>) {
        let scopes = scopes();
        let read = || serde_json::from_value::<ClientMetadata>(json.clone()).unwrap();
        let mut document = json.clone();
        if let Some(fields) = document.as_object_mut() {
            fields.entry("client_id").or_insert(URL.into());
        }
        let document = serde_json::from_value::<ClientMetadata>(document).unwrap();
        (
            read().validate(Source::Registration { scopes: &scopes }),
            document.validate(Source::Document { url: URL }),
        )
    }

    fn code(r: &Result<Accepted, Refusal>) -> Option<&'static str> {
        r.as_ref().err().map(|e| e.kind.code())
    }

    #[test]
    fn the_rules_both_sources_share_refuse_alike() {
        for shared in [
            serde_json::json!({"client_name": "App"}),
            serde_json::json!({"client_name": "App", "redirect_uris": ["http://evil.example/cb"]}),
            serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb#f"]}),
            serde_json::json!({"client_name": "a\u{202E}b", "redirect_uris": ["https://a.example/cb"]}),
            serde_json::json!({"client_name": "  ", "redirect_uris": ["https://a.example/cb"]}),
            serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
            serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
        ] {
            let (registration, document) = both(shared.clone());
            assert!(registration.is_err(), "{shared}");
            assert_eq!(code(&registration), code(&document), "{shared}");
        }
        let (registration, document) = both(serde_json::json!({
            "client_name": "App", "redirect_uris": ["https://a.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }));
        assert_eq!(registration.unwrap(), document.unwrap());
    }

    #[test]
    fn where_the_sources_differ_each_is_held_to_its_own_rule() {
        let good = serde_json::json!({"redirect_uris": ["https://a.example/cb"]});
        // No name: optional in a registration, required in a document.
        let (registration, document) = both(good.clone());
        assert_eq!(registration.unwrap().client_name, None);
        assert!(document.unwrap_err().description.contains("no client_name"));
        // No method named: RFC 7591's default for a registration, public for a document.
        let named =
            serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb"]});
        let (registration, document) = both(named.clone());
        assert_eq!(
            registration.unwrap().auth_method,
            AuthMethod::ClientSecretBasic
        );
        assert_eq!(document.unwrap().auth_method, AuthMethod::None);
        // A shared secret: a registration may ask for one, a document cannot describe one.
        let mut secret = named.clone();
        secret["token_endpoint_auth_method"] = "client_secret_post".into();
        let (registration, document) = both(secret);
        assert!(registration.is_ok());
        assert_eq!(code(&document), Some("invalid_client_metadata"));
        let mut carries = named.clone();
        carries["client_secret"] = "s3cret".into();
        let (_, document) = both(carries);
        assert!(document.unwrap_err().description.contains("client_secret"));
        // Another server's scope: a fault in a registration for this one, none in a document.
        let mut other = named.clone();
        other["scope"] = "mcp:read calendar:write".into();
        let (registration, document) = both(other);
        assert_eq!(code(&registration), Some("invalid_client_metadata"));
        assert!(document.is_ok());
        let mut listed = named.clone();
        listed["scope"] = serde_json::json!(["mcp:read"]);
        let (registration, document) = both(listed);
        assert!(
            registration
                .unwrap_err()
                .description
                .contains("must be a string")
        );
        assert!(document.is_ok());
    }

    #[test]
    fn a_document_names_the_url_it_was_fetched_from() {
        let doc = |id: Option<&str>| {
            let mut json = serde_json::json!({"client_name": "App", "redirect_uris": ["https://a.example/cb"]});
            if let Some(id) = id {
                json["client_id"] = id.into();
            }
            serde_json::from_value::<ClientMetadata>(json)
                .unwrap()
                .validate(Source::Document { url: URL })
        };
        assert!(doc(Some(URL)).is_ok());
        let elsewhere = doc(Some("https://evil.example/client.json")).unwrap_err();
        assert!(
            elsewhere
                .description
                .contains("is not the URL it was fetched from")
        );
        assert!(doc(None).unwrap_err().description.contains("no client_id"));
        // The id is echoed cut short.
        let long = format!("https://evil.example/{}", "x".repeat(5000));
        assert!(doc(Some(&long)).unwrap_err().description.len() < 200);
    }
}
