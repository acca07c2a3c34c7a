//! The façade as a client of the upstream authorization server.

use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};

use super::{config::UpstreamConfig, state::Facade};

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

/// The façade's client credentials as an `Authorization: Basic` value.
fn basic_authorization(facade: &Facade) -> String {
    let up = &facade.config.upstream;
    // RFC 6749 section 2.3.1: the id and secret are form-urlencoded before Basic encoding.
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let basic = STANDARD.encode(format!(
        "{}:{}",
        encode(&up.client_id),
        encode(&up.client_secret)
    ));
    format!("Basic {basic}")
}

/// Revokes an upstream refresh token (RFC 7009), when the upstream has a revocation endpoint;
/// best effort: a failure is logged, and the façade's own handle is gone either way.
pub async fn revoke_upstream(facade: &Facade, refresh_token: &str) {
    let Some(endpoint) = &facade.config.upstream.revocation_endpoint else {
        return;
    };
    let result = facade
        .http
        .post(endpoint.url().clone())
        .header(reqwest::header::AUTHORIZATION, basic_authorization(facade))
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await;
    match result {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => tracing::warn!(status = %r.status(), "the upstream refused a revocation"),
        Err(e) => tracing::warn!(error = %e, "the upstream revocation endpoint is unreachable"),
    }
}

/// The form of an upstream token request: `resource` only where the upstream takes it there.
fn token_form<'a>(
    up: &UpstreamConfig,
    form: &[(&'a str, &'a str)],
    resource: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut form = form.to_vec();
    if up.resource_at_token_endpoint {
        form.push(("resource", resource));
    }
    form
}

/// Calls the upstream token endpoint with the façade's client credentials; `resource` is sent
/// only to an upstream whose token endpoint takes it.
pub async fn token_request(
    facade: &Facade,
    form: &[(&str, &str)],
    resource: &str,
) -> Result<UpstreamTokens, String> {
    let up = &facade.config.upstream;
    let form = token_form(up, form, resource);
    let response = facade
        .http
        .post(up.token_endpoint.url().clone())
        .header(reqwest::header::AUTHORIZATION, basic_authorization(facade))
        .form(&form)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_goes_to_the_token_endpoint_only_where_the_upstream_takes_it() {
        let mut up = UpstreamConfig::for_tests();
        let form = [("grant_type", "refresh_token"), ("refresh_token", "r")];
        let resource = "https://mcp.example/mcp";
        assert!(
            !token_form(&up, &form, resource)
                .iter()
                .any(|(k, _)| *k == "resource")
        );
        up.resource_at_token_endpoint = true;
        assert!(token_form(&up, &form, resource).contains(&("resource", resource)));
    }
}
