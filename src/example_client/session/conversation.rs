//! The MCP conversation a session holds (opened once per token: `initialize` on 2025-11-25,
//! `server/discover` on 2026-07-28; its session id; the next request id), and what the server
//! made of a request.

use mcp_auth_conformance::{observe::mcp::Speaker, probe::Answer, revision::Revision};

/// The MCP conversation: opened once per token (`initialize` on 2025-11-25, `server/discover`
/// on 2026-07-28), then requests in its session.
pub(super) struct Conversation {
    pub(super) speaker: Speaker,
    pub(super) opened: bool,
    pub(super) session: Option<String>,
    pub(super) next_id: u64,
}

/// What the server made of a request.
pub enum Reply {
    /// The JSON-RPC result.
    Result(serde_json::Value),
    /// 401: no token, or one it does not take; the answer carries the challenge to discover
    /// from.
    Unauthorized(Box<Answer>),
    /// 403 `insufficient_scope`: sign in again for the union of what was asked for before
    /// and this scope.
    InsufficientScope(String),
}

/// A tool call's outcome, for the page.
#[derive(Debug)]
pub enum ToolOutcome {
    /// The tool's result.
    Result(serde_json::Value),
    /// 403 insufficient_scope: sign in again asking for this scope.
    NeedsScope(String),
}

impl Conversation {
    /// A conversation not opened yet, in `revision`.
    pub(super) fn new(revision: Revision) -> Self {
        Self {
            speaker: Speaker::as_client(
                revision,
                "mcp-auth-kit example client",
                env!("CARGO_PKG_VERSION"),
            ),
            opened: false,
            session: None,
            next_id: 1,
        }
    }

    pub(super) fn reset(&mut self) {
        self.opened = false;
        self.session = None;
    }

    /// The next request of the conversation.
    pub(super) fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        self.speaker.request(self.next_id, method, params)
    }
}
