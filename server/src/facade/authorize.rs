//! `GET /authorize`: the façade's authorization endpoint, and the redirect to the upstream once
//! the user has consented (now, or earlier in this browser).

use std::{net::IpAddr, sync::Arc};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};

use super::{
    browser::BrowserId,
    clients::Client,
    consent,
    flow::{
        Approval, AuthRequest, SignedIn, approval_key, redirect_to_client, signed_in_key,
        to_upstream,
    },
    pages::{PageRefusal, error_page},
    state::{ClientError, Facade},
    store::Records,
};
use crate::{
    client_address::ClientAddress,
    endpoint::is_loopback_http,
    oauth::{self, OAuthQuery, Params, ParamsError},
    scope::ScopeSet,
};

/// `GET /authorize`: decides, then renders the decision.
pub async fn authorize(
    State(facade): State<Arc<Facade>>,
    client: ClientAddress,
    headers: HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Response {
    let decision = decide(&facade, client.ip(), &headers, query).await;
    render(&facade, decision).await
}

/// What `/authorize` decided about one request. Every check is made here, without HTTP; the
/// handler only renders it.
#[derive(Debug)]
pub enum Decision {
    /// Answered with a page here, never a redirect.
    Refused(PageRefusal),
    /// An error for a known client at one of its registered redirect URIs: sent back to it when
    /// `trusted`, shown here otherwise.
    ToClient {
        /// The error.
        error: ErrorForClient,
        /// Whether no web attacker can be listening at the redirect URI: a loopback one, or
        /// one this browser completed a sign-in at.
        trusted: bool,
    },
    /// This browser consented to this client before, for as much: straight to the upstream.
    Approved(AuthRequest),
    /// The user is asked.
    AskConsent {
        /// The client asking.
        client: Client,
        /// What it asks for.
        request: AuthRequest,
        /// The browser the consent is bound to.
        browser: BrowserId,
        /// Its cookie, when the browser is new here.
        new_browser: Option<HeaderValue>,
    },
}

/// Decides what to do with an authorization request from `ip`.
pub async fn decide(
    facade: &Facade,
    ip: IpAddr,
    headers: &HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Decision {
    if let Err(wait) = facade.authorize_limiter.check(ip) {
        return Decision::Refused(PageRefusal::TooManyRequests(wait));
    }
    let params = match query {
        Ok(OAuthQuery(p)) => p,
        Err(e) => return Decision::Refused(PageRefusal::BadRequest(e.to_string())),
    };
    let (request, client) = match validate(facade, &params).await {
        Ok(valid) => valid,
        Err(Refusal::Page(refusal)) => return Decision::Refused(refusal),
        Err(Refusal::ToClient(error)) => {
            let trusted = error.trusted(facade, headers).await;
            return Decision::ToClient { error, trusted };
        }
    };
    let (browser, new_browser) = match facade.browsers.browser_id(headers) {
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
            .get::<Approval>(&approval_key(browser.as_str(), &request.client_id))
            .await
            .ok()
            .flatten()
            .is_some_and(|a| a.covers(&request));
    if approved {
        return Decision::Approved(request);
    }
    Decision::AskConsent {
        client,
        request,
        browser,
        new_browser,
    }
}

/// The answer a decision gets.
async fn render(facade: &Facade, decision: Decision) -> Response {
    match decision {
        Decision::Refused(refusal) => refusal.page(),
        Decision::ToClient { error, trusted } => error.answer(facade, trusted),
        Decision::Approved(request) => to_upstream(facade, request).await.render(facade),
        Decision::AskConsent {
            client,
            request,
            browser,
            new_browser,
        } => {
            let mut response = consent::page(facade, &client, &request, &browser);
            if let Some(cookie) = new_browser {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
    }
}

/// Why an authorization request was refused, and so who hears it.
enum Refusal {
    /// The client or its redirect URI is in doubt, or the store failed: a page, never a
    /// redirect.
    Page(PageRefusal),
    /// An error for a known client at one of its registered redirect URIs.
    ToClient(ErrorForClient),
}

/// An authorization error the client should hear (RFC 6749 section 4.1.2.1).
#[derive(Debug)]
pub struct ErrorForClient {
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
    fn answer(self, facade: &Facade, trusted: bool) -> Response {
        if trusted {
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
        .get::<SignedIn>(&signed_in_key(browser, client_id, redirect_uri))
        .await
        .ok()
        .flatten()
        .is_some()
}

/// Checks an authorization request into what the façade will ask the upstream for, and its
/// client; a refusal is a page when the client or its redirect URI is in doubt, an error for
/// the client otherwise.
async fn validate(facade: &Facade, params: &Params) -> Result<(AuthRequest, Client), Refusal> {
    let page = |message: &str| Refusal::Page(PageRefusal::BadRequest(message.to_owned()));
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
        Err(ClientError::Store(e)) => return Err(Refusal::Page(PageRefusal::StoreUnavailable(e))),
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

#[cfg(test)]
mod tests {
    use std::{net::Ipv4Addr, time::Duration};

    use super::*;
    use crate::facade::{
        clients::{AuthMethod, Origin},
        store::now_secs,
    };

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// A façade knowing one public client, with an https and a loopback redirect URI.
    async fn facade() -> Arc<Facade> {
        let facade = Facade::for_tests(&[7; 32]);
        let client = Client {
            client_id: "dcr-1".into(),
            secret_sha256: None,
            auth_method: AuthMethod::None,
            redirect_uris: vec![
                "https://app.example/cb".into(),
                "http://127.0.0.1:3000/cb".into(),
            ],
            client_name: Some("App".into()),
            grant_types: vec!["authorization_code".into()],
            origin: Origin::Dcr,
            issued_at: now_secs(),
        };
        Records(facade.store.as_ref())
            .insert("dcr-1", &client, now_secs() + 3600)
            .await
            .unwrap();
        facade
    }

    async fn decide_on(facade: &Facade, query: &str) -> Decision {
        let query = Params::parse(query.as_bytes()).map(OAuthQuery);
        decide(
            facade,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &HeaderMap::new(),
            query,
        )
        .await
    }

    fn good(redirect_uri: &str) -> String {
        format!(
            "response_type=code&client_id=dcr-1&redirect_uri={redirect_uri}&state=s\
             &code_challenge={CHALLENGE}&code_challenge_method=S256&scope=mcp:read"
        )
    }

    fn refused_saying(decision: &Decision) -> Option<&str> {
        match decision {
            Decision::Refused(PageRefusal::BadRequest(why)) => Some(why),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_client_or_redirect_in_doubt_gets_a_page_never_a_redirect() {
        let f = facade().await;
        let twice = format!("{}&client_id=dcr-2", good("https://app.example/cb"));
        assert_eq!(
            refused_saying(&decide_on(&f, &twice).await),
            Some("client_id is repeated")
        );
        let unknown = good("https://app.example/cb").replace("dcr-1", "dcr-9");
        assert!(
            refused_saying(&decide_on(&f, &unknown).await)
                .is_some_and(|why| why.contains("unknown client_id"))
        );
        let elsewhere = good("https://evil.example/cb");
        assert!(
            refused_saying(&decide_on(&f, &elsewhere).await)
                .is_some_and(|why| why.contains("not registered"))
        );
    }

    #[tokio::test]
    async fn a_bad_request_of_a_known_client_goes_back_only_where_no_attacker_listens() {
        let f = facade().await;
        for (redirect_uri, trusted_here) in [
            ("https://app.example/cb", false),
            ("http://127.0.0.1:3000/cb", true),
        ] {
            let wide = good(redirect_uri).replace("scope=mcp:read", "scope=admin");
            match decide_on(&f, &wide).await {
                Decision::ToClient { error, trusted } => {
                    assert_eq!(error.error, "invalid_scope");
                    assert_eq!(trusted, trusted_here, "{redirect_uri}");
                }
                other => panic!("{redirect_uri}: {other:?}"),
            }
        }
        let plain = good("https://app.example/cb").replace("S256", "plain");
        assert!(matches!(
            decide_on(&f, &plain).await,
            Decision::ToClient { error, .. } if error.error == "invalid_request"
        ));
    }

    #[tokio::test]
    async fn a_good_request_asks_a_new_browser_for_consent() {
        let f = facade().await;
        match decide_on(&f, &good("https://app.example/cb")).await {
            Decision::AskConsent {
                request,
                new_browser,
                ..
            } => {
                assert_eq!(request.client_id, "dcr-1");
                assert_eq!(request.resource, "https://mcp.example.com/mcp");
                assert!(new_browser.is_some(), "a new browser gets its cookie");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_flood_from_one_address_is_refused_before_any_work() {
        let f = facade().await;
        let mut refused = None;
        for _ in 0..200 {
            if let Decision::Refused(PageRefusal::TooManyRequests(wait)) =
                decide_on(&f, "client_id=dcr-9").await
            {
                refused = Some(wait);
                break;
            }
        }
        assert!(refused.is_some_and(|w| w > Duration::ZERO));
    }
}
