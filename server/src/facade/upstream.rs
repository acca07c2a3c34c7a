//! The façade as a client of the upstream authorization server.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::Facade;

/// The upstream's token response (the parts the façade keeps).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamTokens {
    /// The access token, handed to the MCP client as is.
    pub access_token: String,
    /// Seconds until it expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// The refresh token; it never leaves the façade.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Calls the upstream token endpoint with the façade's client credentials.
pub async fn token_request(
    facade: &Facade,
    form: &[(&str, &str)],
) -> Result<UpstreamTokens, String> {
    let up = &facade.config.upstream;
    // RFC 6749 section 2.3.1: the id and secret are form-urlencoded before Basic encoding.
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = STANDARD.encode(format!(
        "{}:{}",
        encode(&up.client_id),
        encode(&up.client_secret)
    ));
    let response = facade
        .http
        .post(&up.token_endpoint)
        .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
        .form(form)
        .send()
        .await
        .map_err(|e| format!("the upstream token endpoint is unreachable: {e}"))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| format!("the upstream token response is not JSON: {e}"))?;
    if !status.is_success() {
        let error = body
            .get("error")
            .and_then(|e| e.as_str())
            .unwrap_or("unknown_error");
        return Err(format!(
            "the upstream token endpoint refused: HTTP {status} {error}"
        ));
    }
    serde_json::from_value(body)
        .map_err(|e| format!("the upstream token response lacks fields: {e}"))
}
