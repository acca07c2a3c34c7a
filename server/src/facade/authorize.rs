//! `GET /authorize`: the façade's authorization endpoint, and the redirect to the upstream once
//! the user has consented (now, or earlier in this browser).

use std::{sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    ClientError, Facade,
    clients::Client,
    consent, error_page, random_secret,
    store::{Kind, Records, now_secs},
    store_unavailable_page, too_many_requests_page,
};
use crate::{
    client_address::ClientAddress,
    oauth_request::{self, OAuthQuery, Params, ParamsError},
    pkce,
    scope::ScopeSet,
    secret,
};

/// How long an authorization waiting for the upstream stays valid.
pub const PENDING_TTL: Duration = Duration::from_secs(600);
/// How long a consent is remembered for a browser and client.
pub const APPROVAL_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A consent remembered for a browser and a client.
#[derive(Debug, Serialize, Deserialize)]
pub struct Approval {
    /// What was approved.
    pub scope: ScopeSet,
    /// Where the answer went; a request to another URI is asked again (an approval from before
    /// this was recorded has none, so it is asked again too).
    #[serde(default)]
    pub redirect_uri: String,
}

impl Approval {
    /// Whether a consent is remembered for requests to `redirect_uri`: only for an https one.
    /// Whoever listens on a loopback port or owns a private-use scheme on the user's machine
    /// receives the code, so a client with such a redirect URI cannot prove who it is, and RFC
    /// 8252 section 8.6 asks to process its requests "as if no previous request had been
    /// approved".
    pub fn may_be_remembered(redirect_uri: &str) -> bool {
        redirect_uri.starts_with("https://")
    }

    /// Whether this approval covers `request` (same redirect URI, no scope beyond).
    fn covers(&self, request: &AuthRequest) -> bool {
        self.redirect_uri == request.redirect_uri
            && request
                .scope
                .iter()
                .all(|s| self.scope.iter().any(|g| g == s))
    }
}

/// The key of a browser's remembered consent for a client.
pub fn approval_key(browser: &str, client_id: &str) -> String {
    secret::sha256_hex(&format!("{browser}\n{client_id}"))
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

/// `GET /authorize`.
pub async fn authorize(
    State(facade): State<Arc<Facade>>,
    client: ClientAddress,
    headers: HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Response {
    if let Err(wait) = facade.authorize_limiter.check(client.key()) {
        return too_many_requests_page(wait);
    }
    let params = match query {
        Ok(OAuthQuery(p)) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let (request, client) = match validate(&facade, &params).await {
        Ok(valid) => valid,
        Err(refusal) => return refusal,
    };
    let (browser, new_browser) = match facade.browsers.browser_id(&headers) {
        Some(b) => (b, None),
        None => {
            let (b, cookie) = facade.browsers.new_browser();
            (b, Some(cookie))
        }
    };
    // OpenID Connect's prompt=consent: ask, whatever was remembered.
    let ask_anyway = params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v == "consent"));
    // A failed read only means the user is asked again.
    let approved = !ask_anyway
        && Approval::may_be_remembered(&request.redirect_uri)
        && Records(facade.store.as_ref())
            .get::<Approval>(
                Kind::Approval,
                &approval_key(browser.as_str(), &request.client_id),
            )
            .await
            .ok()
            .flatten()
            .is_some_and(|a| a.covers(&request));
    if approved {
        return to_upstream(&facade, request).await;
    }
    let mut response = consent::page(&facade, &client, &request, &browser);
    if let Some(cookie) = new_browser {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Checks an authorization request into what the façade will ask the upstream for, and its
/// client; a refusal is a page when the client or its redirect URI is in doubt, a redirect to
/// the client otherwise.
async fn validate(facade: &Facade, params: &Params) -> Result<(AuthRequest, Client), Response> {
    let page = |message: &str| error_page(StatusCode::BAD_REQUEST, message);
    // Which of two values to trust is unknowable: neither gets a redirect.
    for name in ["client_id", "redirect_uri"] {
        if params.is_repeated(name) {
            return Err(page(&format!("{name} is repeated")));
        }
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(page("client_id is required"));
    };
    let client = match facade.client(client_id).await {
        Ok(c) => c,
        Err(ClientError::Store(e)) => return Err(store_unavailable_page(&e)),
        Err(e) => return Err(page(&e.to_string())),
    };
    let Some(redirect_uri) = params
        .get("redirect_uri")
        .filter(|r| client.accepts_redirect(r))
    else {
        return Err(page(
            "redirect_uri is missing or not registered for this client",
        ));
    };
    let state = params.get("state").filter(|_| !params.is_repeated("state"));
    let fail = |error: &str, description: &str| {
        redirect_to_client(
            facade,
            redirect_uri,
            &[("error", error), ("error_description", description)],
            state,
        )
    };
    if let Err(e) = params.refuse_repeated() {
        return Err(fail("invalid_request", &e));
    }
    if state.is_some_and(|s| s.len() > 1024) {
        return Err(fail(
            "invalid_request",
            "state is longer than 1024 characters",
        ));
    }
    let challenge = match oauth_request::code_flow_challenge(|k| params.get(k)) {
        Ok(c) => c,
        Err((error, description)) => return Err(fail(error, description)),
    };
    let scope = match params.get("scope") {
        Some(s) => ScopeSet::parse(s),
        None => ScopeSet::parse(&facade.config.default_scope),
    };
    if let Some(bad) = scope
        .iter()
        .find(|s| !facade.config.scopes.iter().any(|x| x == s))
    {
        return Err(fail(
            "invalid_scope",
            &format!("scope {bad} is not supported"),
        ));
    }
    // RFC 8707: a client that names a resource must name this one; one that names none gets
    // a token for this one all the same.
    if params
        .get("resource")
        .is_some_and(|r| !facade.config.resource.matches(r))
    {
        return Err(fail("invalid_target", "resource is not this MCP server"));
    }
    let request = AuthRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: state.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        scope,
        resource: facade.config.resource.to_string(),
    };
    Ok((request, client))
}

/// Sends the browser to the upstream with the façade's own client, PKCE and state, and marks
/// the browser as the one that approved this flow (the callback requires the mark).
pub async fn to_upstream(facade: &Facade, request: AuthRequest) -> Response {
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
                    "the authorization server cannot store the request; try again",
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
    let mut response = Redirect::to(url.as_str()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::SET_COOKIE,
        facade.browsers.flow_cookie(&upstream_state),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
