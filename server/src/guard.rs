//! The guard in front of the MCP endpoint: no request reaches a tool without a verified token
//! bound to this resource, and a tool call without the tool's scopes gets 403
//! `insufficient_scope` naming every scope it needs (the step-up signal).

use std::sync::{Arc, OnceLock};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    access_token::TokenVerifier,
    bearer::{Credentials, credentials},
    refusals::Refusals,
    resource::ResourceUri,
    scope::ScopeSet,
    tools,
    www_authenticate::Challenge,
};

/// What the guard needs.
pub struct Guard {
    /// Verifies tokens; set once the authorization server's keys were discovered (until then
    /// the endpoint answers 503).
    pub verifier: OnceLock<Arc<TokenVerifier>>,
    /// The PRM URL, named in every challenge.
    pub resource_metadata: String,
    /// Scopes a client should ask for first (the 401's `scope`).
    pub default_scopes: ScopeSet,
    /// Largest MCP request body read, in bytes.
    pub max_body_bytes: usize,
    /// Refused credentials, counted for the periodic report instead of a log line each.
    pub refusals: Arc<Refusals>,
}

impl Guard {
    fn challenge(&self, challenge: Challenge) -> Response {
        let status = challenge.status();
        let header_value = challenge.header_value(&self.resource_metadata);
        let (error, description) = match &challenge {
            Challenge::Unauthenticated { .. } => {
                ("unauthorized", "an access token is required".to_owned())
            }
            Challenge::InvalidToken { description } => ("invalid_token", description.clone()),
            Challenge::InvalidRequest { description } => ("invalid_request", description.clone()),
            Challenge::InsufficientScope { description, .. } => {
                ("insufficient_scope", description.clone())
            }
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&header_value) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// The middleware.
pub async fn guard(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let Some(verifier) = guard.verifier.get() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is starting: authorization server keys not loaded yet",
        )
            .into_response();
    };
    let token = match credentials(request.headers(), request.uri()) {
        Credentials::Missing => {
            return guard.challenge(Challenge::Unauthenticated {
                scope: guard.default_scopes.clone(),
            });
        }
        Credentials::Invalid(reason) => {
            guard.refusals.count(reason);
            return guard.challenge(Challenge::InvalidRequest {
                description: reason.into(),
            });
        }
        Credentials::Bearer(token) => token.to_owned(),
    };
    let principal = match verifier.verify(&token).await {
        Ok(p) => p,
        Err(e) => {
            // The reason is counted and returned; the token itself is never logged.
            guard.refusals.count(e.reason());
            return guard.challenge(Challenge::InvalidToken {
                description: e.to_string(),
            });
        }
    };
    let (mut parts, body) = request.into_parts();
    // Copied piece by piece into one buffer: a body dripped a byte at a time must not pin a read
    // buffer per byte (request_body.rs).
    let body = match crate::request_body::read_whole(body, guard.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let call = if parts.method == http::Method::POST && is_json(&parts.headers) {
        match McpCall::read(&body) {
            Ok(call) => Some(call),
            Err(refusal) => return refusal.into_response(),
        }
    } else {
        // No body the transport would read (GET, DELETE, or a media type rmcp refuses).
        None
    };
    let policy = verifier.policy();
    if let Some((tool, needed)) = call
        .as_ref()
        .and_then(|c| missing_tool_scopes(c, &principal.scopes, policy))
    {
        return guard.challenge(Challenge::InsufficientScope {
            description: format!("the tool {tool} needs the scope {needed}"),
            scope: scopes_to_ask_for(&principal.scopes, &needed, &policy.resource),
        });
    }
    parts.extensions.insert(principal);
    if let Some(call) = call {
        parts.extensions.insert(call);
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// `Content-Type` is JSON: the only body the MCP transport reads (rmcp answers 415 to others).
fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// What the guard read of an MCP POST body, once: everything after it (the scope decision, the
/// session table) reads this, so nothing decides on a body it did not see.
#[derive(Debug, Clone)]
pub struct McpCall {
    /// The JSON-RPC method; `None` for a response or error the client sends.
    pub method: Option<String>,
    /// For `tools/call`, the tool.
    pub tool: Option<String>,
}

/// The two fields of a JSON-RPC message the guard needs, borrowed, without building a tree.
/// Derived: a member given twice is an error here, so a body that names two tools is refused
/// instead of being read one way here and another way by the transport.
#[derive(serde::Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<PeekParams<'a>>,
}

#[derive(serde::Deserialize)]
struct PeekParams<'a> {
    #[serde(borrow, default)]
    name: Option<std::borrow::Cow<'a, str>>,
}

/// A body that is not one JSON-RPC message: answered as JSON-RPC says (an error with no id),
/// with 400 (MCP transports: a server that cannot accept the input answers an HTTP error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// Not JSON at all (-32700).
    Parse,
    /// JSON, but not one message this server reads (-32600): a batch (gone from MCP since
    /// 2025-06-18), a member given twice, a method that is not a string.
    InvalidRequest,
}

impl IntoResponse for BodyRefusal {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            Self::Parse => (-32700, "Parse error: the request body is not JSON"),
            Self::InvalidRequest => (
                -32600,
                "Invalid Request: the body must be one JSON-RPC message, each member once",
            ),
        };
        let body = serde_json::json!({
            "jsonrpc": "2.0", "id": null, "error": { "code": code, "message": message },
        });
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    }
}

impl McpCall {
    /// Reads the method and tool of one JSON-RPC message.
    pub fn read(body: &[u8]) -> Result<Self, BodyRefusal> {
        match serde_json::from_slice::<Peek<'_>>(body) {
            Ok(peek) => Ok(Self {
                tool: peek
                    .params
                    .and_then(|p| p.name)
                    .filter(|_| peek.method.as_deref() == Some("tools/call"))
                    .map(|n| n.into_owned()),
                method: peek.method.map(|m| m.into_owned()),
            }),
            Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
                Err(BodyRefusal::InvalidRequest)
            }
            Err(_) => Err(BodyRefusal::Parse),
        }
    }

    /// Whether this opens a 2025-11-25 session.
    pub fn is_initialize(&self) -> bool {
        self.method.as_deref() == Some("initialize")
    }
}

/// For a `tools/call` whose tool needs scopes the token lacks: the tool and all its scopes.
fn missing_tool_scopes(
    call: &McpCall,
    granted: &ScopeSet,
    policy: &crate::access_token::TokenPolicy,
) -> Option<(String, ScopeSet)> {
    let tool = call.tool.as_deref()?;
    let needed = tools::required_scopes(tool)?;
    let lacking = needed.iter().any(|s| !granted.grants(s, &policy.resource));
    lacking.then(|| (tool.to_owned(), needed))
}

/// The `scope` of an `insufficient_scope` challenge: this server's scopes the token already
/// holds and those the call needs. MCP 2025-11-25 (Runtime Insufficient Scope Errors, the
/// recommended approach): a client that asks for exactly these loses nothing it had.
fn scopes_to_ask_for(granted: &ScopeSet, needed: &ScopeSet, resource: &ResourceUri) -> ScopeSet {
    let ask = tools::SCOPES
        .iter()
        .filter(|s| granted.grants(s, resource) || needed.iter().any(|n| n == **s));
    let mut scopes: Vec<&str> = ask.copied().collect();
    // A needed scope that is not one of the listed ones (none today) is still asked for.
    scopes.extend(needed.iter().filter(|n| !tools::SCOPES.contains(n)));
    ScopeSet::parse(&scopes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_token::{TokenPolicy, TokenProfile};

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "http://127.0.0.1:9/dev".into(),
            resource: "http://127.0.0.1:8080/mcp".parse().unwrap(),
            profile: TokenProfile::Cognito,
            leeway_secs: 30,
        }
    }

    fn call(tool: &str) -> McpCall {
        read(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}}).to_string()).unwrap()
    }

    fn read(body: &str) -> Result<McpCall, BodyRefusal> {
        McpCall::read(body.as_bytes())
    }

    #[test]
    fn write_tool_needs_write_scope_in_either_form() {
        let read = ScopeSet::parse("mcp:read");
        let (tool, needed) = missing_tool_scopes(&call("notes_add"), &read, &policy()).unwrap();
        assert_eq!(
            (tool.as_str(), needed.to_string().as_str()),
            ("notes_add", "mcp:write")
        );
        assert!(missing_tool_scopes(&call("notes_list"), &read, &policy()).is_none());
        let cognito = ScopeSet::parse("http://127.0.0.1:8080/mcp/mcp:write");
        assert!(missing_tool_scopes(&call("notes_add"), &cognito, &policy()).is_none());
    }

    #[test]
    fn the_challenge_asks_for_what_the_token_holds_and_what_the_call_needs() {
        let resource = policy().resource;
        let ask = |granted: &str| {
            scopes_to_ask_for(
                &ScopeSet::parse(granted),
                &ScopeSet::parse("mcp:write"),
                &resource,
            )
            .to_string()
        };
        assert_eq!(ask("mcp:read"), "mcp:read mcp:write");
        assert_eq!(
            ask("openid http://127.0.0.1:8080/mcp/mcp:read"),
            "mcp:read mcp:write"
        );
        // Scopes of other servers, and this server's written for another resource, are not
        // this server's to ask for.
        assert_eq!(
            ask("openid profile http://other.example/mcp/mcp:read"),
            "mcp:write"
        );
        assert_eq!(ask(""), "mcp:write");
    }

    #[test]
    fn other_methods_unknown_tools_and_bodies_that_are_not_one_message() {
        let none = ScopeSet::default();
        let list = read(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert!(missing_tool_scopes(&list, &none, &policy()).is_none());
        // Unknown tools are the MCP layer's to refuse (method not found), not a scope matter.
        assert!(missing_tool_scopes(&call("nope"), &none, &policy()).is_none());
        assert_eq!(read("{not json").err(), Some(BodyRefusal::Parse));
        assert_eq!(read("").err(), Some(BodyRefusal::Parse));
        let batch =
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_add"}}]"#;
        assert_eq!(read(batch).err(), Some(BodyRefusal::InvalidRequest));
        // Two tool names: whichever one the transport would take, the guard decides on neither.
        let twice = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","name":"notes_add"}}"#;
        assert_eq!(read(twice).err(), Some(BodyRefusal::InvalidRequest));
        assert!(
            read(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
                .unwrap()
                .is_initialize()
        );
    }
}
