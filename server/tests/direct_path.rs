//! The direct path for stateless tool requests answers exactly as rmcp alone does.
//!
//! Each request goes to two endpoints built alike, one with the direct path and one without;
//! status, content type and body must be the same bytes. The requests the direct path must take
//! are counted, so the comparison cannot pass by the direct path never answering; the ones it
//! must leave to rmcp (every protocol error among them) are counted too.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

use axum::{
    body::{Body, to_bytes},
    http::{Request, header},
};
use mcp_auth_server::{
    access_token::Principal,
    app::mcp_config,
    mcp::{DirectPath, McpCall, McpEndpoint},
    scope::ScopeSet,
    tools::McpTools,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const HOST: &str = "127.0.0.1:8080";

fn endpoint(direct: DirectPath) -> McpEndpoint {
    let config = mcp_config(
        vec!["127.0.0.1".into(), "localhost".into()],
        vec![format!("http://{HOST}")],
        &CancellationToken::new(),
    );
    McpEndpoint::new(
        McpTools::new(Default::default(), "direct path test"),
        config,
        direct,
        Default::default(),
    )
}

fn caller() -> Principal {
    Principal {
        subject: "user-1".into(),
        client_id: Some("client-1".into()),
        username: Some("someone@example.com".into()),
        scopes: ScopeSet::parse("openid mcp:read mcp:write"),
        expires_at: 4_000_000_000,
    }
}

/// A request as a 2026-07-28 client sends it; each case changes one thing.
#[derive(Clone)]
struct Case {
    method: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Whether the guard verified a token (and so put the caller in the request).
    verified: bool,
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

fn call(tool: &str, arguments: Option<Value>) -> Case {
    let mut params = json!({"name": tool, "_meta": meta()});
    if let Some(a) = arguments {
        params["arguments"] = a;
    }
    request("tools/call", params, Some(tool))
}

fn list() -> Case {
    request("tools/list", json!({"_meta": meta()}), None)
}

fn request(method: &str, params: Value, name: Option<&str>) -> Case {
    let mut headers = vec![
        ("host", HOST.to_owned()),
        ("accept", "application/json, text/event-stream".to_owned()),
        ("content-type", "application/json".to_owned()),
        ("mcp-protocol-version", "2026-07-28".to_owned()),
        ("mcp-method", method.to_owned()),
    ];
    if let Some(name) = name {
        headers.push(("mcp-name", name.to_owned()));
    }
    Case {
        method: "POST",
        headers,
        body: json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string(),
        verified: true,
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
        self
    }
    fn also(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
    fn without(mut self, name: &'static str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }
    fn body(mut self, edit: impl FnOnce(&mut Value)) -> Self {
        let mut v: Value = serde_json::from_str(&self.body).unwrap();
        edit(&mut v);
        self.body = v.to_string();
        self
    }
    fn raw_body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }
    fn http_method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }
    fn unverified(mut self) -> Self {
        self.verified = false;
        self
    }
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    body: String,
}

async fn send(endpoint: &McpEndpoint, case: &Case) -> Answer {
    let mut builder = Request::builder().method(case.method).uri("/mcp");
    for (name, value) in &case.headers {
        builder = builder.header(*name, value);
    }
    let mut request = builder.body(Body::from(case.body.clone())).unwrap();
    if case.verified {
        // What the guard does before the endpoint: the caller, and the body read once (a body
        // it cannot read it refuses itself; here it goes on, for rmcp to refuse).
        request.extensions_mut().insert(caller());
        if let Ok(call) = McpCall::read(request.headers(), case.body.as_bytes()) {
            request.extensions_mut().insert(call);
        }
    }
    let response = endpoint.serve(request).await;
    Answer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned()),
        body: String::from_utf8(
            to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap(),
    }
}

/// Sends `case` both ways; returns whether the direct path answered it.
async fn compare(name: &str, case: &Case, direct: &McpEndpoint, rmcp: &McpEndpoint) -> bool {
    let before = direct.answered_directly();
    let ours = send(direct, case).await;
    let theirs = send(rmcp, case).await;
    assert_eq!(rmcp.answered_directly(), 0);
    assert_eq!(
        (ours.status, &ours.content_type, &ours.body),
        (theirs.status, &theirs.content_type, &theirs.body),
        "{name}: the direct path answered differently from rmcp"
    );
    direct.answered_directly() > before
}

#[tokio::test]
async fn plain_stateless_tool_requests_are_answered_directly_and_as_rmcp_answers_them() {
    let (direct, rmcp) = (endpoint(DirectPath::On), endpoint(DirectPath::Off));
    let cases = [
        ("tools/list", list()),
        ("whoami", call("whoami", None)),
        ("whoami, empty arguments", call("whoami", Some(json!({})))),
        ("notes_list, empty", call("notes_list", None)),
        (
            "notes_add",
            call("notes_add", Some(json!({"text": "first note"}))),
        ),
        (
            "notes_add, an argument the tool ignores",
            call(
                "notes_add",
                Some(json!({"text": "second", "colour": "red"})),
            ),
        ),
        ("notes_list, two notes", call("notes_list", None)),
        (
            "notes_add, blank text: the tool's own in-band error",
            call("notes_add", Some(json!({"text": "   "}))),
        ),
        (
            "a string id",
            call("whoami", None).body(|b| b["id"] = json!("abc")),
        ),
        (
            "content type with a charset",
            list().header("content-type", "application/json; charset=utf-8"),
        ),
        (
            "accept in two headers",
            list()
                .header("accept", "application/json")
                .also("accept", "text/event-stream"),
        ),
        (
            "another allowed host",
            list().header("host", "localhost:8080"),
        ),
        (
            "no clientInfo",
            list().body(|b| {
                b["params"]["_meta"]
                    .as_object_mut()
                    .unwrap()
                    .remove("io.modelcontextprotocol/clientInfo");
            }),
        ),
    ];
    for (name, case) in &cases {
        assert!(
            compare(name, case, &direct, &rmcp).await,
            "{name}: the direct path should have answered this request"
        );
    }
}

#[tokio::test]
async fn everything_else_is_left_to_rmcp() {
    let (direct, rmcp) = (endpoint(DirectPath::On), endpoint(DirectPath::Off));
    let cases = [
        (
            "no MCP-Protocol-Version header",
            list().without("mcp-protocol-version"),
        ),
        (
            "header and _meta versions differ",
            list().header("mcp-protocol-version", "2025-11-25"),
        ),
        (
            "_meta names an older version",
            list().body(|b| {
                b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] =
                    json!("2025-11-25")
            }),
        ),
        (
            "an unsupported version",
            list()
                .header("mcp-protocol-version", "2099-01-01")
                .body(|b| {
                    b["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] =
                        json!("2099-01-01")
                }),
        ),
        ("no Mcp-Method", list().without("mcp-method")),
        (
            "Mcp-Method contradicts the body",
            call("whoami", None).header("mcp-method", "tools/list"),
        ),
        ("Mcp-Method twice", list().also("mcp-method", "tools/list")),
        ("no Mcp-Name", call("whoami", None).without("mcp-name")),
        (
            "Mcp-Name contradicts the body",
            call("whoami", None).header("mcp-name", "notes_add"),
        ),
        (
            "an Mcp-Param header",
            call("whoami", None).also("mcp-param-x", "1"),
        ),
        ("an unknown tool", call("nope", None)),
        ("notes_add without text", call("notes_add", Some(json!({})))),
        (
            "notes_add with a number",
            call("notes_add", Some(json!({"text": 5}))),
        ),
        ("notes_add without arguments", call("notes_add", None)),
        (
            "whoami with arguments",
            call("whoami", Some(json!({"x": 1}))),
        ),
        (
            "_meta without client capabilities",
            list().body(|b| {
                b["params"]["_meta"]
                    .as_object_mut()
                    .unwrap()
                    .remove("io.modelcontextprotocol/clientCapabilities");
            }),
        ),
        (
            "_meta with a progress token",
            list().body(|b| b["params"]["_meta"]["progressToken"] = json!(1)),
        ),
        (
            "tools/list with a cursor",
            list().body(|b| b["params"]["cursor"] = json!("abc")),
        ),
        (
            "tools/list without params",
            list().body(|b| {
                b.as_object_mut().unwrap().remove("params");
            }),
        ),
        (
            "another method",
            request("resources/list", json!({"_meta": meta()}), None),
        ),
        ("ping", request("ping", json!({"_meta": meta()}), None)),
        (
            "server/discover",
            request("server/discover", json!({"_meta": meta()}), None),
        ),
        ("jsonrpc 1.0", list().body(|b| b["jsonrpc"] = json!("1.0"))),
        ("a null id", list().body(|b| b["id"] = Value::Null)),
        (
            "a notification",
            list().body(|b| {
                b.as_object_mut().unwrap().remove("id");
            }),
        ),
        ("a batch", list().body(|b| *b = json!([b.clone()]))),
        ("malformed JSON", list().raw_body("{\"jsonrpc\": \"2.0\",")),
        (
            "accept without SSE",
            list().header("accept", "application/json"),
        ),
        (
            "accept with a zero weight",
            list().header("accept", "application/json, text/event-stream;q=0"),
        ),
        (
            "a text content type",
            list().header("content-type", "text/plain"),
        ),
        (
            "the server's own browser origin",
            list().also("origin", &format!("http://{HOST}")),
        ),
        (
            "another browser origin",
            list().also("origin", "https://evil.example"),
        ),
        ("a host not allowed", list().header("host", "evil.example")),
        (
            "a session id",
            list().also("mcp-session-id", "no-such-session"),
        ),
        ("GET", list().http_method("GET")),
        ("DELETE", list().http_method("DELETE")),
    ];
    for (name, case) in &cases {
        assert!(
            !compare(name, case, &direct, &rmcp).await,
            "{name}: the direct path should have left this request to rmcp"
        );
    }
}

#[tokio::test]
async fn without_a_verified_caller_rmcp_refuses_the_call() {
    let direct = endpoint(DirectPath::On);
    let answer = send(&direct, &call("whoami", None).unverified()).await;
    assert_eq!(direct.answered_directly(), 0);
    assert!(
        answer.body.contains("without a verified token"),
        "{}",
        answer.body
    );
}
