//! What each tool needs: the one place the guard, the façade and the metadata ask. The bundled
//! server's answer is its tool table (`tools.rs`); a server behind the gateway gets its answer
//! from a policy file.

use crate::scope::ScopeSet;

/// The scopes a server's tools need.
pub trait ToolScopes: Send + Sync {
    /// Every scope `tool` needs; `None` for a tool this server does not have (the MCP layer
    /// refuses the call: it is no scope matter).
    fn required(&self, tool: &str) -> Option<ScopeSet>;

    /// Every scope the tools use, in the order the server advertises them (the façade's
    /// `scopes_supported`, and the order of a step-up challenge's `scope`).
    fn all(&self) -> ScopeSet;

    /// The scopes a client should ask for first: the 401 challenge's `scope`, the protected
    /// resource metadata's `scopes_supported`, and the façade's default when a client names none.
    fn first(&self) -> ScopeSet;
}
