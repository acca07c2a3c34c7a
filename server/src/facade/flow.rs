//! An authorization in flight, as its steps share it: the request `/authorize` checked, the
//! consent remembered for a browser, the sign-in at the upstream it becomes, and the way back to
//! the client. `/authorize`, `/consent` and `/oauth/callback` each take a step.

use std::time::Duration;

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    pages::error_page,
    state::{Facade, random_secret},
    store::{Kind, Record, Records, now_secs},
};
use crate::{pkce, scope::ScopeSet, secret};

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

impl Record for Pending {
    const KIND: Kind = Kind::Pending;
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

impl Record for Approval {
    const KIND: Kind = Kind::Approval;
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
    pub(super) fn covers(&self, request: &AuthRequest) -> bool {
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
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "the redirect URI is invalid");
    };
    {
        let mut q = url.query_pairs_mut();
        q.extend_pairs(pairs.iter().copied());
        if let Some(state) = state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", facade.issuer().as_str());
    }
    Redirect::to(url.as_str()).into_response()
}

/// The key of a sign-in a browser completed with a client at a redirect URI.
pub(super) fn signed_in_key(browser: &str, client_id: &str, redirect_uri: &str) -> String {
    secret::sha256_hex(&format!("{browser}\n{client_id}\n{redirect_uri}"))
}

/// The mark of a sign-in a browser completed with a client at a redirect URI (its key says
/// which): besides loopback redirect URIs, only there are errors sent back without a page
/// (RFC 9700 section 4.11.2).
#[derive(Debug, Serialize, Deserialize)]
pub struct SignedIn {}

impl Record for SignedIn {
    const KIND: Kind = Kind::SignedIn;
}

/// Remembers that the browser sending `headers` completed a sign-in for `request`, so its
/// later errors go back to the client; a failure only means they are shown as pages.
pub async fn remember_sign_in(facade: &Facade, headers: &HeaderMap, request: &AuthRequest) {
    let Some(browser) = facade.browsers.browser_id(headers) else {
        return;
    };
    let key = signed_in_key(browser.as_str(), &request.client_id, &request.redirect_uri);
    if let Err(e) = Records(facade.store.as_ref())
        .put(&key, &SignedIn {}, now_secs() + APPROVAL_TTL.as_secs())
        .await
    {
        tracing::warn!(error = %e, "could not remember a completed sign-in");
    }
}

impl AuthRequest {
    /// Back to the client at the redirect URI it asked for, with `pairs` and its `state`.
    pub fn back_to_client(&self, facade: &Facade, pairs: &[(&str, &str)]) -> Response {
        redirect_to_client(facade, &self.redirect_uri, pairs, self.state.as_deref())
    }
}

/// Where an approved authorization goes next.
#[derive(Debug)]
pub enum Upstream {
    /// To the upstream's sign-in with the façade's own client, PKCE and state; the browser
    /// gets the mark of the flow it approved (the callback requires it).
    SignIn {
        /// The upstream authorization request.
        location: Url,
        /// The flow's cookie.
        flow_cookie: HeaderValue,
    },
    /// The request could not be stored: back to the client, `temporarily_unavailable`.
    Unavailable(AuthRequest),
}

/// Stores `request` as pending and prepares the upstream sign-in for it.
pub async fn to_upstream(facade: &Facade, request: AuthRequest) -> Upstream {
    let upstream_state = random_secret();
    let upstream_verifier = random_secret();
    let challenge = pkce::s256_challenge(&upstream_verifier);
    let mut scope = vec!["openid".to_owned()];
    scope.extend(request.scope.iter().map(|s| facade.upstream_scope(s)));
    let resource = request.resource.clone();
    let pending = Pending {
        request,
        upstream_verifier,
    };
    if let Err(e) = Records(facade.store.as_ref())
        .insert(
            &upstream_state,
            &pending,
            now_secs() + PENDING_TTL.as_secs(),
        )
        .await
    {
        tracing::error!(error = %e, "pending-authorization store failed");
        return Upstream::Unavailable(pending.request);
    }
    let up = &facade.config.upstream;
    let mut location = up.authorization_endpoint.url().clone();
    location
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &up.client_id)
        .append_pair("redirect_uri", up.redirect_uri.as_str())
        .append_pair("scope", &scope.join(" "))
        .append_pair("state", &upstream_state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", &resource);
    Upstream::SignIn {
        location,
        flow_cookie: facade.browsers.flow_cookie(&upstream_state),
    }
}

impl Upstream {
    /// The redirect.
    pub fn render(self, facade: &Facade) -> Response {
        match self {
            Self::SignIn {
                location,
                flow_cookie,
            } => {
                let mut response = Redirect::to(location.as_str()).into_response();
                let headers = response.headers_mut();
                headers.insert(header::SET_COOKIE, flow_cookie);
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Self::Unavailable(request) => request.back_to_client(
                facade,
                &[
                    ("error", "temporarily_unavailable"),
                    (
                        "error_description",
                        "the authorization server cannot store the request; try again",
                    ),
                ],
            ),
        }
    }
}

#[cfg(test)]
impl AuthRequest {
    /// A request of the public client `dcr-1` for `mcp:read` of the resource
    /// [`Facade::for_tests`] protects.
    pub(crate) fn for_tests() -> Self {
        Self {
            client_id: "dcr-1".into(),
            redirect_uri: "https://app.example/cb".into(),
            state: Some("client-state".into()),
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            scope: ScopeSet::parse("mcp:read"),
            resource: "https://mcp.example.com/mcp".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_approved_request_waits_under_a_state_only_its_browser_can_complete() {
        let f = Facade::for_tests(&[7; 32]);
        let Upstream::SignIn {
            location,
            flow_cookie,
        } = to_upstream(&f, AuthRequest::for_tests()).await
        else {
            panic!("the memory store does not fail");
        };
        let query: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert!(
            location
                .as_str()
                .starts_with("https://up.example/authorize?")
        );
        // The façade's own client and PKCE, never the MCP client's.
        assert_eq!(query["client_id"], "c");
        assert_ne!(
            query["code_challenge"],
            AuthRequest::for_tests().code_challenge
        );
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(
            query["scope"],
            "openid https://mcp.example.com/mcp/mcp:read"
        );
        assert_eq!(query["resource"], "https://mcp.example.com/mcp");
        let state = &query["state"];
        let pending: Option<Pending> = Records(f.store.as_ref()).get(state).await.unwrap();
        assert_eq!(pending.map(|p| p.request), Some(AuthRequest::for_tests()));
        // The cookie marks this flow, and no other.
        let headers = crate::facade::browser::with_cookie(&flow_cookie);
        assert!(f.browsers.approved_flow(&headers, state));
        assert!(!f.browsers.approved_flow(&headers, "another-state"));
    }
}
