//! The MCP tools: small, but each shows authorization at work.
//!
//! | tool | needs | does |
//! | --- | --- | --- |
//! | `whoami` | `mcp:read` | the caller's subject, client id and scopes, from the token |
//! | `notes_list` | `mcp:read` | lists the notes |
//! | `notes_add` | `mcp:write` | adds a note (the step-up example: a read-only token gets 403) |
//!
//! One table ([`TOOLS`]) says each tool's scope and how the direct path calls it; rmcp's router
//! (the `#[tool]` methods) serves the same tools, and a test keeps the two the same.

use std::sync::{Arc, Mutex};

use rmcp::{
    ErrorData, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::Extension, wrapper::Parameters},
    model::{
        CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities, ServerConfig,
    },
    tool, tool_handler, tool_router,
};
use serde::Deserialize;

use crate::{access_token::Principal, scope::ScopeSet, tool_scopes::ToolScopes};

/// The read scope.
pub const READ: &str = "mcp:read";
/// The write scope.
pub const WRITE: &str = "mcp:write";

/// One bundled tool: its name, the scope it needs, and its direct-path call.
struct Tool {
    name: &'static str,
    needs: &'static str,
    direct: DirectCall,
}

/// A tool's answer without rmcp; `None` when the arguments are not the tool's, which rmcp then
/// answers in its own words.
type DirectCall =
    fn(&McpTools, Option<&JsonObject>, &Principal) -> Option<Result<CallToolResult, ErrorData>>;

/// The bundled tools.
const TOOLS: [Tool; 3] = [
    Tool {
        name: "whoami",
        needs: READ,
        direct: |_, arguments, caller| {
            no_arguments(arguments).then(|| Ok(McpTools::whoami_result(caller)))
        },
    },
    Tool {
        name: "notes_list",
        needs: READ,
        direct: |tools, arguments, _| {
            no_arguments(arguments).then(|| Ok(tools.notes_list_result()))
        },
    },
    Tool {
        name: "notes_add",
        needs: WRITE,
        direct: |tools, arguments, caller| {
            let AddNote { text } = AddNote::deserialize(arguments?).ok()?;
            Some(tools.add_note(caller, &text))
        },
    },
];

fn no_arguments(arguments: Option<&JsonObject>) -> bool {
    arguments.is_none_or(|a| a.is_empty())
}

fn tool(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.name == name)
}

/// The bundled tools' scopes, from [`TOOLS`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BundledScopes;

impl ToolScopes for BundledScopes {
    fn required(&self, tool_name: &str) -> Option<ScopeSet> {
        tool(tool_name).map(|t| ScopeSet::parse(t.needs))
    }

    fn all(&self) -> ScopeSet {
        // ScopeSet keeps the first of each: the order of the table.
        TOOLS.iter().map(|t| t.needs).collect()
    }

    fn first(&self) -> ScopeSet {
        ScopeSet::parse(READ)
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

// What each tool does, shared by the rmcp handlers below and the direct stateless path
// (`crate::stateless`), so the two cannot answer differently.
impl McpTools {
    fn whoami_result(p: &Principal) -> CallToolResult {
        let body = serde_json::json!({
            "subject": p.subject,
            "client_id": p.client_id,
            "username": p.username,
            "scopes": p.scopes.iter().collect::<Vec<_>>(),
        });
        CallToolResult::success(vec![ContentBlock::text(body.to_string())])
    }

    fn notes_list_result(&self) -> CallToolResult {
        let notes = self.notes.lock().expect("notes lock").clone();
        CallToolResult::success(vec![ContentBlock::text(
            serde_json::json!({ "notes": notes }).to_string(),
        )])
    }

    fn add_note(&self, p: &Principal, text: &str) -> Result<CallToolResult, ErrorData> {
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

    /// Calls `tool_name` for `caller` without rmcp; `None` when it is not one of these tools or
    /// the arguments are not the tool's, which rmcp then answers in its own words.
    pub fn call_directly(
        &self,
        tool_name: &str,
        arguments: Option<&JsonObject>,
        caller: &Principal,
    ) -> Option<Result<CallToolResult, ErrorData>> {
        (tool(tool_name)?.direct)(self, arguments, caller)
    }

    /// The tool list, as rmcp lists it.
    pub fn list(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }
}

#[tool_router]
impl McpTools {
    #[tool(description = "Who is calling: the subject, client id and scopes of the access token")]
    async fn whoami(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(Self::whoami_result(caller(&parts)?))
    }

    #[tool(description = "List the notes (needs mcp:read)")]
    async fn notes_list(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        caller(&parts)?;
        Ok(self.notes_list_result())
    }

    #[tool(description = "Add a note (needs mcp:write)")]
    async fn notes_add(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(AddNote { text }): Parameters<AddNote>,
    ) -> Result<CallToolResult, ErrorData> {
        self.add_note(caller(&parts)?, &text)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_router_name_the_same_tools_and_scopes() {
        let listed = McpTools::new(Default::default(), "test").list();
        let mut names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
        let mut table: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        table.sort_unstable();
        assert_eq!(names, table);
        for listed in &listed {
            let needs = tool(&listed.name).unwrap().needs;
            let description = listed.description.as_deref().unwrap_or_default();
            // whoami's description says nothing of scopes; the others name theirs.
            assert!(
                listed.name == "whoami" || description.contains(needs),
                "{}: the description does not name {needs}",
                listed.name
            );
        }
        // Every scope a tool needs is advertised, and every advertised scope is used.
        let all = BundledScopes.all();
        assert!(TOOLS.iter().all(|t| all.iter().any(|s| s == t.needs)));
        assert!(all.iter().all(|s| TOOLS.iter().any(|t| t.needs == s)));
        assert!(BundledScopes.first().is_subset_of(&all));
    }

    #[test]
    fn every_listed_tool_needs_scopes_and_has_a_direct_path() {
        let tools = McpTools::new(Default::default(), "test");
        let caller = Principal {
            subject: "user-1".into(),
            client_id: None,
            username: None,
            scopes: ScopeSet::parse("mcp:read mcp:write"),
            expires_at: 0,
        };
        let note = serde_json::json!({"text": "a note"});
        let note = note.as_object();
        let listed = tools.list();
        assert_eq!(listed.len(), 3);
        for tool in listed {
            // A tool without required scopes would be open to any token of this resource.
            assert!(
                BundledScopes.required(&tool.name).is_some(),
                "{}",
                tool.name
            );
            let answered = tools
                .call_directly(&tool.name, None, &caller)
                .or_else(|| tools.call_directly(&tool.name, note, &caller));
            assert!(
                matches!(answered, Some(Ok(_))),
                "{} has no direct path",
                tool.name
            );
        }
        assert!(tools.call_directly("nope", None, &caller).is_none());
    }
}
