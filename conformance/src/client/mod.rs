//! The client side of the MCP Authorization flow: PKCE, the authorization request and its
//! response (RFC 9207 `iss` included), the token endpoint, Dynamic Client Registration, a
//! loopback host for client metadata documents, and a browser stand-in that signs in through
//! HTML forms. The tester drives it to judge servers; the example clients drive it to show the
//! flow. Every request goes through [`crate::probe::Probe`], so each one is also evidence.

pub mod authorization;
pub mod browser;
pub mod callback;
pub mod cimd_host;
pub mod pkce;
pub mod registration;
pub mod scope;
pub mod token;

/// Whether `url` names loopback as redirect URIs do (RFC 8252 §7.3): 127.0.0.1, `[::1]` or
/// `localhost`.
pub fn is_loopback(url: &url::Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
}
