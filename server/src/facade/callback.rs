//! `GET /oauth/callback`: where the upstream sends the user back.
//!
//! Nothing is destroyed before it is no longer needed: the pending authorization is read, the
//! upstream code exchanged, and only then is the pending record taken (atomically, so a flow
//! completes once). A store that fails or pauses before that point leaves the flow as it was,
//! and the same callback URL can be loaded again.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde::{Deserialize, Serialize};

use super::{
    flow::{AuthRequest, Pending, redirect_to_client, remember_sign_in},
    pages::{error_page, store_unavailable_page},
    state::{Facade, random_secret},
    store::{Kind, Records, now_secs},
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

/// The callback.
pub async fn callback(
    State(facade): State<Arc<Facade>>,
    headers: HeaderMap,
    query: Result<OAuthQuery, ParamsError>,
) -> Response {
    let params = match query {
        Ok(OAuthQuery(p)) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if let Err(e) = params.refuse_repeated() {
        return error_page(StatusCode::BAD_REQUEST, &e);
    }
    let Some(state) = params.get("state") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "the sign-in came back without its state",
        );
    };
    // Before anything else: only the browser that approved this flow may complete it.
    if !facade.browsers.approved_flow(&headers, state) {
        return error_page(
            StatusCode::FORBIDDEN,
            "this sign-in was not started in this browser; start again from the application",
        );
    }
    let records = Records(facade.store.as_ref());
    let pending = match records.get::<Pending>(Kind::Pending, state).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "this sign-in expired or was already completed; start again from the application",
            );
        }
        Err(e) => return store_unavailable_page(&e),
    };
    let mut response = complete(&facade, &headers, state, &params, pending).await;
    response
        .headers_mut()
        .append(header::SET_COOKIE, facade.browsers.clear_flow_cookie(state));
    response
}

/// Ends a flow that failed upstream; if the store cannot, the record expires on its own.
async fn end_flow(facade: &Facade, state: &str) {
    if let Err(e) = Records(facade.store.as_ref())
        .take::<Pending>(Kind::Pending, state)
        .await
    {
        tracing::warn!(error = %e, "could not end a failed flow; it expires on its own");
    }
}

/// Exchanges the upstream's code, then ends the flow and sends the client its own code.
async fn complete(
    facade: &Facade,
    headers: &HeaderMap,
    state: &str,
    params: &crate::oauth::Params,
    pending: Pending,
) -> Response {
    let request = &pending.request;
    let records = Records(facade.store.as_ref());
    let back = |pairs: &[(&str, &str)]| {
        redirect_to_client(
            facade,
            &request.redirect_uri,
            pairs,
            request.state.as_deref(),
        )
    };
    if let Some(error) = params.get("error") {
        end_flow(facade, state).await;
        // Only errors the client can act on are passed through; the rest become server_error.
        let error = match error {
            "access_denied" | "invalid_scope" | "temporarily_unavailable" => error,
            _ => "server_error",
        };
        return back(&[
            ("error", error),
            ("error_description", "the sign-in did not complete"),
        ]);
    }
    let Some(code) = params.get("code") else {
        end_flow(facade, state).await;
        return back(&[
            ("error", "server_error"),
            ("error_description", "the identity provider sent no code"),
        ]);
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
            return back(&[
                ("error", "server_error"),
                (
                    "error_description",
                    "the identity provider refused the sign-in",
                ),
            ]);
        }
    };
    // The flow completes once, even with the callback loaded twice or on two replicas.
    match records.take::<Pending>(Kind::Pending, state).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "this sign-in was already completed; start again from the application",
            );
        }
        Err(e) => return store_unavailable_page(&e),
    }
    let facade_code = random_secret();
    let issued = IssuedCode {
        request: request.clone(),
        tokens,
    };
    if let Err(e) = records
        .insert(
            Kind::Code,
            &facade_code,
            &issued,
            now_secs() + CODE_TTL.as_secs(),
        )
        .await
    {
        tracing::error!(error = %e, "code store failed");
        return back(&[
            ("error", "temporarily_unavailable"),
            (
                "error_description",
                "the authorization server cannot store the code; try again",
            ),
        ]);
    }
    remember_sign_in(facade, headers, request).await;
    back(&[("code", &facade_code)])
}
