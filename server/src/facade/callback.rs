//! `GET /oauth/callback`: where the upstream sends the user back.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::Response,
};
use serde::{Deserialize, Serialize};

use super::{
    Facade,
    authorize::{AuthRequest, Pending, error_page, redirect_to_client},
    random_secret,
    store::{Kind, Records, now_secs},
    upstream::{UpstreamTokens, token_request},
};

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
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(state) = q.get("state") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "the sign-in came back without its state",
        );
    };
    let records = Records(facade.store.as_ref());
    let pending = match records.take::<Pending>(Kind::Pending, state).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "this sign-in expired or was already completed; start again from the application",
            );
        }
        Err(e) => return error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let request = pending.request;
    let back = |pairs: &[(&str, &str)]| {
        redirect_to_client(
            &facade,
            &request.redirect_uri,
            pairs,
            request.state.as_deref(),
        )
    };
    if let Some(error) = q.get("error") {
        // Only errors the client can act on are passed through; the rest become server_error.
        let error = match error.as_str() {
            "access_denied" | "invalid_scope" | "temporarily_unavailable" => error.as_str(),
            _ => "server_error",
        };
        return back(&[
            ("error", error),
            ("error_description", "the sign-in did not complete"),
        ]);
    }
    let Some(code) = q.get("code") else {
        return back(&[
            ("error", "server_error"),
            ("error_description", "the identity provider sent no code"),
        ]);
    };
    let tokens = match token_request(
        &facade,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &facade.config.upstream.redirect_uri),
            ("code_verifier", &pending.upstream_verifier),
            ("resource", &request.resource),
        ],
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "upstream code exchange failed");
            return back(&[
                ("error", "server_error"),
                (
                    "error_description",
                    "the identity provider refused the sign-in",
                ),
            ]);
        }
    };
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
                "the authorization server cannot store the code",
            ),
        ]);
    }
    back(&[("code", &facade_code)])
}
