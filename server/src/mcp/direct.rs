//! The direct path for the commonest requests: stateless (2026-07-28) `tools/list` and
//! `tools/call`.
//!
//! rmcp serves each stateless request through a service of its own (a channel transport, a serve
//! loop and a spawned task), which costs more than the rest of the request, authorization
//! included. The direct path answers a request only when every part of it is plain: the method,
//! the headers, the `_meta`, the tool's arguments. It answers with rmcp's own types and does what
//! rmcp's handler does. Anything else (other methods, sessions, browser origins, extra fields or
//! headers, arguments that are not the tool's) goes to rmcp unchanged, so every protocol error is
//! rmcp's. A test (`server/tests/direct_path.rs`) sends the same requests both ways and compares
//! the answers byte for byte.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use rmcp::{
    ServerHandler,
    model::{
        CacheScope, ListToolsResult, ProtocolVersion, ResultType, ServerJsonRpcMessage,
        ServerResult,
    },
    transport::common::http_header::{
        HEADER_MCP_METHOD, HEADER_MCP_NAME, HEADER_MCP_PROTOCOL_VERSION, HEADER_SESSION_ID,
    },
};

use super::call::{CURRENT, McpCall, only};
use crate::{access_token::Principal, tools::McpTools};

/// The direct path: the tools, their list as rmcp lists it, and the hosts rmcp would accept.
pub(super) struct Direct {
    tools: McpTools,
    listed: ListToolsResult,
    hosts: Vec<AllowedHost>,
}

/// A `Host` the endpoint accepts: a name, and a port unless any port will do.
struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    fn parse(allowed: &str) -> Option<Self> {
        let authority: http::uri::Authority = allowed.trim().parse().ok()?;
        Some(Self {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16(),
        })
    }

    fn admits(&self, host: &http::uri::Authority) -> bool {
        host.host().eq_ignore_ascii_case(&self.host)
            && self.port.is_none_or(|p| host.port_u16() == Some(p))
    }
}

const JSON: &str = "application/json";

impl Direct {
    /// The direct path for `tools` behind rmcp's `allowed_hosts`; `None` when the tools do not
    /// speak 2026-07-28, the only version this path speaks (rmcp must then be the one to say so).
    pub(super) fn new(tools: &McpTools, allowed_hosts: &[String]) -> Option<Self> {
        let speaks_current = tools
            .supported_protocol_versions()
            .contains(&ProtocolVersion::V_2026_07_28);
        speaks_current.then(|| Self {
            listed: ListToolsResult {
                result_type: Some(ResultType::COMPLETE),
                meta: None,
                next_cursor: None,
                tools: tools.list(),
                // What rmcp's generated `list_tools` gives a 2026-07-28 request.
                ttl_ms: Some(0),
                cache_scope: Some(CacheScope::Public),
            },
            hosts: allowed_hosts
                .iter()
                .filter_map(|h| AllowedHost::parse(h))
                .collect(),
            tools: tools.clone(),
        })
    }

    /// The answer, when every part of the request is one this path serves; `None` leaves it to
    /// rmcp.
    pub(super) fn answer(&self, request: &Request) -> Option<Response> {
        if !self.may_answer(request.method(), request.headers()) {
            return None;
        }
        // The guard put both there; without them the request is rmcp's to refuse.
        let caller = request.extensions().get::<Principal>()?;
        let call = request.extensions().get::<McpCall>()?;
        self.reply(request.headers(), call, caller)
    }

    /// Whether the headers alone leave the request to this path: rmcp's transport checks would
    /// all pass (no browser origin, an allowed host, the media types) and nothing in them needs
    /// rmcp (a session, `Mcp-Param-*` headers).
    fn may_answer(&self, method: &Method, headers: &HeaderMap) -> bool {
        *method == Method::POST
            && !headers.contains_key(header::ORIGIN)
            && !headers.contains_key(HEADER_SESSION_ID)
            && only(headers, HEADER_MCP_PROTOCOL_VERSION).is_some_and(|v| v == CURRENT)
            && only(headers, header::HOST.as_str())
                .and_then(|h| h.parse::<http::uri::Authority>().ok())
                .is_some_and(|h| self.hosts.iter().any(|a| a.admits(&h)))
            && accepts_json_and_sse(headers)
            && only(headers, header::CONTENT_TYPE.as_str()).is_some_and(|c| {
                c.split(';')
                    .next()
                    .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(JSON))
            })
            && !headers
                .keys()
                .any(|name| name.as_str().starts_with("mcp-param-"))
    }

    /// The reply to a plain request; `None` for any other.
    fn reply(&self, headers: &HeaderMap, call: &McpCall, caller: &Principal) -> Option<Response> {
        let request = call.plain_request()?;
        let method = call.method()?;
        if request.protocol_version != CURRENT || only(headers, HEADER_MCP_METHOD)? != method {
            return None;
        }
        let result = match method {
            "tools/list" => {
                if request.name.is_some()
                    || request.arguments.is_some()
                    || headers.contains_key(HEADER_MCP_NAME)
                {
                    return None;
                }
                Ok(ServerResult::ListToolsResult(self.listed.clone()))
            }
            "tools/call" => {
                let name = call.tool()?;
                if only(headers, HEADER_MCP_NAME)? != name {
                    return None;
                }
                self.tools
                    .call_directly(name, request.arguments.as_ref(), caller)?
                    .map(ServerResult::CallToolResult)
            }
            _ => return None,
        };
        let id = request.id.clone();
        let reply = match result {
            Ok(mut result) => {
                // As rmcp's handler does for every 2026-07-28 result.
                result.fill_missing_cache_hints();
                ServerJsonRpcMessage::response(result, id)
            }
            // A tool's own refusal (invalid arguments) is in-band: HTTP 200, as rmcp answers it.
            Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
        };
        Some(json_response(&reply))
    }
}

fn json_response(reply: &ServerJsonRpcMessage) -> Response {
    match serde_json::to_vec(reply) {
        Ok(body) => {
            let mut response = Response::new(Body::from(body));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
            response
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the response could not be serialized: {e}"),
        )
            .into_response(),
    }
}

/// `Accept` names both JSON and SSE, without parameters (a `q=0` among them is rmcp's to read).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let (mut json, mut sse) = (false, false);
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for range in value.split(',').map(str::trim) {
            if range.contains(';') {
                return false;
            }
            json |= range.eq_ignore_ascii_case(JSON);
            sse |= range.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn accept_needs_both_types_and_no_parameters() {
        let both = "application/json, text/event-stream";
        assert!(accepts_json_and_sse(&headers(&[("accept", both)])));
        assert!(accepts_json_and_sse(&headers(&[
            ("accept", "application/json"),
            ("accept", "text/event-stream")
        ])));
        assert!(!accepts_json_and_sse(&headers(&[(
            "accept",
            "application/json"
        )])));
        assert!(!accepts_json_and_sse(&headers(&[(
            "accept",
            "application/json, text/event-stream;q=0"
        )])));
    }

    #[test]
    fn allowed_hosts_with_and_without_port() {
        let any_port = AllowedHost::parse("localhost").unwrap();
        let one_port = AllowedHost::parse("127.0.0.1:8080").unwrap();
        let host = |h: &str| h.parse::<http::uri::Authority>().unwrap();
        assert!(any_port.admits(&host("LOCALHOST:9")));
        assert!(any_port.admits(&host("localhost")));
        assert!(one_port.admits(&host("127.0.0.1:8080")));
        assert!(!one_port.admits(&host("127.0.0.1:8081")));
        assert!(!one_port.admits(&host("127.0.0.1")));
        assert!(!any_port.admits(&host("localhost.evil.example")));
    }
}
