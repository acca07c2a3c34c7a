//! The MCP endpoint: rmcp's Streamable HTTP service, the session table around it
//! ([`sessions`]), and in front of it a direct path for the commonest requests ([`direct`]).
//! The request body reaches all of them as the guard read it once ([`call`]).

pub mod call;
mod direct;
pub mod sessions;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use http_body_util::BodyExt;
use rmcp::transport::{
    common::http_header::HEADER_SESSION_ID,
    streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    },
};

pub use call::McpCall;
use direct::Direct;
use sessions::{McpSessions, SessionLimits, SessionRefusal};

use crate::{access_token::Principal, tools::McpTools};

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
        let direct = match direct {
            DirectPath::On => Direct::new(&tools, &config.allowed_hosts),
            DirectPath::Off => None,
        };
        let mut manager = LocalSessionManager::default();
        // The table forgets a session after the same idle time rmcp ends it.
        manager.session_config.keep_alive = Some(sessions::IDLE);
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
        if let Some(response) = self.direct.as_ref().and_then(|d| d.answer(&request)) {
            self.answered_directly.fetch_add(1, Ordering::Relaxed);
            return response;
        }
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
