//! A loopback stand-in for the managed login domain that the smoke run puts between the server
//! and Cognito: the browser is sent on to Cognito's real `/oauth2/authorize`, and token requests
//! are passed through unchanged, so the smoke run sees what Cognito answered (the access token it
//! issued, or its error) without changing what the server sends.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// One request the server made to Cognito's token endpoint, and the answer (no secrets: the
/// tokens themselves are not kept, only the access token's claims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchange {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: String,
    /// The `resource` the server sent, if any.
    pub resource: Option<String>,
    /// Cognito's HTTP status.
    pub status: u16,
    /// Cognito's `error` and `error_description`, on an error.
    pub error: Option<String>,
    /// The issued access token's claims (decoded, not verified: the server verifies).
    pub claims: Option<serde_json::Value>,
}

/// The running stand-in.
pub struct Recorder {
    /// Its base URL, given to the server as the managed login domain.
    pub base: String,
    exchanges: Arc<Mutex<Vec<TokenExchange>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Upstream {
    domain: String,
    http: reqwest::Client,
    exchanges: Arc<Mutex<Vec<TokenExchange>>>,
}

impl Recorder {
    /// Starts it on a free loopback port, in front of the managed login domain `domain`.
    pub async fn start(domain: &str) -> std::io::Result<Self> {
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let upstream = Upstream {
            domain: domain.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(std::io::Error::other)?,
            exchanges: exchanges.clone(),
        };
        let app = Router::new()
            .route("/oauth2/authorize", get(authorize))
            .route("/oauth2/token", post(token))
            .with_state(upstream);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            base,
            exchanges,
            task,
        })
    }

    /// The token requests seen so far, oldest first.
    pub fn exchanges(&self) -> Vec<TokenExchange> {
        self.exchanges.lock().expect("exchanges").clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn authorize(State(up): State<Upstream>, RawQuery(query): RawQuery) -> Redirect {
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    Redirect::to(&format!("{}/oauth2/authorize{query}", up.domain))
}

async fn token(State(up): State<Upstream>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut request = up
        .http
        .post(format!("{}/oauth2/token", up.domain))
        .body(body.clone());
    for name in [header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(value) = headers.get(&name) {
            request = request.header(name, value);
        }
    }
    let (status, content_type, answer) = match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let content_type = r.headers().get(header::CONTENT_TYPE).cloned();
            (status, content_type, r.bytes().await.unwrap_or_default())
        }
        Err(e) => {
            let text = format!(
                "{{\"error\":\"unreachable\",\"error_description\":{:?}}}",
                e.to_string()
            );
            (502, None, Bytes::from(text))
        }
    };
    up.exchanges.lock().expect("exchanges").push(record(
        field("grant_type"),
        field("resource"),
        status,
        &answer,
    ));
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        answer,
    )
        .into_response();
    if let Some(ct) = content_type {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

fn record(
    grant_type: Option<String>,
    resource: Option<String>,
    status: u16,
    answer: &[u8],
) -> TokenExchange {
    let json: serde_json::Value = serde_json::from_slice(answer).unwrap_or_default();
    let error = json["error"]
        .as_str()
        .map(|e| match json["error_description"].as_str() {
            Some(d) => format!("{e}: {d}"),
            None => e.to_owned(),
        });
    TokenExchange {
        grant_type: grant_type.unwrap_or_default(),
        resource,
        status,
        error,
        claims: json["access_token"].as_str().and_then(claims),
    }
}

/// A JWT's payload, decoded without verification.
pub fn claims(jwt: &str) -> Option<serde_json::Value> {
    let payload = jwt.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_kept_as_its_claims_or_its_error_never_its_tokens() {
        let payload =
            URL_SAFE_NO_PAD.encode(br#"{"aud":"https://mcp.example.com/mcp","scope":"openid"}"#);
        let answer = format!(
            r#"{{"access_token":"h.{payload}.s","refresh_token":"r3fr3sh","id_token":"i"}}"#
        );
        let ok = record(
            Some("authorization_code".into()),
            None,
            200,
            answer.as_bytes(),
        );
        assert_eq!(
            ok.claims.as_ref().unwrap()["aud"],
            "https://mcp.example.com/mcp"
        );
        assert!(!format!("{ok:?}").contains("r3fr3sh"));
        let refused = record(
            Some("authorization_code".into()),
            Some("https://mcp.example.com/mcp".into()),
            400,
            br#"{"error":"invalid_request","error_description":"resource not allowed"}"#,
        );
        assert_eq!(
            refused.error.as_deref(),
            Some("invalid_request: resource not allowed")
        );
        assert_eq!(refused.claims, None);
    }
}
