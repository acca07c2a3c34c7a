//! The bundled MCP server: an OAuth 2.1 resource server and an authorization facade over Cognito.
//!
//! Only the resource identity exists so far; the server itself comes with its own issue.

pub mod resource;
