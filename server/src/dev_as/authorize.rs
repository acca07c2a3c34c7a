//! `GET /oauth2/authorize` and the login form's `POST /login`.

use std::{sync::Arc, time::Instant};

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use super::{
    page,
    state::{DevAuthServer, Grant, IssuedCode, MAX_PENDING, PendingLogin},
};
use crate::{
    forms, html,
    oauth::{self, OAuthForm, OAuthQuery, ParamsError},
    scope::ScopeSet,
    secret::{equal as secrets_equal, random_token},
};

/// An error sent back to the client's redirect URI (RFC 6749 section 4.1.2.1).
struct RedirectError {
    redirect_uri: String,
    state: Option<String>,
    error: &'static str,
    description: String,
}

impl IntoResponse for RedirectError {
    fn into_response(self) -> Response {
        let mut pairs = vec![
            ("error", self.error.to_owned()),
            ("error_description", self.description),
        ];
        if let Some(state) = self.state {
            pairs.push(("state", state));
        }
        redirect_with(&self.redirect_uri, &pairs, false)
    }
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, String)], see_other: bool) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page("invalid redirect URI");
    };
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    if see_other {
        Redirect::to(url.as_str()).into_response()
    } else {
        Redirect::temporary(url.as_str()).into_response()
    }
}

fn error_page(message: &str) -> Response {
    html::error_page(StatusCode::BAD_REQUEST, message).into_response()
}

/// Validates an authorization request, then shows the login form (or, with auto-approve,
/// issues the code at once).
pub async fn authorize(
    State(dev): State<Arc<DevAuthServer>>,
    query: Result<OAuthQuery, ParamsError>,
) -> Response {
    let q = match query {
        Ok(OAuthQuery(q)) => q,
        Err(e) => return error_page(&e.to_string()),
    };
    let get = |k: &str| q.get(k);
    // Until client and redirect URI are known good, errors must not redirect anywhere.
    if q.is_repeated("client_id") || q.is_repeated("redirect_uri") {
        return error_page("client_id or redirect_uri is repeated");
    }
    let Some(client) = get("client_id").and_then(|id| dev.client(id)) else {
        return error_page("unknown client_id");
    };
    let Some(redirect_uri) =
        get("redirect_uri").filter(|r| client.redirect_uris.iter().any(|u| u == r))
    else {
        return error_page(
            "redirect_uri is missing or not registered for this client (matched exactly)",
        );
    };
    let fail = |error: &'static str, description: &str| {
        RedirectError {
            redirect_uri: redirect_uri.to_owned(),
            state: get("state")
                .filter(|_| !q.is_repeated("state"))
                .map(str::to_owned),
            error,
            description: description.to_owned(),
        }
        .into_response()
    };
    if let Err(e) = q.refuse_repeated() {
        return fail("invalid_request", &e);
    }
    let challenge = match oauth::code_flow_challenge(get) {
        Ok(c) => c,
        Err(e) => return fail(e.code.as_str(), e.description),
    };
    let scope = match get("scope") {
        Some(s) => ScopeSet::parse(s),
        None => ScopeSet::parse("openid"),
    };
    if let Some(bad) = scope.iter().find(|s| !dev.allowed_scope(s)) {
        return fail("invalid_scope", &format!("scope {bad} is not allowed"));
    }
    let requested = get("resource");
    if requested.is_some_and(|r| !dev.config.resource.matches(r)) {
        return fail(
            "invalid_target",
            "resource is not a resource server of this pool",
        );
    }
    // Bound as the resource server's identifier, not as written (`HTTP://…` names it too): the
    // token's `aud` is compared exactly.
    let resource = requested.map(|_| dev.config.resource.to_string());
    let pending = PendingLogin {
        grant: Grant {
            client_id: client.id.clone(),
            scope,
            resource,
            nonce: get("nonce").map(str::to_owned),
        },
        redirect_uri: redirect_uri.to_owned(),
        state: get("state").map(str::to_owned),
        code_challenge: challenge.to_owned(),
        failures: 0,
    };
    if dev.config.auto_approve {
        return issue_code(&dev, pending, false);
    }
    let login_id = random_token(24);
    dev.logins.insert(login_id.clone(), pending.clone());
    let login = page::Login {
        action: &dev.login_action(),
        client_name: &client.name,
        scope: &pending.grant.scope.to_string(),
        login_id: &login_id,
    };
    page::login(&login, None).into_response()
}

/// Checks the development user's credentials and issues the code.
pub async fn login(
    State(dev): State<Arc<DevAuthServer>>,
    headers: HeaderMap,
    form: Result<OAuthForm, ParamsError>,
) -> Response {
    // Before the form is read: a sign-in posted by another site is a login CSRF.
    if !forms::posted_from(&headers, &dev.origin()) {
        let refusal =
            "this sign-in form was sent from another site; start again from the application";
        return html::error_page(StatusCode::FORBIDDEN, refusal).into_response();
    }
    let form = match form {
        Ok(OAuthForm(f)) => f,
        Err(e) => return error_page(&e.to_string()),
    };
    if let Err(e) = form.refuse_repeated() {
        return error_page(&e);
    }
    let login_id = form.get("login_id").unwrap_or_default().to_owned();
    let Some(mut pending) = dev.logins.remove(&login_id) else {
        return error_page(
            "this sign-in has expired or was already used; start again from the application",
        );
    };
    let user = &dev.config.user;
    let ok = form
        .get("username")
        .is_some_and(|u| u.trim().eq_ignore_ascii_case(&user.username))
        && secrets_equal(form.get("password").unwrap_or_default(), &user.password);
    if !ok {
        pending.failures += 1;
        if pending.failures >= 5 {
            return error_page("too many failed attempts; start again from the application");
        }
        let client_name = dev
            .client(&pending.grant.client_id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let scope = pending.grant.scope.to_string();
        dev.logins.insert(login_id.clone(), pending);
        let login = page::Login {
            action: &dev.login_action(),
            client_name: &client_name,
            scope: &scope,
            login_id: &login_id,
        };
        return page::login(&login, Some("Incorrect email or password.")).into_response();
    }
    issue_code(&dev, pending, true)
}

fn issue_code(dev: &DevAuthServer, pending: PendingLogin, see_other: bool) -> Response {
    let code = random_token(32);
    let issued = IssuedCode {
        grant: pending.grant,
        redirect_uri: pending.redirect_uri.clone(),
        code_challenge: pending.code_challenge,
        created: Instant::now(),
    };
    let stored = dev.with_state(|s| {
        if s.codes.len() >= MAX_PENDING {
            return false;
        }
        s.codes.insert(code.clone(), issued);
        true
    });
    if !stored {
        return html::error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many codes outstanding",
        )
        .into_response();
    }
    let mut pairs = vec![("code", code)];
    if let Some(state) = pending.state {
        pairs.push(("state", state));
    }
    redirect_with(&pending.redirect_uri, &pairs, see_other)
}
