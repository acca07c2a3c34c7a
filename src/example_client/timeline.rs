//! The flow as a list of steps, each with its request and response (secrets redacted, token
//! claims decoded), rendered for the terminal and for the page.

use mcp_auth_conformance::probe::Exchange;
use serde::Serialize;

/// One step of the flow.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// What the step is: "401", "PRM", "AS metadata", "registration", "authorize", …
    pub name: &'static str,
    /// Whether it went as the flow needs.
    pub ok: bool,
    /// One line on what happened, or why it failed.
    pub summary: String,
    /// The requests made, as evidence.
    pub exchanges: Vec<Exchange>,
    /// Decoded claims of the access token it produced, if any (not verified: for reading).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<serde_json::Value>,
}

impl Step {
    /// A step that went well.
    pub fn ok(name: &'static str, summary: impl Into<String>, exchanges: Vec<Exchange>) -> Self {
        Self {
            name,
            ok: true,
            summary: summary.into(),
            exchanges,
            claims: None,
        }
    }

    /// A step that failed.
    pub fn failed(
        name: &'static str,
        summary: impl Into<String>,
        exchanges: Vec<Exchange>,
    ) -> Self {
        Self {
            ok: false,
            ..Self::ok(name, summary, exchanges)
        }
    }

    /// The terminal form: a mark, the name, the summary, then each request on its own line.
    pub fn to_text(&self) -> String {
        let mark = if self.ok { "ok  " } else { "FAIL" };
        let mut out = format!("{mark} {:<13} {}", self.name, self.summary);
        for e in &self.exchanges {
            let status = e
                .status
                .map_or_else(|| e.error.clone().unwrap_or_default(), |s| s.to_string());
            out.push_str(&format!("\n       {} {} -> {status}", e.method, e.url));
            if let Some(l) = &e.location {
                out.push_str(&format!("\n         Location: {l}"));
            }
        }
        if let Some(c) = &self.claims {
            out.push_str(&format!("\n       claims: {c}"));
        }
        out
    }
}

/// The payload of a JWT, decoded without verification (for display only), or None if the token
/// is not a JWT.
pub fn claims(token: &str) -> Option<serde_json::Value> {
    let mut claims = mcp_auth_conformance::client::token::unverified_claims(token)?;
    // Per-sign-in values make the display noisy and are not what a reader looks for.
    if let Some(map) = claims.as_object_mut() {
        map.remove("jti");
        map.remove("origin_jti");
        map.remove("event_id");
    }
    Some(claims)
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    #[test]
    fn claims_are_decoded_from_a_jwt_and_not_from_garbage() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u1","scope":"mcp:read","jti":"x"}"#);
        let c = claims(&format!("h.{payload}.s")).unwrap();
        assert_eq!(c["sub"], "u1");
        assert!(c.get("jti").is_none());
        assert!(claims("opaque-token").is_none());
    }
}
