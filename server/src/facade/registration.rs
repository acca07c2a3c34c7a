//! Dynamic Client Registration (RFC 7591), `POST /register`.

use std::{sync::Arc, time::Duration};

use crate::{client_address::ClientAddress, secret::sha256_hex};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    admission,
    client_metadata::{ClientMetadata, Source},
    clients::{AuthMethod, Client, Origin},
    pages::RETRY_AFTER_SECS,
    state::{Facade, random_secret},
    store::{Records, StoreError, now_secs},
};

/// Lifetime of a registration that has never been used to get a token: an hour, ample for a
/// client to register and sign its user in, and the span the registration cap counts over, so
/// a flood that fills the cap shuts new clients out for an hour after it stops, not a day.
pub const UNUSED_REGISTRATION_TTL: Duration = Duration::from_secs(3600);
/// The name registrations are admitted under (see [`admission`]).
const REGISTRATIONS: &str = "registrations";
/// When a client refused by the registration cap is told to try again: a bucket of the cap's
/// window (a twelfth of an hour), when the oldest admissions may be forgotten.
const ADMISSION_RETRY_SECS: u64 = UNUSED_REGISTRATION_TTL.as_secs() / 12;
/// Largest registration request body: ten redirect URIs of the longest kind, a name and the
/// rest of RFC 7591's fields fit.
pub const MAX_REGISTRATION_BYTES: usize = 32 * 1024;
/// Lifetime of a registration once used.
pub const USED_REGISTRATION_TTL: Duration = Duration::from_secs(180 * 24 * 3600);

/// An RFC 7591 section 3.2.2 error.
fn error(status: StatusCode, code: &'static str, description: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": description.into() });
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A refused registration (RFC 7591 section 3.2.2).
#[derive(Debug)]
pub struct Refused {
    /// `invalid_redirect_uri` or `invalid_client_metadata`.
    pub code: &'static str,
    /// What was wrong.
    pub description: String,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.code, self.description)
    }
}

/// Validates a request into a client and its secret (for confidential clients).
pub fn validate(
    req: ClientMetadata,
    supported_scopes: &[String],
) -> Result<(Client, Option<String>), Refused> {
    let accepted = req
        .validate(Source::Registration {
            scopes: supported_scopes,
        })
        .map_err(|refusal| Refused {
            code: refusal.kind.code(),
            description: refusal.description,
        })?;
    let secret = (accepted.auth_method != AuthMethod::None).then(random_secret);
    let client = Client {
        client_id: format!("dcr-{}", random_secret()),
        secret_sha256: secret.as_deref().map(sha256_hex),
        auth_method: accepted.auth_method,
        redirect_uris: accepted.redirect_uris,
        client_name: accepted.client_name,
        grant_types: accepted.grant_types,
        origin: Origin::Dcr,
        issued_at: now_secs(),
    };
    Ok((client, secret))
}

/// `POST /register`.
pub async fn register(
    State(facade): State<Arc<Facade>>,
    client: ClientAddress,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let limits = &facade.config.registration;
    if let Err(wait) = facade.registration_limiter.check(client.ip()) {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_client_metadata",
            "too many registrations from this address; try later",
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return r;
    }
    // A cross-site HTML form cannot send JSON: visitors' browsers cannot be made to register.
    if !is_json(&headers) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_client_metadata",
            "a registration request must be JSON (Content-Type: application/json)",
        );
    }
    // Before it is parsed: what a registration needs fits many times over, and a larger body
    // would cost memory (and in Cognito mode exceed DynamoDB's item size, answered 503).
    if body.len() > MAX_REGISTRATION_BYTES {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            format!(
                "the registration request is larger than {} KiB",
                MAX_REGISTRATION_BYTES / 1024
            ),
        );
    }
    let request: ClientMetadata = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                // serde quotes the offending value: cut, like every echo of a peer's text.
                format!(
                    "the body is not a registration request: {}",
                    e.to_string().chars().take(200).collect::<String>()
                ),
            );
        }
    };
    let (client, secret) = match validate(request, &facade.config.scopes) {
        Ok(v) => v,
        Err(refused) => return refused.into_response(),
    };
    let records = Records(facade.store.as_ref());
    match admission::admit(
        facade.store.as_ref(),
        REGISTRATIONS,
        limits.max_clients,
        UNUSED_REGISTRATION_TTL,
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            let mut r = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the registration limit is reached; try later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(ADMISSION_RETRY_SECS));
            return r;
        }
        Err(e) => return store_failure(e),
    }
    let expires = now_secs() + UNUSED_REGISTRATION_TTL.as_secs();
    if let Err(e) = records.insert(&client.client_id, &client, expires).await {
        return store_failure(e);
    }
    tracing::info!(client_id = %client.client_id, name = ?client.client_name, "client registered");
    let mut body = serde_json::json!({
        "client_id": client.client_id,
        "client_id_issued_at": client.issued_at,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "grant_types": client.grant_types,
        "response_types": ["code"],
    });
    if let Some(name) = &client.client_name {
        body["client_name"] = name.clone().into();
    }
    if let Some(secret) = secret {
        body["client_secret"] = secret.into();
        body["client_secret_expires_at"] = 0.into();
    }
    let mut r = (StatusCode::CREATED, Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn store_failure(e: StoreError) -> Response {
    tracing::error!(error = %e, "registration store failed");
    let mut r = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "registration is unavailable; try again in a moment",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: serde_json::Value) -> ClientMetadata {
        serde_json::from_value(json).unwrap()
    }

    fn scopes() -> Vec<String> {
        vec!["mcp:read".into(), "mcp:write".into()]
    }

    #[test]
    fn a_public_loopback_client_registers() {
        let (client, secret) = validate(
            req(serde_json::json!({"redirect_uris": ["http://127.0.0.1:3000/cb"], "token_endpoint_auth_method": "none", "client_name": "X"})),
            &scopes(),
        )
        .unwrap();
        assert!(secret.is_none());
        assert_eq!(client.auth_method, AuthMethod::None);
        assert_eq!(client.grant_types, ["authorization_code"]);
    }

    #[test]
    fn confidential_by_default_with_a_hashed_secret() {
        let (client, secret) = validate(
            req(serde_json::json!({"redirect_uris": ["https://a.example/cb"]})),
            &scopes(),
        )
        .unwrap();
        let secret = secret.unwrap();
        assert_eq!(client.auth_method, AuthMethod::ClientSecretBasic);
        assert_eq!(client.secret_sha256, Some(sha256_hex(&secret)));
        assert_ne!(client.secret_sha256.as_deref(), Some(secret.as_str()));
    }

    #[test]
    fn rfc7591_error_codes() {
        let code = |json: serde_json::Value| validate(req(json), &scopes()).unwrap_err().code;
        for bad_redirect in [
            serde_json::json!({}),
            serde_json::json!({"redirect_uris": []}),
            serde_json::json!({"redirect_uris": ["http://evil.example/cb"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb#f"]}),
            // What a parser would quietly repair is not the URI the client will send.
            serde_json::json!({"redirect_uris": ["https://a.example/c\r\nb"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/c b"]}),
            serde_json::json!({"redirect_uris": ["https://a.example\\cb"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/c\tb"]}),
            serde_json::json!({"redirect_uris": ["HTTPS://A.example/cb"]}),
            serde_json::json!({"redirect_uris": ["https://a.example:443/cb"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/x/../cb"]}),
        ] {
            assert_eq!(
                code(bad_redirect.clone()),
                "invalid_redirect_uri",
                "{bad_redirect}"
            );
        }
        for bad_meta in [
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["refresh_token"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "scope": "admin"}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": ""}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "  "}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "a\u{0}b"}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "Good\nClient"}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "safe\u{202e}gnp.exe"}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x\u{2066}y"}),
            serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(201)}),
        ] {
            assert_eq!(
                code(bad_meta.clone()),
                "invalid_client_metadata",
                "{bad_meta}"
            );
        }
    }

    #[test]
    fn names_people_read_are_accepted() {
        for name in [
            "Claude",
            "VS Code — Copilot",
            "日本語クライアント",
            "👩‍💻 dev tool",
        ] {
            let r = validate(
                req(
                    serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": name}),
                ),
                &scopes(),
            );
            assert!(r.is_ok(), "{name}");
        }
    }
}
