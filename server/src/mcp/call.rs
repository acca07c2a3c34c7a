//! The MCP request body, read once.
//!
//! The guard reads a POST body into an [`McpCall`]; everything after it (the tool's scopes, the
//! session table, the direct path) reads that, so nothing decides on a body it did not see, and
//! no part reads the body one way while another reads it another way.

use std::borrow::Cow;

use axum::{
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use rmcp::{
    model::{ClientCapabilities, Implementation, JsonObject, RequestId},
    transport::common::http_header::HEADER_MCP_PROTOCOL_VERSION,
};
use serde::Deserialize;

/// What the guard read of an MCP POST body.
#[derive(Debug, Clone)]
pub struct McpCall {
    method: Option<String>,
    tool: Option<String>,
    plain: Option<PlainRequest>,
}

/// A JSON-RPC 2.0 request in exactly the 2026-07-28 shape, every member one the direct path
/// knows: only such a request may be answered without rmcp.
#[derive(Debug, Clone)]
pub struct PlainRequest {
    /// The request id.
    pub id: RequestId,
    /// The version its `_meta` names.
    pub protocol_version: String,
    /// `params.name`, whatever the method.
    pub name: Option<String>,
    /// `params.arguments`.
    pub arguments: Option<JsonObject>,
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
    /// Reads one JSON-RPC message: in one pass when it is a plain 2026-07-28 request (the
    /// commonest), else its method and tool only. Only a request whose `MCP-Protocol-Version`
    /// header names 2026-07-28 can be plain, so no other pays for trying the plain shape.
    pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, BodyRefusal> {
        let may_be_plain = only(headers, HEADER_MCP_PROTOCOL_VERSION) == Some(CURRENT);
        if may_be_plain && let Ok(message) = serde_json::from_slice::<Message<'_>>(body) {
            return Ok(Self::plain(message));
        }
        match serde_json::from_slice::<Peek<'_>>(body) {
            Ok(peek) => Ok(Self {
                tool: peek
                    .params
                    .and_then(|p| p.name)
                    .filter(|_| peek.method.as_deref() == Some(TOOLS_CALL))
                    .map(Cow::into_owned),
                method: peek.method.map(Cow::into_owned),
                plain: None,
            }),
            Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() => {
                Err(BodyRefusal::InvalidRequest)
            }
            Err(_) => Err(BodyRefusal::Parse),
        }
    }

    fn plain(message: Message<'_>) -> Self {
        let Params {
            meta,
            name,
            arguments,
        } = message.params;
        Self {
            method: Some(message.method.to_owned()),
            tool: name.clone().filter(|_| message.method == TOOLS_CALL),
            plain: (message.jsonrpc == "2.0").then_some(PlainRequest {
                id: message.id,
                protocol_version: meta.protocol_version,
                name,
                arguments,
            }),
        }
    }

    /// The JSON-RPC method; `None` for a response or error the client sends.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// For `tools/call`, the tool.
    pub fn tool(&self) -> Option<&str> {
        self.tool.as_deref()
    }

    /// The request, when it is in the plain 2026-07-28 shape.
    pub fn plain_request(&self) -> Option<&PlainRequest> {
        self.plain.as_ref()
    }

    /// Whether this opens a 2025-11-25 session.
    pub fn is_initialize(&self) -> bool {
        self.method() == Some("initialize")
    }
}

const TOOLS_CALL: &str = "tools/call";

/// The revision whose requests may be plain, and the only one the direct path speaks.
pub(super) const CURRENT: &str = "2026-07-28";

/// The header's value when it is there exactly once, as text.
pub(super) fn only<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    values.next().is_none().then_some(())?;
    value.to_str().ok()
}

/// One JSON-RPC request with no member the direct path does not know. Derived, so a member
/// given twice fails this as it fails [`Peek`].
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

/// The request `_meta` of 2026-07-28, decoded as rmcp decodes it, so a request rmcp would refuse
/// is never plain.
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

/// The two fields of any JSON-RPC message the guard needs, borrowed, without building a tree.
/// Derived: a member given twice is an error here, so a body that names two tools is refused
/// instead of being read one way here and another way by the transport.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    params: Option<PeekParams<'a>>,
}

#[derive(Deserialize)]
struct PeekParams<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    /// Reads `body` as a 2026-07-28 request sends it (with its version header).
    fn read(body: &str) -> Result<McpCall, BodyRefusal> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HEADER_MCP_PROTOCOL_VERSION,
            HeaderValue::from_static(CURRENT),
        );
        McpCall::read(&headers, body.as_bytes())
    }

    const META: &str = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;

    #[test]
    fn bodies_that_are_not_one_message_are_refused() {
        assert_eq!(read("{not json").err(), Some(BodyRefusal::Parse));
        assert_eq!(read("").err(), Some(BodyRefusal::Parse));
        let batch =
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_add"}}]"#;
        assert_eq!(read(batch).err(), Some(BodyRefusal::InvalidRequest));
        // Two tool names: whichever one the transport would take, the guard decides on neither.
        let twice = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","name":"notes_add"}}"#;
        assert_eq!(read(twice).err(), Some(BodyRefusal::InvalidRequest));
        // The same in the plain shape: the one-pass reader must refuse it too.
        let twice = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{{META},"name":"notes_list","name":"notes_add"}}}}"#
        );
        assert_eq!(read(&twice).err(), Some(BodyRefusal::InvalidRequest));
    }

    #[test]
    fn the_plain_shape_and_the_rest_read_the_same_method_and_tool() {
        let plain = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{{META},"name":"whoami"}}}}"#
        );
        let call = read(&plain).unwrap();
        assert_eq!(
            (call.method(), call.tool()),
            (Some("tools/call"), Some("whoami"))
        );
        assert!(call.plain_request().is_some());
        // A member the direct path does not know: still read, but not plain.
        let extra = plain.replace(r#""name":"whoami""#, r#""name":"whoami","task":{}"#);
        let call = read(&extra).unwrap();
        assert_eq!(
            (call.method(), call.tool()),
            (Some("tools/call"), Some("whoami"))
        );
        assert!(call.plain_request().is_none());
        // A name on another method is no tool.
        let list = plain.replace("tools/call", "tools/list");
        assert_eq!(read(&list).unwrap().tool(), None);
        let old = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}"#;
        assert_eq!(read(old).unwrap().tool(), Some("whoami"));
        assert!(read(old).unwrap().plain_request().is_none());
        // Without the header that names 2026-07-28, nothing is plain.
        let unversioned = McpCall::read(&HeaderMap::new(), plain.as_bytes()).unwrap();
        assert_eq!(unversioned.tool(), Some("whoami"));
        assert!(unversioned.plain_request().is_none());
        let v1 = plain.replace(r#""2.0""#, r#""1.0""#);
        assert!(read(&v1).unwrap().plain_request().is_none());
        assert!(
            read(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
                .unwrap()
                .is_initialize()
        );
    }

    #[test]
    fn only_refuses_repeated_headers() {
        let mut h = HeaderMap::new();
        h.append("mcp-method", HeaderValue::from_static("tools/list"));
        h.append("mcp-method", HeaderValue::from_static("tools/list"));
        assert_eq!(only(&h, "mcp-method"), None);
        h.remove("mcp-method");
        h.insert("mcp-method", HeaderValue::from_static("tools/list"));
        assert_eq!(only(&h, "Mcp-Method"), Some("tools/list"));
    }
}
