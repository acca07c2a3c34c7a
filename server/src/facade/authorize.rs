//! `GET /authorize` and `POST /consent`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    Facade,
    clients::Client,
    random_secret,
    store::{Kind, Records, now_secs},
};
use crate::{html, oauth_request, pkce, scope::ScopeSet, secret};

/// How long a consent page, and an authorization waiting for the upstream, stay valid.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// How long a consent is remembered for a browser and client.
pub const APPROVAL_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
const BROWSER_COOKIE: &str = "mcpak_browser";

/// A validated authorization request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// Where the client wants the answer.
    pub redirect_uri: String,
    /// The client's state, returned as is.
    pub state: Option<String>,
    /// The client's PKCE challenge (S256).
    pub code_challenge: String,
    /// Façade scopes granted.
    pub scope: ScopeSet,
    /// The resource the token is for.
    pub resource: String,
}

/// An authorization waiting for the upstream's callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// The client's request.
    pub request: AuthRequest,
    /// The façade's own PKCE verifier for the upstream.
    pub upstream_verifier: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Approval {
    scope: ScopeSet,
}

/// Sends an authorization error (or success) back to the client, always with `iss` (RFC 9207).
pub fn redirect_to_client(
    facade: &Facade,
    redirect_uri: &str,
    pairs: &[(&str, &str)],
    state: Option<&str>,
) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "the redirect URI is invalid");
    };
    {
        let mut q = url.query_pairs_mut();
        q.extend_pairs(pairs.iter().copied());
        if let Some(state) = state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", facade.issuer());
    }
    Redirect::to(url.as_str()).into_response()
}

/// An error page: for requests whose client or redirect URI cannot be trusted with a redirect.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    (status, Html(html::error_page(message))).into_response()
}

/// `GET /authorize`.
pub async fn authorize(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return error_page(StatusCode::BAD_REQUEST, "client_id is required");
    };
    let client = match facade.client(client_id).await {
        Ok(c) => c,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let Some(redirect_uri) = get("redirect_uri").filter(|r| client.accepts_redirect(r)) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri is missing or not registered for this client",
        );
    };
    let state = get("state");
    let fail = |error: &str, description: &str| {
        redirect_to_client(
            &facade,
            redirect_uri,
            &[("error", error), ("error_description", description)],
            state,
        )
    };
    if state.is_some_and(|s| s.len() > 1024) {
        return fail("invalid_request", "state is longer than 1024 characters");
    }
    let challenge = match oauth_request::code_flow_challenge(get) {
        Ok(c) => c,
        Err((error, description)) => return fail(error, description),
    };
    let scope = match get("scope") {
        Some(s) => ScopeSet::parse(s),
        None => ScopeSet::parse(&facade.config.default_scope),
    };
    if let Some(bad) = scope
        .iter()
        .find(|s| !facade.config.scopes.iter().any(|x| x == s))
    {
        return fail("invalid_scope", &format!("scope {bad} is not supported"));
    }
    // RFC 8707: a client that names a resource must name this one; one that names none gets
    // a token for this one all the same.
    if get("resource").is_some_and(|r| !facade.config.resource.matches(r)) {
        return fail("invalid_target", "resource is not this MCP server");
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        scope,
        resource: facade.config.resource.to_string(),
    };
    let (browser, new_browser) = match browser_id(&headers) {
        Some(b) => (b, false),
        None => (random_secret(), true),
    };
    let records = Records(facade.store.as_ref());
    let approved = records
        .get::<Approval>(Kind::Approval, &approval_key(&browser, &client.client_id))
        .await
        .ok()
        .flatten()
        .is_some_and(|a| request.scope.iter().all(|s| a.scope.iter().any(|g| g == s)));
    if approved {
        return to_upstream(&facade, request).await;
    }
    let consent_id = random_secret();
    if let Err(e) = records
        .insert(
            Kind::Consent,
            &consent_id,
            &request,
            now_secs() + PENDING_TTL.as_secs(),
        )
        .await
    {
        tracing::error!(error = %e, "consent store failed");
        return fail(
            "temporarily_unavailable",
            "the authorization server cannot store the request; try again",
        );
    }
    let csrf = csrf_token(&facade, &browser, &consent_id);
    let page = consent_page(&client, &request, &consent_id, &csrf);
    let mut response = Html(page).into_response();
    let headers = response.headers_mut();
    // The page must not be framed (clickjacking the Approve button) nor cached.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'; default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if new_browser {
        let secure = if facade.issuer().starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{BROWSER_COOKIE}={browser}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            APPROVAL_TTL.as_secs()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, v);
        }
    }
    response
}

/// The consent form's fields.
#[derive(Deserialize)]
pub struct ConsentForm {
    consent_id: String,
    #[serde(default)]
    csrf: String,
    decision: String,
}

/// `POST /consent`.
pub async fn consent(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let Some(browser) = browser_id(&headers) else {
        return error_page(
            StatusCode::FORBIDDEN,
            "this consent was not given from the browser that was asked",
        );
    };
    let expected = csrf_token(&facade, &browser, &form.consent_id);
    if !secret::equal(&expected, &form.csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "the consent form is forged or stale (CSRF check failed)",
        );
    }
    let records = Records(facade.store.as_ref());
    let request = match records
        .take::<AuthRequest>(Kind::Consent, &form.consent_id)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "this consent request expired or was already answered",
            );
        }
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    if form.decision != "approve" {
        return redirect_to_client(
            &facade,
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "the user denied access"),
            ],
            request.state.as_deref(),
        );
    }
    let approval = Approval {
        scope: request.scope.clone(),
    };
    let key = approval_key(&browser, &request.client_id);
    if let Err(e) = records
        .put(
            Kind::Approval,
            &key,
            &approval,
            now_secs() + APPROVAL_TTL.as_secs(),
        )
        .await
    {
        tracing::warn!(error = %e, "could not remember a consent");
    }
    to_upstream(&facade, request).await
}

/// Sends the browser to the upstream with the façade's own client, PKCE and state.
async fn to_upstream(facade: &Facade, request: AuthRequest) -> Response {
    let upstream_state = random_secret();
    let upstream_verifier = random_secret();
    let challenge = pkce::s256_challenge(&upstream_verifier);
    let mut scope = vec!["openid".to_owned()];
    scope.extend(request.scope.iter().map(|s| facade.upstream_scope(s)));
    let resource = request.resource.clone();
    let pending = Pending {
        request: request.clone(),
        upstream_verifier,
    };
    if let Err(e) = Records(facade.store.as_ref())
        .insert(
            Kind::Pending,
            &upstream_state,
            &pending,
            now_secs() + PENDING_TTL.as_secs(),
        )
        .await
    {
        tracing::error!(error = %e, "pending-authorization store failed");
        return redirect_to_client(
            facade,
            &request.redirect_uri,
            &[
                ("error", "temporarily_unavailable"),
                (
                    "error_description",
                    "the authorization server cannot store the request",
                ),
            ],
            request.state.as_deref(),
        );
    }
    let up = &facade.config.upstream;
    let Ok(mut url) = url::Url::parse(&up.authorization_endpoint) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the upstream authorization endpoint is misconfigured",
        );
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &up.client_id)
        .append_pair("redirect_uri", &up.redirect_uri)
        .append_pair("scope", &scope.join(" "))
        .append_pair("state", &upstream_state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", &resource);
    Redirect::to(url.as_str()).into_response()
}

fn browser_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, value)| *name == BROWSER_COOKIE && value.len() == 43)
        .map(|(_, value)| value.to_owned())
}

fn approval_key(browser: &str, client_id: &str) -> String {
    secret::sha256_hex(&format!("{browser}\n{client_id}"))
}

/// HMAC(key, browser | consent id): only the browser that was shown the page can answer it.
fn csrf_token(facade: &Facade, browser: &str, consent_id: &str) -> String {
    use base64::Engine;
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &facade.config.csrf_key);
    let tag = aws_lc_rs::hmac::sign(&key, format!("{browser}\n{consent_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

fn consent_page(client: &Client, request: &AuthRequest, consent_id: &str, csrf: &str) -> String {
    use crate::html::escape as e;
    let redirect = url::Url::parse(&request.redirect_uri).ok();
    let host = redirect
        .as_ref()
        .and_then(|u| u.host_str())
        .unwrap_or("?")
        .to_owned();
    let loopback = redirect
        .as_ref()
        .is_some_and(super::clients::is_loopback_http);
    let warning = if loopback {
        "<p class=\"warn\">This application runs on your own computer (its redirect address is \
         <code>localhost</code>). Any program on this computer could claim to be it: approve only \
         if you just started it yourself.</p>"
    } else {
        ""
    };
    let origin = match client.origin {
        super::clients::Origin::Cimd => {
            format!("<p>Described by <code>{}</code></p>", e(&client.client_id))
        }
        super::clients::Origin::Dcr => {
            "<p>Registered itself with this server (dynamic registration).</p>".to_owned()
        }
    };
    let scopes: String = request
        .scope
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", e(s)))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Allow access?</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
.warn{{background:#fff3cd;padding:.5rem;border-radius:4px}}button{{margin:1rem .5rem 0 0;padding:.5rem 1rem}}</style>
</head><body>
<h1>Allow <em>{name}</em> to use this MCP server?</h1>
{origin}
<p>After you sign in, you will be sent back to <strong>{host}</strong>.</p>
{warning}
<p>It asks for:</p><ul>{scopes}</ul>
<form method="post" action="consent">
<input type="hidden" name="consent_id" value="{consent_id}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></body></html>"#,
        name = e(client.display_name()),
        host = e(&host),
        consent_id = e(consent_id),
        csrf = e(csrf),
    )
}
