//! `GET /authorize`: the façade's authorization endpoint, and the redirect to the upstream once
//! the user has consented (now, or earlier in this browser).

use std::sync::Arc;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};

use super::{
    clients::Client,
    consent,
    flow::{Approval, AuthRequest, approval_key, redirect_to_client, signed_in_key, to_upstream},
    pages::{error_page, store_unavailable_page, too_many_requests_page},
    state::{ClientError, Facade},
    store::{Kind, Records},
};
use crate::{
    client_address::ClientAddress,
    endpoint::is_loopback_http,
    oauth::{self, OAuthQuery, Params, ParamsError},
    scope::ScopeSet,
};

/// `GET /authorize`.
pub async fn authorize(
    State(facade): State<Arc<Facade>>,
    client: ClientAddress,
    headers: HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Response {
    if let Err(wait) = facade.authorize_limiter.check(client.ip()) {
        return too_many_requests_page(wait);
    }
    let params = match query {
        Ok(OAuthQuery(p)) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let (request, client) = match validate(&facade, &params).await {
        Ok(valid) => valid,
        Err(Refusal::Page(page)) => return page,
        Err(Refusal::ToClient(error)) => return error.answer(&facade, &headers).await,
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

/// Why an authorization request was refused, and so who hears it.
enum Refusal {
    /// The client or its redirect URI is in doubt, or the store failed: a page, never a
    /// redirect.
    Page(Response),
    /// An error for a known client at one of its registered redirect URIs.
    ToClient(ErrorForClient),
}

/// An authorization error the client should hear (RFC 6749 section 4.1.2.1).
struct ErrorForClient {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    error: &'static str,
    description: String,
}

impl ErrorForClient {
    /// Sent back to the client automatically only where no web attacker can be listening: a
    /// loopback redirect URI (RFC 8252 section 7.3: the user's own machine), or one at which
    /// this browser completed a sign-in with this client before. Otherwise a page here. Anyone
    /// can register a phishing page as a redirect URI (by DCR, or in a metadata document), and an
    /// automatic redirect from this server to it, carrying text of the attacker's choosing,
    /// would lend it this server's name (RFC 9700 section 4.11.2: authenticate the user first,
    /// and redirect automatically only to trusted redirect URIs).
    async fn answer(self, facade: &Facade, headers: &HeaderMap) -> Response {
        if self.trusted(facade, headers).await {
            return redirect_to_client(
                facade,
                &self.redirect_uri,
                &[
                    ("error", self.error),
                    ("error_description", &self.description),
                ],
                self.state.as_deref(),
            );
        }
        // The request's own text is not repeated here: it is the attacker's, on our page.
        error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "The application's sign-in request cannot be accepted: {} ({}). Nothing was \
                 sent back to it, because this browser has not signed in to it here before; \
                 close this page and return to the application.",
                explained(self.error),
                self.error
            ),
        )
    }

    async fn trusted(&self, facade: &Facade, headers: &HeaderMap) -> bool {
        if url::Url::parse(&self.redirect_uri).is_ok_and(|u| is_loopback_http(&u)) {
            return true;
        }
        match facade.browsers.browser_id(headers) {
            Some(browser) => {
                signed_in_before(
                    facade,
                    browser.as_str(),
                    &self.client_id,
                    &self.redirect_uri,
                )
                .await
            }
            None => false,
        }
    }
}

/// A fixed sentence for an authorization error code, for a page a person reads.
fn explained(error: &str) -> &'static str {
    match error {
        "invalid_scope" => "it asked for access this server does not offer",
        "invalid_target" => "it asked for a token for another server",
        "unsupported_response_type" => "it asked for an answer other than a code",
        _ => "the request is incomplete or malformed",
    }
}

/// Whether this browser completed a sign-in with `client_id` at `redirect_uri` (a failed read
/// is a no: the error is shown as a page).
async fn signed_in_before(
    facade: &Facade,
    browser: &str,
    client_id: &str,
    redirect_uri: &str,
) -> bool {
    Records(facade.store.as_ref())
        .get::<serde_json::Value>(
            Kind::SignedIn,
            &signed_in_key(browser, client_id, redirect_uri),
        )
        .await
        .ok()
        .flatten()
        .is_some()
}

/// Checks an authorization request into what the façade will ask the upstream for, and its
/// client; a refusal is a page when the client or its redirect URI is in doubt, an error for
/// the client otherwise.
async fn validate(facade: &Facade, params: &Params) -> Result<(AuthRequest, Client), Refusal> {
    let page = |message: &str| Refusal::Page(error_page(StatusCode::BAD_REQUEST, message));
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
        Err(ClientError::Store(e)) => return Err(Refusal::Page(store_unavailable_page(&e))),
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
    // A state too long to carry is not echoed: the error would carry it all the same.
    let overlong_state = params.get("state").is_some_and(|s| s.len() > 1024);
    let state = params
        .get("state")
        .filter(|_| !params.is_repeated("state") && !overlong_state);
    let fail = |error: &'static str, description: &str| {
        Refusal::ToClient(ErrorForClient {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            state: state.map(str::to_owned),
            error,
            description: description.to_owned(),
        })
    };
    if let Err(e) = params.refuse_repeated() {
        return Err(fail("invalid_request", &e));
    }
    if overlong_state {
        return Err(fail(
            "invalid_request",
            "state is longer than 1024 characters",
        ));
    }
    let challenge = match oauth::code_flow_challenge(|k| params.get(k)) {
        Ok(c) => c,
        Err(e) => return Err(fail(e.code.as_str(), e.description)),
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
