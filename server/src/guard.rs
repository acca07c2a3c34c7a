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
    mcp::McpCall,
    refusals::Refusals,
    resource::ResourceUri,
    scope::ScopeSet,
    tool_scopes::ToolScopes,
    www_authenticate::Challenge,
};

/// What the guard needs.
pub struct Guard {
    /// Verifies tokens; set once the authorization server's keys were discovered (until then
    /// the endpoint answers 503).
    pub verifier: OnceLock<Arc<TokenVerifier>>,
    /// The PRM URL, named in every challenge.
    pub resource_metadata: String,
    /// What each tool needs; its first scopes are the 401's `scope`.
    pub tools: Arc<dyn ToolScopes>,
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
                scope: guard.tools.first(),
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
        match McpCall::read(&parts.headers, &body) {
            Ok(call) => Some(call),
            Err(refusal) => return refusal.into_response(),
        }
    } else {
        // No body the transport would read (GET, DELETE, or a media type rmcp refuses).
        None
    };
    let policy = verifier.policy();
    let tools = guard.tools.as_ref();
    if let Some((tool, needed)) = call
        .as_ref()
        .and_then(|c| missing_tool_scopes(c, &principal.scopes, policy, tools))
    {
        return guard.challenge(Challenge::InsufficientScope {
            description: format!("the tool {tool} needs the scope {needed}"),
            scope: scopes_to_ask_for(&principal.scopes, &needed, &policy.resource, tools),
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

/// For a `tools/call` whose tool needs scopes the token lacks: the tool and all its scopes.
fn missing_tool_scopes(
    call: &McpCall,
    granted: &ScopeSet,
    policy: &crate::access_token::TokenPolicy,
    tools: &dyn ToolScopes,
) -> Option<(String, ScopeSet)> {
    let tool = call.tool()?;
    let needed = tools.required(tool)?;
    let lacking = needed.iter().any(|s| !granted.grants(s, &policy.resource));
    lacking.then(|| (tool.to_owned(), needed))
}

/// The `scope` of an `insufficient_scope` challenge: this server's scopes the token already
/// holds and those the call needs. MCP 2025-11-25 (Runtime Insufficient Scope Errors, the
/// recommended approach): a client that asks for exactly these loses nothing it had.
fn scopes_to_ask_for(
    granted: &ScopeSet,
    needed: &ScopeSet,
    resource: &ResourceUri,
    tools: &dyn ToolScopes,
) -> ScopeSet {
    let all = tools.all();
    let ask = all
        .iter()
        .filter(|s| granted.grants(s, resource) || needed.iter().any(|n| n == *s));
    // A needed scope that is not one of the listed ones is still asked for.
    let unlisted = needed.iter().filter(|n| !all.iter().any(|s| s == *n));
    ask.chain(unlisted).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        access_token::{TokenPolicy, TokenProfile},
        tools::BundledScopes,
    };

    fn policy() -> TokenPolicy {
        TokenPolicy {
            issuer: "http://127.0.0.1:9/dev".into(),
            resource: "http://127.0.0.1:8080/mcp".parse().unwrap(),
            profile: TokenProfile::Cognito,
            leeway_secs: 30,
        }
    }

    fn call(tool: &str) -> McpCall {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool}});
        McpCall::read(&http::HeaderMap::new(), body.to_string().as_bytes()).unwrap()
    }

    fn missing(tool: &str, granted: &ScopeSet) -> Option<(String, ScopeSet)> {
        missing_tool_scopes(&call(tool), granted, &policy(), &BundledScopes)
    }

    #[test]
    fn write_tool_needs_write_scope_in_either_form() {
        let read = ScopeSet::parse("mcp:read");
        let (tool, needed) = missing("notes_add", &read).unwrap();
        assert_eq!(
            (tool.as_str(), needed.to_string().as_str()),
            ("notes_add", "mcp:write")
        );
        assert!(missing("notes_list", &read).is_none());
        let cognito = ScopeSet::parse("http://127.0.0.1:8080/mcp/mcp:write");
        assert!(missing("notes_add", &cognito).is_none());
    }

    #[test]
    fn the_challenge_asks_for_what_the_token_holds_and_what_the_call_needs() {
        let resource = policy().resource;
        let ask = |granted: &str| {
            scopes_to_ask_for(
                &ScopeSet::parse(granted),
                &ScopeSet::parse("mcp:write"),
                &resource,
                &BundledScopes,
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

    /// Tools whose scopes are not all advertised, as a policy may name them.
    struct Unlisted;

    impl ToolScopes for Unlisted {
        fn required(&self, _: &str) -> Option<ScopeSet> {
            Some(ScopeSet::parse("mcp:admin mcp:read"))
        }
        fn all(&self) -> ScopeSet {
            ScopeSet::parse("mcp:read mcp:write")
        }
        fn first(&self) -> ScopeSet {
            ScopeSet::parse("mcp:read")
        }
    }

    #[test]
    fn a_needed_scope_that_is_not_advertised_is_still_asked_for() {
        let granted = ScopeSet::parse("mcp:write");
        let (_, needed) = missing_tool_scopes(&call("x"), &granted, &policy(), &Unlisted).unwrap();
        let ask = scopes_to_ask_for(&granted, &needed, &policy().resource, &Unlisted);
        assert_eq!(ask.to_string(), "mcp:read mcp:write mcp:admin");
    }

    #[test]
    fn other_methods_and_unknown_tools_are_no_scope_matter() {
        let none = ScopeSet::default();
        let list = McpCall::read(
            &http::HeaderMap::new(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )
        .unwrap();
        assert!(missing_tool_scopes(&list, &none, &policy(), &BundledScopes).is_none());
        // Unknown tools are the MCP layer's to refuse (method not found), not a scope matter.
        assert!(missing("nope", &none).is_none());
    }
}
