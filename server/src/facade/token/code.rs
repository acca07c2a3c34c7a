//! The authorization code grant.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    refresh,
    reply::{body, unavailable},
};
use crate::{
    facade::{
        callback::IssuedCode,
        clients::{Client, Origin},
        registration::USED_REGISTRATION_TTL,
        state::Facade,
        store::{Kind, Record, Records, now_secs},
    },
    oauth::{self, ErrorCode, Params, TokenError},
};

/// How long a redeemed code is remembered, to recognise a replay.
pub const SPENT_CODE_TTL: Duration = Duration::from_secs(24 * 3600);

/// What a redeemed code leaves behind: the refresh family it started, to revoke on a replay.
#[derive(Debug, Serialize, Deserialize)]
struct SpentCode {
    family: Option<String>,
}

impl Record for SpentCode {
    const KIND: Kind = Kind::SpentCode;
}

/// Redeems a façade code for the upstream's access token and a façade refresh token.
pub(super) async fn redeem(
    facade: &Facade,
    client: &Client,
    params: &Params,
) -> Result<serde_json::Value, TokenError> {
    let code = params
        .get("code")
        .ok_or_else(|| TokenError::new(ErrorCode::InvalidRequest, "code is required"))?;
    let records = Records(facade.store.as_ref());
    let Some(issued) = records.get::<IssuedCode>(code).await.map_err(unavailable)? else {
        return Err(replayed_or_unknown(facade, code).await);
    };
    let request = &issued.request;
    // Checked before the code is spent: a wrong client or verifier cannot lock the right one out.
    oauth::redemption(
        params,
        &client.client_id,
        &request.client_id,
        &request.redirect_uri,
        &request.code_challenge,
    )
    .map_err(TokenError::from)?;
    if params
        .get("resource")
        .is_some_and(|r| !facade.config.resource.matches(r))
    {
        return Err(TokenError::new(
            ErrorCode::InvalidTarget,
            "resource is not this MCP server",
        ));
    }
    // The family first: if the store fails here, the code is still unspent and can be retried.
    let family = match issued.tokens.refresh_token.clone() {
        Some(upstream) => Some(
            refresh::start(facade, client, &request.scope, &request.resource, upstream)
                .await
                .map_err(unavailable)?,
        ),
        None => None,
    };
    let spent = records.take::<IssuedCode>(code).await;
    if !matches!(spent, Ok(Some(_))) {
        if let Some((family_id, _)) = &family {
            refresh::revoke(facade, family_id, "its code was redeemed elsewhere first").await;
        }
        return Err(match spent {
            Err(e) => unavailable(e),
            _ => TokenError::new(ErrorCode::InvalidGrant, "the code was already used"),
        });
    }
    let marker = SpentCode {
        family: family.as_ref().map(|(id, _)| id.clone()),
    };
    if let Err(e) = records
        .put(code, &marker, now_secs() + SPENT_CODE_TTL.as_secs())
        .await
    {
        tracing::warn!(error = %e, "a redeemed code was not remembered; a replay cannot revoke");
    }
    if client.origin == Origin::Dcr {
        // A registration that has been used lives on; unused ones expire after an hour.
        let _ = records
            .put(
                &client.client_id,
                client,
                now_secs() + USED_REGISTRATION_TTL.as_secs(),
            )
            .await;
    }
    Ok(body(
        &issued.tokens,
        &request.scope,
        family.map(|(_, handle)| handle),
    ))
}

/// Refuses a code that is not live; one that was redeemed before revokes what it issued.
async fn replayed_or_unknown(facade: &Facade, code: &str) -> TokenError {
    match Records(facade.store.as_ref()).get::<SpentCode>(code).await {
        Ok(Some(spent)) => {
            if let Some(family) = spent.family {
                refresh::revoke(facade, &family, "an authorization code was replayed").await;
            }
            TokenError::new(
                ErrorCode::InvalidGrant,
                "the code was already used; the refresh token issued from it is revoked",
            )
        }
        Ok(None) => TokenError::new(
            ErrorCode::InvalidGrant,
            "the code is unknown, expired or already used",
        ),
        Err(e) => unavailable(e),
    }
}
