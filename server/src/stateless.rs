//! The MCP endpoint, with a direct path for the commonest requests: stateless (2026-07-28)
//! `tools/list` and `tools/call`.
//!
//! rmcp serves each stateless request through a service of its own (a channel transport, a serve
//! loop and a spawned task), which costs more than the rest of the request, authorization
//! included. The direct path answers a request only when every part of it is plain: the method,
//! the headers, the `_meta`, the tool's arguments. It answers with rmcp's own types and does what
//! rmcp's handler does. Anything else (other methods, sessions, browser origins, extra fields or
//! headers, arguments that are not the tool's) goes to rmcp unchanged, so every protocol error is
//! rmcp's. A test (`server/tests/direct_path.rs`) sends the same requests both ways and compares
//! the answers byte for byte.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use rmcp::{
    ServerHandler,
    model::{
        CacheScope, ClientCapabilities, Implementation, JsonObject, ListToolsResult,
        ProtocolVersion, RequestId, ResultType, ServerJsonRpcMessage, ServerResult,
    },
    transport::{
        common::http_header::{
            HEADER_MCP_METHOD, HEADER_MCP_NAME, HEADER_MCP_PROTOCOL_VERSION, HEADER_SESSION_ID,
        },
        streamable_http_server::{
            StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
        },
    },
};
use serde::Deserialize;

use crate::{
    access_token::Principal,
    app::MAX_BODY_BYTES,
    guard::McpCall,
    mcp_sessions::{self, McpSessions, SessionLimits, SessionRefusal},
    tools::McpTools,
};

/// The MCP endpoint: rmcp's Streamable HTTP service, with the direct path in front of it and
/// the session table (who opened each session, how many each user holds) around it.
pub struct McpEndpoint {
    rmcp: StreamableHttpService<McpTools, LocalSessionManager>,
    sessions: Arc<McpSessions<LocalSessionManager>>,
    direct: Option<Direct>,
    answered_directly: AtomicU64,
}

/// Whether the direct path is on; off only to compare it with rmcp alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectPath {
    /// Plain stateless `tools/list` and `tools/call` are answered without rmcp.
    On,
    /// Every request goes to rmcp.
    Off,
}

impl McpEndpoint {
    /// An endpoint serving `tools` with rmcp configured by `config`.
    pub fn new(
        tools: McpTools,
        config: StreamableHttpServerConfig,
        direct: DirectPath,
        limits: SessionLimits,
    ) -> Self {
        // The direct path speaks only 2026-07-28: if the tools stopped supporting it, rmcp must
        // be the one to say so.
        let speaks_current = tools
            .supported_protocol_versions()
            .contains(&ProtocolVersion::V_2026_07_28);
        let direct = (direct == DirectPath::On && speaks_current).then(|| Direct {
            listed: ListToolsResult {
                result_type: Some(ResultType::COMPLETE),
                meta: None,
                next_cursor: None,
                tools: tools.list(),
                // What rmcp's generated `list_tools` gives a 2026-07-28 request.
                ttl_ms: Some(0),
                cache_scope: Some(CacheScope::Public),
            },
            hosts: config
                .allowed_hosts
                .iter()
                .filter_map(|h| AllowedHost::parse(h))
                .collect(),
            tools: tools.clone(),
        });
        let mut manager = LocalSessionManager::default();
        // The table forgets a session after the same idle time rmcp ends it.
        manager.session_config.keep_alive = Some(mcp_sessions::IDLE);
        let manager = Arc::new(manager);
        let sessions = McpSessions::new(limits, manager.clone());
        let rmcp = StreamableHttpService::new(move || Ok(tools.clone()), manager, config);
        Self {
            rmcp,
            sessions,
            direct,
            answered_directly: AtomicU64::new(0),
        }
    }

    /// How many requests the direct path answered.
    pub fn answered_directly(&self) -> u64 {
        self.answered_directly.load(Ordering::Relaxed)
    }

    /// Answers one request.
    pub async fn serve(&self, request: Request) -> Response {
        let request = match &self.direct {
            Some(direct) if direct.may_answer(request.method(), request.headers()) => {
                let (parts, body) = request.into_parts();
                // In the server the guard has read the body already, within the same limit.
                let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
                    return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                        .into_response();
                };
                if let Some(response) = direct.answer(&parts, &bytes) {
                    self.answered_directly.fetch_add(1, Ordering::Relaxed);
                    return response;
                }
                Request::from_parts(parts, Body::from(bytes))
            }
            _ => request,
        };
        self.through_sessions(request).await
    }

    /// Sends a request to rmcp, holding sessions to who opened them and to the caps.
    async fn through_sessions(&self, request: Request) -> Response {
        let Some(caller) = request.extensions().get::<Principal>().cloned() else {
            // Only the guard's tests get here without a principal; the tools refuse it.
            return self.rmcp.handle(request).await.map(Body::new);
        };
        let session = request
            .headers()
            .get(HEADER_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(id) = session else {
            let opens_session = request
                .extensions()
                .get::<McpCall>()
                .is_some_and(McpCall::is_initialize);
            if !opens_session {
                return self.rmcp.handle(request).await.map(Body::new);
            }
            let reservation = match self.sessions.reserve(&caller).await {
                Ok(r) => r,
                Err(refusal) => return refused(refusal),
            };
            let response = self.rmcp.handle(request).await.map(Body::new);
            if let Some(id) = response
                .headers()
                .get(HEADER_SESSION_ID)
                .and_then(|v| v.to_str().ok())
            {
                reservation.bind(id);
            }
            return response;
        };
        if !self.sessions.admit(&id, &caller) {
            return session_not_found();
        }
        let method = request.method().clone();
        let ticket = if method == Method::GET {
            match self.sessions.open_stream(&caller) {
                Ok(ticket) => Some(ticket),
                Err(refusal) => return refused(refusal),
            }
        } else {
            None
        };
        let response = self.rmcp.handle(request).await.map(Body::new);
        if method == Method::DELETE && response.status().is_success() {
            self.sessions.forget(&id);
        }
        match ticket {
            // The stream is counted for as long as its body lives.
            Some(ticket) if response.status() == StatusCode::OK => response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _counted = &ticket;
                    frame
                }))
            }),
            _ => response,
        }
    }
}

/// What rmcp answers for a session it does not know, byte for byte: someone else's session
/// must tell nothing more than a made-up one.
fn session_not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response()
}

/// A session or stream the caps do not allow, as a JSON-RPC error with no id.
fn refused(refusal: SessionRefusal) -> Response {
    let status = match refusal {
        SessionRefusal::TooManyStreams => StatusCode::TOO_MANY_REQUESTS,
        SessionRefusal::ServerFull | SessionRefusal::StreamsFull => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": null,
        "error": { "code": -32000, "message": refusal.to_string() },
    });
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    response
}

struct Direct {
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

const CURRENT: &str = "2026-07-28";
const JSON: &str = "application/json";

/// One JSON-RPC request, with no member the direct path does not know.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message<'a> {
    jsonrpc: &'a str,
    id: RequestId,
    method: &'a str,
    params: Params,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(rename = "_meta")]
    meta: Meta,
    name: Option<String>,
    arguments: Option<JsonObject>,
}

/// The request `_meta` of 2026-07-28, decoded as rmcp decodes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion")]
    protocol_version: String,
    #[serde(rename = "io.modelcontextprotocol/clientCapabilities")]
    _client_capabilities: ClientCapabilities,
    #[serde(rename = "io.modelcontextprotocol/clientInfo")]
    _client_info: Option<Implementation>,
}

impl Direct {
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

    /// The answer, when the body is one this path serves; `None` leaves it to rmcp.
    fn answer(&self, parts: &http::request::Parts, body: &[u8]) -> Option<Response> {
        // The guard put it there; without it the request is rmcp's to refuse.
        let caller = parts.extensions.get::<Principal>()?;
        let message: Message<'_> = serde_json::from_slice(body).ok()?;
        if message.jsonrpc != "2.0" || message.params.meta.protocol_version != CURRENT {
            return None;
        }
        if only(&parts.headers, HEADER_MCP_METHOD)? != message.method {
            return None;
        }
        let params = message.params;
        let result = match message.method {
            "tools/list" => {
                if params.name.is_some()
                    || params.arguments.is_some()
                    || parts.headers.contains_key(HEADER_MCP_NAME)
                {
                    return None;
                }
                Ok(ServerResult::ListToolsResult(self.listed.clone()))
            }
            "tools/call" => {
                let name = params.name?;
                if only(&parts.headers, HEADER_MCP_NAME)? != name {
                    return None;
                }
                self.tools
                    .call_directly(&name, params.arguments.as_ref(), caller)?
                    .map(ServerResult::CallToolResult)
            }
            _ => return None,
        };
        let reply = match result {
            Ok(mut result) => {
                // As rmcp's handler does for every 2026-07-28 result.
                result.fill_missing_cache_hints();
                ServerJsonRpcMessage::response(result, message.id)
            }
            // A tool's own refusal (invalid arguments) is in-band: HTTP 200, as rmcp answers it.
            Err(error) => ServerJsonRpcMessage::error(error, Some(message.id)),
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

/// The header's value when it is there exactly once, as text.
fn only<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    values.next().is_none().then_some(())?;
    value.to_str().ok()
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
    fn only_refuses_repeated_headers() {
        let h = headers(&[("mcp-method", "tools/list"), ("mcp-method", "tools/list")]);
        assert_eq!(only(&h, "mcp-method"), None);
        let h = headers(&[("mcp-method", "tools/list")]);
        assert_eq!(only(&h, "Mcp-Method"), Some("tools/list"));
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
