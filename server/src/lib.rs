//! The bundled MCP server: an OAuth 2.1 resource server and an authorization facade over Cognito.
//!
//! The resource-server core is here (token extraction, validation against the authorization
//! server's JWKS, challenges, Protected Resource Metadata); the HTTP server, the facade and the
//! development authorization server build on it.

pub mod access_token;
pub mod app;
pub mod bearer;
pub mod client_address;
pub mod cognito;
pub mod connections;
pub mod dev_as;
pub mod discovery;
pub mod endpoint;
pub mod expiring;
pub mod facade;
pub mod forms;
pub mod guard;
pub mod html;
pub mod introspection;
pub mod jwks;
pub mod local;
pub mod mcp;
pub mod oauth;
pub mod pkce;
pub mod prm;
pub mod refusals;
pub mod request_body;
pub mod resource;
pub mod runtime;
pub mod scope;
pub mod secret;
pub mod signing;
pub mod tool_scopes;
pub mod tools;
pub mod www_authenticate;
