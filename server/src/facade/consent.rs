//! The consent page and `POST /consent`.
//!
//! The page carries its authorization request signed (with an expiry) in the form, so showing it
//! stores nothing: a flood of unauthenticated `/authorize` requests costs no memory and no
//! database writes. Only an answer writes (once, to make the form single-use), and answers are
//! limited per address. The CSRF token binds the form to the browser it was shown to.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::{
    browser::BrowserId,
    clients::{Client, Origin},
    flow::{APPROVAL_TTL, Approval, AuthRequest, approval_key, to_upstream},
    pages::PageRefusal,
    state::Facade,
    store::{Kind, Records, StoreError, now_secs},
};
use crate::{
    client_address::ClientAddress,
    endpoint::is_loopback_http,
    html::Page,
    oauth::{OAuthForm, ParamsError},
    secret,
};

/// How long a consent page may be answered.
pub const CONSENT_TTL: Duration = Duration::from_secs(600);

#[derive(Serialize, Deserialize)]
struct Payload {
    request: AuthRequest,
    expires_at: u64,
    /// Makes every page's form its own: answered-once is kept per form, and the same request
    /// opened twice (a second tab, a retry, a client asking again) must not find its form
    /// already answered.
    nonce: String,
}

/// The signed request a consent form carries: `<payload>.<tag>`.
fn seal(facade: &Facade, request: &AuthRequest) -> String {
    let payload = Payload {
        request: request.clone(),
        expires_at: now_secs() + CONSENT_TTL.as_secs(),
        nonce: secret::random_token(12),
    };
    let json = serde_json::to_vec(&payload).expect("a request serializes");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = facade.browsers.mac("consent", &[&payload]);
    format!("{payload}.{tag}")
}

/// The request inside a consent form the server signed, if it has not expired.
fn open(facade: &Facade, sealed: &str) -> Option<AuthRequest> {
    let (payload, tag) = sealed.split_once('.')?;
    if !facade.browsers.verify("consent", &[payload], tag) {
        return None;
    }
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let payload: Payload = serde_json::from_slice(&json).ok()?;
    (payload.expires_at > now_secs()).then_some(payload.request)
}

fn csrf_token(facade: &Facade, browser: &BrowserId, consent_id: &str) -> String {
    facade.browsers.mac("csrf", &[browser.as_str(), consent_id])
}

/// The consent page for `request`, shown to `browser`. Its form leads to the upstream sign-in
/// (Approve) or back to the client (Deny, or Approve with a live upstream session), so both are
/// named in its `form-action`.
pub fn page(
    facade: &Facade,
    client: &Client,
    request: &AuthRequest,
    browser: &BrowserId,
) -> Response {
    let consent_id = seal(facade, request);
    let csrf = csrf_token(facade, browser, &consent_id);
    Page::new(
        "Allow access?",
        STYLE,
        body(client, request, &consent_id, &csrf),
    )
    .forms_may_reach(facade.config.upstream.authorization_endpoint.as_str())
    .forms_may_reach(&request.redirect_uri)
    .into_response()
}

/// `POST /consent`: decides, then renders the decision.
pub async fn consent(
    State(facade): State<Arc<Facade>>,
    client: ClientAddress,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    match answer(&facade, client.ip(), &headers, form).await {
        Answer::Refused(refusal) => refusal.page(),
        Answer::Denied(request) => request.back_to_client(
            &facade,
            &[
                ("error", "access_denied"),
                ("error_description", "the user denied access"),
            ],
        ),
        Answer::Approved(request) => to_upstream(&facade, request).await.render(&facade),
    }
}

/// What a consent answer came to. Every check is made here, without HTTP; the form is spent and
/// an approval remembered here too.
#[derive(Debug)]
pub enum Answer {
    /// Refused with a page: a flood, a form posted cross-site, from another browser, forged,
    /// expired or answered before, or the store failed.
    Refused(PageRefusal),
    /// The user said no: the client hears `access_denied`.
    Denied(AuthRequest),
    /// The user said yes: on to the upstream sign-in.
    Approved(AuthRequest),
}

/// Judges a consent form posted from `ip`.
pub async fn answer(
    facade: &Facade,
    ip: IpAddr,
    headers: &HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Answer {
    let refused = Answer::Refused;
    if let Err(wait) = facade.consent_limiter.check(ip) {
        return refused(PageRefusal::TooManyRequests(wait));
    }
    let form = match form {
        Ok(OAuthForm(f)) => f,
        Err(e) => return refused(PageRefusal::BadRequest(e.to_string())),
    };
    if let Err(e) = form.refuse_repeated() {
        return refused(PageRefusal::BadRequest(e));
    }
    if !crate::forms::posted_from(headers, facade.issuer().as_str()) {
        return refused(PageRefusal::Forbidden(
            "this consent was posted from another site; answer it on this server's own page",
        ));
    }
    let Some(browser) = facade.browsers.browser_id(headers) else {
        return refused(PageRefusal::Forbidden(
            "this consent was not given from the browser that was asked",
        ));
    };
    let consent_id = form.get("consent_id").unwrap_or_default();
    let csrf = form.get("csrf").unwrap_or_default();
    if !secret::equal(&csrf_token(facade, &browser, consent_id), csrf) {
        return refused(PageRefusal::Forbidden(
            "the consent form is forged or stale (CSRF check failed)",
        ));
    }
    let Some(request) = open(facade, consent_id) else {
        return refused(PageRefusal::BadRequest(
            "this consent request expired; start again from the application".into(),
        ));
    };
    match answer_once(facade, consent_id).await {
        Ok(true) => {}
        Ok(false) => {
            return refused(PageRefusal::BadRequest(
                "this consent request was already answered".into(),
            ));
        }
        Err(e) => return refused(PageRefusal::StoreUnavailable(e)),
    }
    if form.get("decision") != Some("approve") {
        return Answer::Denied(request);
    }
    if Approval::may_be_remembered(&request.redirect_uri) {
        remember(facade, &browser, &request).await;
    }
    Answer::Approved(request)
}

/// Remembers an approval for this browser, client and redirect URI; failing only means the user
/// is asked again next time.
async fn remember(facade: &Facade, browser: &BrowserId, request: &AuthRequest) {
    let approval = Approval {
        scope: request.scope.clone(),
        redirect_uri: request.redirect_uri.clone(),
    };
    let key = approval_key(browser.as_str(), &request.client_id);
    if let Err(e) = Records(facade.store.as_ref())
        .put(&key, &approval, now_secs() + APPROVAL_TTL.as_secs())
        .await
    {
        tracing::warn!(error = %e, "could not remember a consent");
    }
}

/// Records that a consent form was answered; `false` if it already was.
async fn answer_once(facade: &Facade, consent_id: &str) -> Result<bool, StoreError> {
    let marker = serde_json::json!({});
    match facade
        .store
        .insert(
            Kind::ConsentAnswered,
            &secret::sha256_hex(consent_id),
            marker,
            now_secs() + CONSENT_TTL.as_secs(),
        )
        .await
    {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

const STYLE: &str = "button{margin:1rem .5rem 0 0;padding:.5rem 1rem}";

fn body(client: &Client, request: &AuthRequest, consent_id: &str, csrf: &str) -> Markup {
    let redirect = url::Url::parse(&request.redirect_uri).ok();
    let host = redirect.as_ref().and_then(|u| u.host_str()).unwrap_or("?");
    let loopback = redirect.as_ref().is_some_and(is_loopback_http);
    html! {
        h1 { "Allow " em { (client.display_name()) } " to use this MCP server?" }
        @match client.origin {
            Origin::Cimd => p { "Described by " code { (client.client_id) } },
            Origin::Dcr => p { "Registered itself with this server (dynamic registration)." },
        }
        p {
            "After you sign in, you will be sent back to " strong { (host) }
            " (" code { (request.redirect_uri) } ")."
        }
        @if loopback {
            p class="warn" {
                "This application runs on your own computer (its redirect address is "
                code { "localhost" } "). Any program on this computer could claim to be it: \
                 approve only if you just started it yourself."
            }
        }
        p { "It asks for:" }
        ul { @for scope in request.scope.iter() { li { code { (scope) } } } }
        form method="post" action="consent" {
            input type="hidden" name="consent_id" value=(consent_id);
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" name="decision" value="approve" { "Approve" }
            button type="submit" name="decision" value="deny" { "Deny" }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;

    fn facade(key: &[u8]) -> Arc<Facade> {
        Facade::for_tests(key)
    }

    #[test]
    fn a_sealed_request_opens_only_with_its_key_and_unaltered() {
        let f = facade(&[7; 32]);
        let sealed = seal(&f, &AuthRequest::for_tests());
        assert_eq!(open(&f, &sealed), Some(AuthRequest::for_tests()));
        assert_eq!(open(&facade(&[8; 32]), &sealed), None, "another key");
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut altered = AuthRequest::for_tests();
        altered.redirect_uri = "https://evil.example/cb".into();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Payload {
                request: altered,
                expires_at: now_secs() + 60,
                nonce: "n".into(),
            })
            .unwrap(),
        );
        assert_eq!(open(&f, &format!("{forged_payload}.{tag}")), None);
        assert_eq!(open(&f, payload), None, "no tag");
    }

    #[test]
    fn the_same_request_shown_twice_gets_two_forms() {
        let f = facade(&[7; 32]);
        assert_ne!(
            seal(&f, &AuthRequest::for_tests()),
            seal(&f, &AuthRequest::for_tests())
        );
    }

    #[test]
    fn an_expired_request_does_not_open() {
        let f = facade(&[7; 32]);
        let json = serde_json::to_vec(&Payload {
            request: AuthRequest::for_tests(),
            expires_at: now_secs() - 1,
            nonce: "n".into(),
        })
        .unwrap();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let tag = f.browsers.mac("consent", &[&payload]);
        assert_eq!(open(&f, &format!("{payload}.{tag}")), None);
    }

    /// A consent form for `request` as the page showed it to a new browser: the form's fields,
    /// and the headers that browser posts it with from the server's own page.
    fn shown(f: &Facade, request: &AuthRequest) -> (String, HeaderMap) {
        let (browser, set_cookie) = f.browsers.new_browser();
        let consent_id = seal(f, request);
        let csrf = csrf_token(f, &browser, &consent_id);
        let mut headers = crate::facade::browser::with_cookie(&set_cookie);
        headers.insert(header::ORIGIN, "https://mcp.example.com".parse().unwrap());
        let fields = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("consent_id", &consent_id)
            .append_pair("csrf", &csrf)
            .finish();
        (fields, headers)
    }

    async fn answered(f: &Facade, form: &str, headers: &HeaderMap) -> Answer {
        let form = crate::oauth::Params::parse(form.as_bytes()).map(OAuthForm);
        answer(f, IpAddr::from([127, 0, 0, 1]), headers, form).await
    }

    fn forbidden(a: &Answer) -> bool {
        matches!(a, Answer::Refused(PageRefusal::Forbidden(_)))
    }

    #[tokio::test]
    async fn an_answer_counts_once_and_only_from_the_browser_and_page_asked() {
        let f = facade(&[7; 32]);
        let (fields, headers) = shown(&f, &AuthRequest::for_tests());
        let approve = format!("{fields}&decision=approve");
        // Posted from another site, from another browser, or with another browser's token.
        let mut cross_site = headers.clone();
        cross_site.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(forbidden(&answered(&f, &approve, &cross_site).await));
        let mut no_cookie = headers.clone();
        no_cookie.remove(header::COOKIE);
        assert!(forbidden(&answered(&f, &approve, &no_cookie).await));
        let (_, other_browser) = shown(&f, &AuthRequest::for_tests());
        assert!(forbidden(&answered(&f, &approve, &other_browser).await));
        // The right browser: approved once, then the same form is spent.
        assert!(
            matches!(answered(&f, &approve, &headers).await, Answer::Approved(r) if r == AuthRequest::for_tests())
        );
        assert!(matches!(
            answered(&f, &approve, &headers).await,
            Answer::Refused(PageRefusal::BadRequest(why)) if why.contains("already answered")
        ));
    }

    #[tokio::test]
    async fn anything_but_approve_is_a_denial() {
        let f = facade(&[7; 32]);
        for decision in ["deny", "", "APPROVE"] {
            let (fields, headers) = shown(&f, &AuthRequest::for_tests());
            let form = format!("{fields}&decision={decision}");
            assert!(
                matches!(answered(&f, &form, &headers).await, Answer::Denied(_)),
                "{decision:?}"
            );
        }
        // A form sealed with another key is no form of this server's, even posted from the
        // right browser with a token that matches it.
        let (_, headers) = shown(&f, &AuthRequest::for_tests());
        let browser = f.browsers.browser_id(&headers).unwrap();
        let foreign = seal(&facade(&[8; 32]), &AuthRequest::for_tests());
        let fields = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("consent_id", &foreign)
            .append_pair("csrf", &csrf_token(&f, &browser, &foreign))
            .append_pair("decision", "approve")
            .finish();
        assert!(matches!(
            answered(&f, &fields, &headers).await,
            Answer::Refused(PageRefusal::BadRequest(why)) if why.contains("expired")
        ));
    }
}
