//! `WWW-Authenticate: Bearer` challenges (RFC 6750 section 3, RFC 9728 section 5.1).

use crate::scope::ScopeSet;

/// Why a request is challenged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// No credentials: 401, with where to find metadata and which scopes to ask for.
    Unauthenticated {
        /// Scopes a client should request.
        scope: ScopeSet,
    },
    /// A token that cannot be used: 401 `invalid_token`.
    InvalidToken {
        /// Safe, token-free description.
        description: String,
    },
    /// A request that cannot be read (e.g. a token in the query): 400 `invalid_request`.
    InvalidRequest {
        /// Safe description.
        description: String,
    },
    /// A valid token without the scope the operation needs: 403 `insufficient_scope`.
    InsufficientScope {
        /// Every scope the operation needs, in one challenge.
        scope: ScopeSet,
        /// Safe description.
        description: String,
    },
}

impl Challenge {
    /// The HTTP status that goes with the challenge.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Challenge::Unauthenticated { .. } | Challenge::InvalidToken { .. } => {
                http::StatusCode::UNAUTHORIZED
            }
            Challenge::InvalidRequest { .. } => http::StatusCode::BAD_REQUEST,
            Challenge::InsufficientScope { .. } => http::StatusCode::FORBIDDEN,
        }
    }

    /// The header value; `resource_metadata` is the PRM URL, on every challenge.
    pub fn header_value(&self, resource_metadata: &str) -> String {
        let mut params = vec![("resource_metadata", resource_metadata.to_owned())];
        match self {
            Challenge::Unauthenticated { scope } => {
                if !scope.is_empty() {
                    params.push(("scope", scope.to_string()));
                }
            }
            Challenge::InvalidToken { description } => {
                params.push(("error", "invalid_token".into()));
                params.push(("error_description", description.clone()));
            }
            Challenge::InvalidRequest { description } => {
                params.push(("error", "invalid_request".into()));
                params.push(("error_description", description.clone()));
            }
            Challenge::InsufficientScope { scope, description } => {
                params.push(("error", "insufficient_scope".into()));
                params.push(("scope", scope.to_string()));
                params.push(("error_description", description.clone()));
            }
        }
        let rendered: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", quote(v)))
            .collect();
        format!("Bearer {}", rendered.join(", "))
    }
}

/// An RFC 9110 quoted-string; RFC 6750 limits these values to printable ASCII, so anything else
/// is replaced rather than risk a malformed header.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRM: &str = "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp";

    #[test]
    fn unauthenticated() {
        let c = Challenge::Unauthenticated {
            scope: ScopeSet::parse("mcp:read"),
        };
        assert_eq!(c.status(), 401);
        assert_eq!(
            c.header_value(PRM),
            format!(r#"Bearer resource_metadata="{PRM}", scope="mcp:read""#)
        );
    }

    #[test]
    fn invalid_token_escapes_and_stays_ascii() {
        let c = Challenge::InvalidToken {
            description: "bad \"sig\" ünicode".into(),
        };
        assert_eq!(c.status(), 401);
        let v = c.header_value(PRM);
        assert!(v.contains(r#"error="invalid_token""#), "{v}");
        assert!(
            v.contains(r#"error_description="bad \"sig\" ?nicode""#),
            "{v}"
        );
        assert!(http::HeaderValue::from_str(&v).is_ok());
    }

    #[test]
    fn insufficient_scope_names_every_needed_scope() {
        let c = Challenge::InsufficientScope {
            scope: ScopeSet::parse("mcp:read mcp:write"),
            description: "the tool needs mcp:write".into(),
        };
        assert_eq!(c.status(), 403);
        let v = c.header_value(PRM);
        assert!(v.starts_with(&format!(r#"Bearer resource_metadata="{PRM}", error="insufficient_scope", scope="mcp:read mcp:write""#)), "{v}");
    }
}
