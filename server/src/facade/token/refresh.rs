//! Refresh tokens: the façade's own, in families.
//!
//! A code redemption starts a family: the upstream's refresh token (which never leaves the
//! server) and the hash of the one live handle. The client holds `<family id>.<secret>`. Each
//! refresh replaces the secret with a conditional write (atomic across replicas); presenting a
//! family's old secret means a rotated token was reused, so the whole family is revoked, here
//! and at the upstream (OAuth 2.1 section 4.3.1).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    reply::{self, unavailable},
    retry::Retry,
};
use crate::{
    facade::{
        clients::Client,
        state::{Facade, random_secret},
        store::{Kind, Record, Records, StoreError, now_secs},
        upstream::{UpstreamTokens, revoke_upstream, token_request},
    },
    oauth::{ErrorCode, Params, TokenError},
    scope::ScopeSet,
    secret,
};

/// Lifetime of a refresh family (renewed by each refresh).
pub const FAMILY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A refresh family, stored under its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// The client it was issued to.
    pub client_id: String,
    /// The scope granted.
    pub scope: ScopeSet,
    /// The resource the tokens are for.
    pub resource: String,
    /// The upstream's refresh token.
    pub upstream_refresh_token: String,
    /// SHA-256 of the live handle's secret.
    pub handle_sha256: String,
    /// The last rotation's answer, for a retry of the secret it replaced (absent in families
    /// stored before it existed).
    #[serde(default)]
    pub retry: Option<Retry>,
}

impl Record for Family {
    const KIND: Kind = Kind::Family;
}

/// A refresh token as the client holds it.
struct Handle {
    family: String,
    secret: String,
}

impl Handle {
    fn parse(presented: &str) -> Option<Self> {
        let (family, secret) = presented.split_once('.')?;
        (!family.is_empty() && !secret.is_empty()).then(|| Self {
            family: family.to_owned(),
            secret: secret.to_owned(),
        })
    }

    fn token(&self) -> String {
        format!("{}.{}", self.family, self.secret)
    }
}

/// Starts a family for tokens just issued from a code; returns its id and the handle.
pub(super) async fn start(
    facade: &Facade,
    client: &Client,
    scope: &ScopeSet,
    resource: &str,
    upstream_refresh_token: String,
) -> Result<(String, String), StoreError> {
    let handle = Handle {
        family: random_secret(),
        secret: random_secret(),
    };
    let family = Family {
        client_id: client.client_id.clone(),
        scope: scope.clone(),
        resource: resource.to_owned(),
        upstream_refresh_token,
        handle_sha256: secret::sha256_hex(&handle.secret),
        retry: None,
    };
    Records(facade.store.as_ref())
        .insert(&handle.family, &family, now_secs() + FAMILY_TTL.as_secs())
        .await?;
    Ok((handle.family.clone(), handle.token()))
}

/// Revokes a family: its handle stops working here, and its refresh token at the upstream.
pub(super) async fn revoke(facade: &Facade, family_id: &str, why: &str) {
    match Records(facade.store.as_ref())
        .take::<Family>(family_id)
        .await
    {
        Ok(Some(family)) => {
            tracing::warn!(client_id = %family.client_id, why, "refresh family revoked");
            revoke_upstream(facade, &family.upstream_refresh_token).await;
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, why, "could not revoke a refresh family"),
    }
}

/// The family a presented refresh token is the live handle of, or the answer a retry of the
/// handle it replaced gets again.
enum Presented {
    /// The live handle and its family.
    Live(Handle, Family),
    /// A retry, within its grace, of the handle just replaced: the same answer again.
    AnsweredBefore(serde_json::Value),
}

/// Reads the family `params` present a handle of, holding it to `client`. A replaced handle
/// presented again (not a retry) revokes the whole family (OAuth 2.1 section 4.3.1).
async fn presented(
    facade: &Facade,
    client: &Client,
    params: &Params,
) -> Result<Presented, TokenError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| TokenError::new(ErrorCode::InvalidRequest, "refresh_token is required"))?;
    let unknown = || {
        TokenError::new(
            ErrorCode::InvalidGrant,
            "the refresh token is unknown, expired or revoked",
        )
    };
    let handle = Handle::parse(presented).ok_or_else(unknown)?;
    let family = Records(facade.store.as_ref())
        .get::<Family>(&handle.family)
        .await
        .map_err(unavailable)?
        .ok_or_else(unknown)?;
    if !secret::equal(&family.handle_sha256, &secret::sha256_hex(&handle.secret)) {
        if let Some(answer) = answered_before(&family, client, &handle) {
            return Ok(Presented::AnsweredBefore(answer));
        }
        revoke(facade, &handle.family, "a rotated refresh token was reused").await;
        return Err(TokenError::new(
            ErrorCode::InvalidGrant,
            "the refresh token was already used; every token issued with it is revoked",
        ));
    }
    // Checked before anything is spent: a mistaken request leaves the token usable.
    if family.client_id != client.client_id {
        return Err(TokenError::new(
            ErrorCode::InvalidGrant,
            "the refresh token was issued to another client",
        ));
    }
    Ok(Presented::Live(handle, family))
}

/// The refresh token grant.
pub(super) async fn refresh(
    facade: &Facade,
    client: &Client,
    params: &Params,
) -> Result<serde_json::Value, TokenError> {
    let (handle, family) = match presented(facade, client, params).await? {
        Presented::Live(handle, family) => (handle, family),
        Presented::AnsweredBefore(answer) => return Ok(answer),
    };
    let records = Records(facade.store.as_ref());
    let scope = requested_scope(params, &family.scope)?;
    if params
        .get("resource")
        .is_some_and(|r| !facade.config.resource.matches(r) || r != family.resource)
    {
        return Err(TokenError::new(
            ErrorCode::InvalidTarget,
            "resource is not the one the refresh token was issued for",
        ));
    }
    let tokens = match token_request(
        facade,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &family.upstream_refresh_token),
        ],
        &family.resource,
    )
    .await
    {
        Ok(tokens) => tokens,
        Err(e) => {
            // A concurrent request of this client may have spent the upstream token first.
            if let Some(answer) = rotated_meanwhile(&records, client, &handle).await? {
                return Ok(answer);
            }
            tracing::warn!(error = %e, "upstream refresh failed");
            return Err(TokenError::new(
                ErrorCode::InvalidGrant,
                "the identity provider refused the refresh",
            ));
        }
    };
    rotate(&records, client, &handle, &family, &tokens, &scope).await
}

/// Issues the next handle of `family` with `tokens`: the answer, once the family is replaced
/// (atomically: of two requests with one handle, one rotates it).
async fn rotate(
    records: &Records<'_>,
    client: &Client,
    handle: &Handle,
    family: &Family,
    tokens: &UpstreamTokens,
    scope: &ScopeSet,
) -> Result<serde_json::Value, TokenError> {
    let next = random_secret();
    let answer = reply::body(
        tokens,
        scope,
        Some(
            Handle {
                family: handle.family.clone(),
                secret: next.clone(),
            }
            .token(),
        ),
    );
    let rotated = Family {
        // Cognito does not rotate its refresh tokens unless configured to; keep the old one.
        upstream_refresh_token: tokens
            .refresh_token
            .clone()
            .unwrap_or_else(|| family.upstream_refresh_token.clone()),
        handle_sha256: secret::sha256_hex(&next),
        retry: Retry::seal(&handle.secret, &answer, now_secs()),
        ..family.clone()
    };
    let replaced = records
        .replace(
            &handle.family,
            family,
            &rotated,
            now_secs() + FAMILY_TTL.as_secs(),
        )
        .await
        .map_err(unavailable)?;
    if !replaced {
        // Another request of this client rotated it first: its answer, if it was this one's.
        return rotated_meanwhile(records, client, handle)
            .await?
            .ok_or_else(|| {
                TokenError::new(
                    ErrorCode::InvalidGrant,
                    "the refresh token was used by another request at the same time",
                )
            });
    }
    Ok(answer)
}

/// The answer of a rotation another request made since this one read the family.
async fn rotated_meanwhile(
    records: &Records<'_>,
    client: &Client,
    handle: &Handle,
) -> Result<Option<serde_json::Value>, TokenError> {
    let family = records
        .get::<Family>(&handle.family)
        .await
        .map_err(unavailable)?;
    Ok(family.and_then(|f| answered_before(&f, client, handle)))
}

/// The answer the last rotation gave, when `handle` is the secret it replaced, presented by the
/// same client within the grace window.
fn answered_before(family: &Family, client: &Client, handle: &Handle) -> Option<serde_json::Value> {
    if family.client_id != client.client_id {
        return None;
    }
    family.retry.as_ref()?.open(&handle.secret, now_secs())
}

/// The scope a refresh asks for. The upstream's access token carries the family's whole scope
/// (Cognito ignores `scope` on refresh), so a narrower one cannot be issued faithfully: it is
/// refused rather than answered with a token that says more than the response.
fn requested_scope(params: &Params, granted: &ScopeSet) -> Result<ScopeSet, TokenError> {
    let Some(requested) = params.get("scope").map(ScopeSet::parse) else {
        return Ok(granted.clone());
    };
    if !requested.is_subset_of(granted) {
        return Err(TokenError::new(
            ErrorCode::InvalidScope,
            "a refresh cannot widen the scope",
        ));
    }
    if !requested.same_as(granted) {
        return Err(TokenError::new(
            ErrorCode::InvalidScope,
            format!(
                "this server cannot narrow the scope on refresh: ask for \"{granted}\" (or \
                 nothing), or sign in again for the narrower scope"
            ),
        ));
    }
    Ok(granted.clone())
}
