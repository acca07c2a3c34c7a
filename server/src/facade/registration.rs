//! Dynamic Client Registration (RFC 7591), `POST /register`.

use std::{net::IpAddr, sync::Arc, time::Duration};

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

/// `POST /register`: decides, then renders the decision.
pub async fn register(
    State(facade): State<Arc<Facade>>,
    client: ClientAddress,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match registered(&facade, client.ip(), &headers, &body).await {
        Ok((client, secret)) => created(&client, secret),
        Err(refusal) => refusal.into_response(),
    }
}

/// Why a registration was not made, each said as RFC 7591 section 3.2.2 says.
#[derive(Debug)]
pub enum RegistrationRefusal {
    /// Too many registrations from this address (429, with when to retry).
    TooMany(Duration),
    /// Not JSON: a cross-site HTML form cannot send JSON, so visitors' browsers cannot be made
    /// to register (415).
    NotJson,
    /// Larger than [`MAX_REGISTRATION_BYTES`] (400).
    TooLarge,
    /// Not a registration request: the parser's words, cut short (400).
    Malformed(String),
    /// Metadata the façade does not accept (400, its RFC 7591 code).
    Invalid(Refused),
    /// The cap on registrations alive at once is reached (503, with when to retry).
    Full,
    /// The store failed (503).
    Store(StoreError),
}

impl IntoResponse for RegistrationRefusal {
    fn into_response(self) -> Response {
        let (status, code, description, retry_after) = match self {
            Self::TooMany(wait) => (
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_client_metadata",
                "too many registrations from this address; try later".to_owned(),
                Some(wait.as_secs().max(1)),
            ),
            Self::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_client_metadata",
                "a registration request must be JSON (Content-Type: application/json)".to_owned(),
                None,
            ),
            Self::TooLarge => (
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                format!(
                    "the registration request is larger than {} KiB",
                    MAX_REGISTRATION_BYTES / 1024
                ),
                None,
            ),
            Self::Malformed(why) => (
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                why,
                None,
            ),
            Self::Invalid(refused) => return refused.into_response(),
            Self::Full => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the registration limit is reached; try later".to_owned(),
                Some(ADMISSION_RETRY_SECS),
            ),
            Self::Store(e) => {
                tracing::error!(error = %e, "registration store failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "registration is unavailable; try again in a moment".to_owned(),
                    Some(RETRY_AFTER_SECS),
                )
            }
        };
        let mut r = error(status, code, description);
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

/// Checks a registration from `ip` and, when it is accepted and admitted, stores the client;
/// returns it and its secret (for a confidential client).
pub async fn registered(
    facade: &Facade,
    ip: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Client, Option<String>), RegistrationRefusal> {
    facade
        .registration_limiter
        .check(ip)
        .map_err(RegistrationRefusal::TooMany)?;
    if !is_json(headers) {
        return Err(RegistrationRefusal::NotJson);
    }
    // Before it is parsed: what a registration needs fits many times over, and a larger body
    // would cost memory (and in Cognito mode exceed DynamoDB's item size, answered 503).
    if body.len() > MAX_REGISTRATION_BYTES {
        return Err(RegistrationRefusal::TooLarge);
    }
    let request: ClientMetadata = serde_json::from_slice(body).map_err(|e| {
        // serde quotes the offending value: cut, like every echo of a peer's text.
        RegistrationRefusal::Malformed(format!(
            "the body is not a registration request: {}",
            e.to_string().chars().take(200).collect::<String>()
        ))
    })?;
    let (client, secret) =
        validate(request, &facade.config.scopes).map_err(RegistrationRefusal::Invalid)?;
    let admitted = admission::admit(
        facade.store.as_ref(),
        REGISTRATIONS,
        facade.config.registration.max_clients,
        UNUSED_REGISTRATION_TTL,
    )
    .await
    .map_err(RegistrationRefusal::Store)?;
    if !admitted {
        return Err(RegistrationRefusal::Full);
    }
    let expires = now_secs() + UNUSED_REGISTRATION_TTL.as_secs();
    Records(facade.store.as_ref())
        .insert(&client.client_id, &client, expires)
        .await
        .map_err(RegistrationRefusal::Store)?;
    tracing::info!(client_id = %client.client_id, name = ?client.client_name, "client registered");
    Ok((client, secret))
}

/// The registration response (RFC 7591 section 3.2.1): 201, never cached.
fn created(client: &Client, secret: Option<String>) -> Response {
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

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    #[tokio::test]
    async fn a_registration_is_stored_once_admitted_and_a_flood_from_one_address_is_refused() {
        let f = Facade::for_tests(&[7; 32]);
        let ip = IpAddr::from([127, 0, 0, 1]);
        let body = br#"{"redirect_uris": ["http://127.0.0.1:3000/cb"], "token_endpoint_auth_method": "none"}"#;
        let (client, secret) = registered(&f, ip, &json_headers(), body).await.unwrap();
        assert!(secret.is_none());
        let stored: Option<Client> = Records(f.store.as_ref())
            .get(&client.client_id)
            .await
            .unwrap();
        assert_eq!(stored.map(|c| c.redirect_uris), Some(client.redirect_uris));
        let refused = registered(&f, ip, &HeaderMap::new(), body).await;
        assert!(matches!(refused, Err(RegistrationRefusal::NotJson)));
        let huge = vec![b' '; MAX_REGISTRATION_BYTES + 1];
        let refused = registered(&f, ip, &json_headers(), &huge).await;
        assert!(matches!(refused, Err(RegistrationRefusal::TooLarge)));
        let refused = registered(&f, ip, &json_headers(), b"[1,2]").await;
        assert!(matches!(refused, Err(RegistrationRefusal::Malformed(_))));
        let mut flooded = false;
        for _ in 0..40 {
            if let Err(RegistrationRefusal::TooMany(wait)) =
                registered(&f, ip, &json_headers(), body).await
            {
                flooded = wait > Duration::ZERO;
                break;
            }
        }
        assert!(flooded, "one address is held to its allowance");
    }
}
