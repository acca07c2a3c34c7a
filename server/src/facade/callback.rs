//! `GET /oauth/callback`: where the upstream sends the user back.
//!
//! Nothing is destroyed before it is no longer needed: the pending authorization is read, the
//! upstream code exchanged, and only then is the pending record taken (atomically, so a flow
//! completes once). A store that fails or pauses before that point leaves the flow as it was,
//! and the same callback URL can be loaded again.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{HeaderMap, header},
    response::Response,
};
use serde::{Deserialize, Serialize};

use super::{
    flow::{AuthRequest, Pending, remember_sign_in},
    pages::PageRefusal,
    state::{Facade, random_secret},
    store::{Kind, Record, Records, now_secs},
    upstream::{UpstreamTokens, token_request},
};
use crate::oauth::{OAuthQuery, ParamsError};

/// How long a façade code may wait to be redeemed.
pub const CODE_TTL: Duration = Duration::from_secs(300);

/// A façade code: what `/token` hands over when the client proves it started the flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedCode {
    /// The client's authorization request.
    pub request: AuthRequest,
    /// The upstream's tokens, held until redeemed.
    pub tokens: UpstreamTokens,
}

impl Record for IssuedCode {
    const KIND: Kind = Kind::Code;
}

/// The callback: decides, then renders the decision.
pub async fn callback(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Response {
    let returned = returned(&facade, &headers, query).await;
    let mut response = match returned.outcome {
        Outcome::Refused(refusal) => refusal.page(),
        Outcome::Failed {
            request,
            error,
            description,
        } => request.back_to_client(
            &facade,
            &[("error", error), ("error_description", description)],
        ),
        Outcome::Completed { request, code } => request.back_to_client(&facade, &[("code", &code)]),
    };
    if let Some(state) = returned.ended_flow {
        response.headers_mut().append(
            header::SET_COOKIE,
            facade.browsers.clear_flow_cookie(&state),
        );
    }
    response
}

/// What a return from the upstream came to, and the flow it ended (whose cookie goes).
#[derive(Debug)]
pub struct Returned {
    /// What to answer.
    pub outcome: Outcome,
    /// The flow's state, once the flow is this browser's and still pending.
    pub ended_flow: Option<String>,
}

/// The answer to a return from the upstream.
#[derive(Debug)]
pub enum Outcome {
    /// A page: the return is malformed, not this browser's, expired or done, or the store
    /// failed.
    Refused(PageRefusal),
    /// The sign-in failed: the client hears `error`.
    Failed {
        /// The client's request.
        request: AuthRequest,
        /// The error code for the client.
        error: &'static str,
        /// A fixed description (never the upstream's words).
        description: &'static str,
    },
    /// Signed in: the client gets the façade's code.
    Completed {
        /// The client's request.
        request: AuthRequest,
        /// The façade's one-time code.
        code: String,
    },
}

/// Judges a return from the upstream and, when it is good, exchanges its code and issues ours.
pub async fn returned(
    facade: &Facade,
    headers: &HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Returned {
    let refused = |refusal| Returned {
        outcome: Outcome::Refused(refusal),
        ended_flow: None,
    };
    let params = match query {
        Ok(OAuthQuery(p)) => p,
        Err(e) => return refused(PageRefusal::BadRequest(e.to_string())),
    };
    if let Err(e) = params.refuse_repeated() {
        return refused(PageRefusal::BadRequest(e));
    }
    let Some(state) = params.get("state") else {
        return refused(PageRefusal::BadRequest(
            "the sign-in came back without its state".into(),
        ));
    };
    // Before anything else: only the browser that approved this flow may complete it.
    if !facade.browsers.approved_flow(headers, state) {
        return refused(PageRefusal::Forbidden(
            "this sign-in was not started in this browser; start again from the application",
        ));
    }
    let pending = match Records(facade.store.as_ref()).get::<Pending>(state).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return refused(PageRefusal::BadRequest(
                "this sign-in expired or was already completed; start again from the application"
                    .into(),
            ));
        }
        Err(e) => return refused(PageRefusal::StoreUnavailable(e)),
    };
    Returned {
        outcome: complete(facade, headers, state, &params, pending).await,
        ended_flow: Some(state.to_owned()),
    }
}

/// Ends a flow that failed upstream; if the store cannot, the record expires on its own.
async fn end_flow(facade: &Facade, state: &str) {
    if let Err(e) = Records(facade.store.as_ref()).take::<Pending>(state).await {
        tracing::warn!(error = %e, "could not end a failed flow; it expires on its own");
    }
}

/// Exchanges the upstream's code, then ends the flow and issues the client its own code.
async fn complete(
    facade: &Facade,
    headers: &HeaderMap,
    state: &str,
    params: &crate::oauth::Params,
    pending: Pending,
) -> Outcome {
    let request = pending.request;
    let records = Records(facade.store.as_ref());
    let failed = |request, error, description| Outcome::Failed {
        request,
        error,
        description,
    };
    if let Some(error) = params.get("error") {
        end_flow(facade, state).await;
        // Only errors the client can act on are passed through; the rest become server_error.
        let error = match error {
            "access_denied" => "access_denied",
            "invalid_scope" => "invalid_scope",
            "temporarily_unavailable" => "temporarily_unavailable",
            _ => "server_error",
        };
        return failed(request, error, "the sign-in did not complete");
    }
    let Some(code) = params.get("code") else {
        end_flow(facade, state).await;
        return failed(
            request,
            "server_error",
            "the identity provider sent no code",
        );
    };
    let tokens = match token_request(
        facade,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", facade.config.upstream.redirect_uri.as_str()),
            ("code_verifier", &pending.upstream_verifier),
        ],
        &request.resource,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "upstream code exchange failed");
            end_flow(facade, state).await;
            return failed(
                request,
                "server_error",
                "the identity provider refused the sign-in",
            );
        }
    };
    // The flow completes once, even with the callback loaded twice or on two replicas.
    match records.take::<Pending>(state).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Outcome::Refused(PageRefusal::BadRequest(
                "this sign-in was already completed; start again from the application".into(),
            ));
        }
        Err(e) => return Outcome::Refused(PageRefusal::StoreUnavailable(e)),
    }
    let code = random_secret();
    let issued = IssuedCode {
        request: request.clone(),
        tokens,
    };
    if let Err(e) = records
        .insert(&code, &issued, now_secs() + CODE_TTL.as_secs())
        .await
    {
        tracing::error!(error = %e, "code store failed");
        return failed(
            request,
            "temporarily_unavailable",
            "the authorization server cannot store the code; try again",
        );
    }
    remember_sign_in(facade, headers, &request).await;
    Outcome::Completed { request, code }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facade::browser::with_cookie;

    /// A flow waiting for the upstream, and the headers of the browser that approved it.
    async fn pending(f: &Facade, state: &str) -> HeaderMap {
        let pending = Pending {
            request: AuthRequest::for_tests(),
            upstream_verifier: "v".into(),
        };
        Records(f.store.as_ref())
            .insert(state, &pending, now_secs() + 600)
            .await
            .unwrap();
        with_cookie(&f.browsers.flow_cookie(state))
    }

    async fn back_with(f: &Facade, headers: &HeaderMap, query: &str) -> Returned {
        let query = crate::oauth::Params::parse(query.as_bytes()).map(OAuthQuery);
        returned(f, headers, query).await
    }

    fn page_saying(r: &Returned) -> Option<String> {
        match &r.outcome {
            Outcome::Refused(PageRefusal::BadRequest(why)) => Some(why.clone()),
            Outcome::Refused(PageRefusal::Forbidden(why)) => Some((*why).to_owned()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn only_the_browser_that_approved_a_pending_flow_may_return_to_it() {
        let f = Facade::for_tests(&[7; 32]);
        let headers = pending(&f, "st-1").await;
        let no_state = back_with(&f, &headers, "code=c").await;
        assert!(page_saying(&no_state).is_some_and(|w| w.contains("without its state")));
        let other_browser = back_with(&f, &HeaderMap::new(), "state=st-1&code=c").await;
        assert!(
            page_saying(&other_browser).is_some_and(|w| w.contains("not started in this browser"))
        );
        assert!(
            other_browser.ended_flow.is_none(),
            "someone else's flow is left alone"
        );
        let twice = back_with(&f, &headers, "state=st-1&state=st-2&code=c").await;
        assert!(page_saying(&twice).is_some());
        // A state this browser approved but the store no longer holds: expired or done.
        let gone = pending(&f, "st-2").await;
        Records(f.store.as_ref())
            .take::<Pending>("st-2")
            .await
            .unwrap();
        let expired = back_with(&f, &gone, "state=st-2&code=c").await;
        assert!(page_saying(&expired).is_some_and(|w| w.contains("expired")));
    }

    #[tokio::test]
    async fn an_upstream_error_ends_the_flow_and_reaches_the_client_in_fixed_words() {
        let f = Facade::for_tests(&[7; 32]);
        for (upstream_said, client_hears) in [
            ("access_denied", "access_denied"),
            ("invalid_scope", "invalid_scope"),
            ("login_required", "server_error"),
            ("<script>", "server_error"),
        ] {
            let headers = pending(&f, "st-e").await;
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("state", "st-e")
                .append_pair("error", upstream_said)
                .append_pair("error_description", "words of the upstream's choosing")
                .finish();
            let r = back_with(&f, &headers, &query).await;
            assert_eq!(r.ended_flow.as_deref(), Some("st-e"));
            match r.outcome {
                Outcome::Failed {
                    request,
                    error,
                    description,
                } => {
                    assert_eq!(
                        (error, request.state.as_deref()),
                        (client_hears, Some("client-state"))
                    );
                    assert_eq!(description, "the sign-in did not complete");
                }
                other => panic!("{upstream_said}: {other:?}"),
            }
            let left = Records(f.store.as_ref())
                .get::<Pending>("st-e")
                .await
                .unwrap();
            assert!(left.is_none(), "the failed flow is ended");
        }
        let headers = pending(&f, "st-n").await;
        let no_code = back_with(&f, &headers, "state=st-n").await;
        assert!(matches!(
            no_code.outcome,
            Outcome::Failed {
                error: "server_error",
                ..
            }
        ));
    }
}
