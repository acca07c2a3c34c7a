//! The MCP tools: small, but each shows authorization at work.
//!
//! | tool | needs | does |
//! | --- | --- | --- |
//! | `whoami` | `mcp:read` | the caller's subject, client id and scopes, from the token |
//! | `notes_list` | `mcp:read` | lists the notes |
//! | `notes_add` | `mcp:write` | adds a note (the step-up example: a read-only token gets 403) |

use std::sync::{Arc, Mutex};

use rmcp::{
    ErrorData, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::Extension, wrapper::Parameters},
    model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig},
    tool, tool_handler, tool_router,
};
use serde::Deserialize;

use crate::{access_token::Principal, scope::ScopeSet};

/// The read scope.
pub const READ: &str = "mcp:read";
/// The write scope.
pub const WRITE: &str = "mcp:write";

/// The scopes a tool needs, all of them; `None` for a tool that does not exist.
pub fn required_scopes(tool: &str) -> Option<ScopeSet> {
    match tool {
        "whoami" | "notes_list" => Some(ScopeSet::parse(READ)),
        "notes_add" => Some(ScopeSet::parse(WRITE)),
        _ => None,
    }
}

/// Notes shared by every session of the server.
pub type Notes = Arc<Mutex<Vec<String>>>;

/// The MCP server: cloned per session (or per request, on the stateless 2026-07-28 transport);
/// clones share the notes and the tool router, so a clone costs three reference counts.
#[derive(Clone)]
pub struct McpTools {
    notes: Notes,
    name: Arc<str>,
    tool_router: Arc<ToolRouter<Self>>,
}

/// Arguments of `notes_add`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddNote {
    /// The note's text.
    pub text: String,
}

impl McpTools {
    /// A server over `notes`, calling itself `name`.
    pub fn new(notes: Notes, name: impl Into<String>) -> Self {
        Self {
            notes,
            name: Arc::from(name.into()),
            tool_router: Arc::new(Self::tool_router()),
        }
    }
}

fn caller(parts: &http::request::Parts) -> Result<&Principal, ErrorData> {
    // The guard in front of /mcp inserts the principal; its absence is a wiring bug, not a
    // client error, and must never be served as anonymous.
    parts.extensions.get::<Principal>().ok_or_else(|| {
        ErrorData::internal_error("request reached a tool without a verified token", None)
    })
}

#[tool_router]
impl McpTools {
    #[tool(description = "Who is calling: the subject, client id and scopes of the access token")]
    async fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = caller(&parts)?;
        let body = serde_json::json!({
            "subject": p.subject,
            "client_id": p.client_id,
            "username": p.username,
            "scopes": p.scopes.iter().collect::<Vec<_>>(),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            body.to_string(),
        )]))
    }

    #[tool(description = "List the notes (needs mcp:read)")]
    async fn notes_list(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        caller(&parts)?;
        let notes = self.notes.lock().expect("notes lock").clone();
        Ok(CallToolResult::success(vec![ContentBlock::text(
            serde_json::json!({ "notes": notes }).to_string(),
        )]))
    }

    #[tool(description = "Add a note (needs mcp:write)")]
    async fn notes_add(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(AddNote { text }): Parameters<AddNote>,
    ) -> Result<CallToolResult, ErrorData> {
        let p = caller(&parts)?;
        if text.trim().is_empty() || text.len() > 1000 {
            return Err(ErrorData::invalid_params(
                "a note has 1 to 1000 characters",
                None,
            ));
        }
        let mut notes = self.notes.lock().expect("notes lock");
        if notes.len() >= 1000 {
            return Err(ErrorData::invalid_params(
                "the notebook is full (1000 notes)",
                None,
            ));
        }
        notes.push(format!("{} ({})", text.trim(), p.subject));
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "added note {}",
            notes.len()
        ))]))
    }
}

// Without `router`, the generated handlers call `Self::tool_router()` and so rebuild every tool
// and its JSON schema on each `tools/list`, `tools/call` and header check: most of a stateless
// request's cost.
#[tool_handler(router = self.tool_router)]
impl ServerHandler for McpTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                self.name.to_string(),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "mcp-auth-kit demo server: whoami, notes_list (mcp:read), notes_add (mcp:write)",
            )
    }
}
