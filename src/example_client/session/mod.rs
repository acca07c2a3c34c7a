//! One user's session with the MCP server: discovery from a challenge (the metadata validated as
//! the spec asks before anything in it is used), registration, authorization with PKCE, `state`,
//! `resource` and `iss` checked, the token exchange, MCP requests in the revision the client
//! speaks, refresh when the token expires, and what a 401 or a 403 `insufficient_scope` asks the
//! caller to do next. Every step lands on the timeline; tokens stay in memory.

mod conversation;
mod discovered;
mod discovery;
mod registration;
mod requests;

use std::time::{Duration, Instant};

use mcp_auth_conformance::{
    client::{
        authorization::{AuthorizationRequest, AuthorizationResponse, Pkce},
        pkce::{Verifier, random_string},
        scope::{self, Scopes},
        token::{self, ClientAuth, Tokens},
    },
    probe::{Answer, Exchange, Probe},
};
use url::Url;

pub use self::conversation::{Reply, ToolOutcome};
use self::{conversation::Conversation, discovered::Discovered};
use super::{
    settings::{ClientSettings, Registration},
    timeline::{Step, claims},
};

/// An authorization request awaiting its response.
struct Pending {
    state: String,
    verifier: Verifier,
    issuer: String,
    iss_supported: bool,
    token_endpoint: Url,
    resource: String,
}

struct Held {
    tokens: Tokens,
    obtained: Instant,
    token_endpoint: Url,
}

/// Why an action stopped (its step is on the timeline, in red).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Stopped(pub String);

/// The session.
pub struct Session {
    settings: ClientSettings,
    probe: Probe,
    /// The steps so far.
    pub timeline: Vec<Step>,
    discovered: Option<Discovered>,
    /// The client, and the issuer it is registered at (registrations are per AS: SEP-2352).
    client: Option<(ClientAuth, String)>,
    /// Every scope asked for so far, for the union a step-up asks for (SEP-2350).
    requested: Scopes,
    pending: Option<Pending>,
    held: Option<Held>,
    conversation: Conversation,
}

impl Session {
    /// A session that has done nothing yet.
    pub fn new(settings: ClientSettings) -> Self {
        let probe = Probe::new(&settings.server);
        let conversation = Conversation::new(settings.revision);
        Self {
            settings,
            probe,
            timeline: Vec::new(),
            discovered: None,
            client: None,
            requested: Scopes::default(),
            pending: None,
            held: None,
            conversation,
        }
    }

    /// The settings.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Whether an access token is held.
    pub fn signed_in(&self) -> bool {
        self.held.is_some()
    }

    /// Puts a step on the timeline; a failed one stops the action with its reason.
    fn record(&mut self, step: Step) -> Result<(), Stopped> {
        let stopped = (!step.ok).then(|| Stopped(format!("{}: {}", step.name, step.summary)));
        self.timeline.push(step);
        stopped.map_or(Ok(()), Err)
    }

    /// Puts a failed step on the timeline and stops the action with its reason.
    fn stop<T>(
        &mut self,
        name: &'static str,
        summary: impl Into<String>,
        exchanges: Vec<Exchange>,
    ) -> Result<T, Stopped> {
        let summary = summary.into();
        let stopped = Stopped(format!("{name}: {summary}"));
        self.timeline.push(Step::failed(name, summary, exchanges));
        Err(stopped)
    }

    /// Starts a sign-in: discovers (once), registers (once per authorization server), and
    /// returns the authorization URL to send the browser to. `extra_scope` is what a 403 asked
    /// for: the request asks for it with everything asked for before.
    pub async fn begin_login(&mut self, extra_scope: Option<&str>) -> Result<Url, Stopped> {
        if self.discovered.is_none() {
            self.discover().await?;
        }
        let d = self.discovered.clone().expect("discovered");
        if self.client.as_ref().is_none_or(|(_, at)| *at != d.issuer) {
            let client = self.register(&d).await?;
            self.client = Some((client, d.issuer.clone()));
        }
        let (client, _) = self.client.clone().expect("registered");
        let verifier = Verifier::generate();
        let state = random_string(16);
        let (endpoint, issuer, iss_supported, token_endpoint, scope) =
            match &self.settings.static_client {
                // A pre-registered client goes straight to its own AS, and already asks for
                // every scope it may have, in its AS's names.
                Some(s) => (
                    s.authorization_endpoint.clone(),
                    s.issuer.clone(),
                    false,
                    s.token_endpoint.clone(),
                    Some(s.scopes.clone()),
                ),
                None => (
                    d.authorization_endpoint.clone(),
                    d.issuer.clone(),
                    d.flag("authorization_response_iss_parameter_supported"),
                    d.token_endpoint.clone(),
                    self.scope_for(&d, extra_scope),
                ),
            };
        let request = AuthorizationRequest {
            endpoint,
            client_id: client.client_id().to_owned(),
            redirect_uri: self.settings.redirect_uri(),
            scope: scope.clone(),
            state: state.clone(),
            pkce: Pkce::S256(verifier.s256_challenge()),
            resource: Some(d.resource.clone()),
        };
        let url = request.url();
        self.pending = Some(Pending {
            state,
            verifier,
            issuer,
            iss_supported,
            token_endpoint,
            resource: d.resource.clone(),
        });
        self.record(Step::ok(
            "authorize",
            format!(
                "send the browser to the AS: PKCE S256, state, resource, scope {}",
                scope.as_deref().unwrap_or("(none)")
            ),
            Vec::new(),
        ))?;
        Ok(url)
    }

    /// The scope of the next authorization request: what was asked for before, the initial
    /// selection and what the 403 named; `offline_access` too when the AS lists it (this client
    /// refreshes), never when it does not.
    fn scope_for(&mut self, d: &Discovered, extra: Option<&str>) -> Option<String> {
        let mut scopes = self.requested.union(&d.initial_scope);
        scopes.add(extra.unwrap_or_default());
        self.requested = scopes.clone();
        if scope::offline_access_offered(&d.metadata) {
            scopes.add(scope::OFFLINE_ACCESS);
        }
        scopes.parameter()
    }

    /// Whether signing in again for `scope` could get further: only when it asks for a scope
    /// not asked for before (MCP, Step-Up Authorization Flow: retry limits).
    pub fn would_widen(&self, scope: &str) -> bool {
        !self.requested.covers(&Scopes::parse(scope))
    }

    /// For a machine client (a pre-registered client with a secret, at an authorization
    /// server whose `grant_types_supported` offers `client_credentials` and not
    /// `authorization_code`), a token from the client credentials grant (OAuth 2.1 §4.2);
    /// `false` when this is not such a client.
    pub async fn client_credentials(&mut self, extra_scope: Option<&str>) -> Result<bool, Stopped> {
        let Some(d) = self.discovered.clone() else {
            return Ok(false);
        };
        let grants = d
            .metadata
            .get("grant_types_supported")
            .and_then(|g| g.as_array());
        let offers = |g: &str| grants.is_some_and(|a| a.iter().any(|x| x == g));
        let has_secret = self
            .settings
            .pre_registered
            .as_ref()
            .is_some_and(|p| p.client_secret.is_some());
        let machine = self.settings.registration == Registration::Auto
            && has_secret
            && offers("client_credentials")
            && !offers("authorization_code");
        if !machine {
            return Ok(false);
        }
        if self.client.as_ref().is_none_or(|(_, at)| *at != d.issuer) {
            let client = self.register(&d).await?;
            self.client = Some((client, d.issuer.clone()));
        }
        let (client, _) = self.client.clone().expect("registered");
        let scope = self.scope_for(&d, extra_scope);
        let answer = token::client_credentials(
            &self.probe,
            &d.token_endpoint,
            &client,
            scope.as_deref(),
            Some(&d.resource),
        )
        .await;
        let Some(tokens) = answer.tokens else {
            return self.stop(
                "token",
                format!(
                    "the client credentials grant was refused: error={}",
                    answer.error.as_deref().unwrap_or("none")
                ),
                vec![answer.exchange],
            );
        };
        self.hold(tokens, d.token_endpoint.clone());
        self.record(Step::ok(
            "token",
            "an access token from the client credentials grant (a machine client: no browser)",
            vec![answer.exchange],
        ))?;
        Ok(true)
    }

    /// Finishes a sign-in with the response the browser brought back.
    pub async fn complete(&mut self, response: &AuthorizationResponse) -> Result<(), Stopped> {
        let Some(pending) = self.pending.take() else {
            return self.stop(
                "callback",
                "no sign-in is in progress (an old or forged response): start again",
                Vec::new(),
            );
        };
        if let Err(e) = response.validate(&pending.state, &pending.issuer, pending.iss_supported) {
            return self.stop("callback", e.to_string(), Vec::new());
        }
        if let Some(error) = response.error() {
            let description = response.get("error_description").unwrap_or_default();
            return self.stop(
                "callback",
                format!("the AS answered error={error} {description}"),
                Vec::new(),
            );
        }
        let Some(code) = response.code() else {
            return self.stop("callback", "neither code nor error", Vec::new());
        };
        self.record(Step::ok(
            "callback",
            match response.get("iss") {
                Some(_) => "a code; state and iss match what was recorded",
                None => "a code; state matches (the AS does not send iss)",
            },
            Vec::new(),
        ))?;
        let (client, _) = self.client.clone().expect("registered");
        let answer = token::exchange_code(
            &self.probe,
            &pending.token_endpoint,
            &client,
            code,
            &self.settings.redirect_uri(),
            pending.verifier.as_str(),
            Some(&pending.resource),
        )
        .await;
        let Some(tokens) = answer.tokens else {
            return self.stop(
                "token",
                format!(
                    "the token endpoint refused the code: error={}",
                    answer.error.as_deref().unwrap_or("none")
                ),
                vec![answer.exchange],
            );
        };
        let mut step = Step::ok(
            "token",
            format!(
                "an access token{}{}",
                tokens
                    .scope
                    .as_deref()
                    .map(|s| format!(" for {s}"))
                    .unwrap_or_default(),
                if tokens.refresh_token.is_some() {
                    ", and a refresh token"
                } else {
                    ""
                }
            ),
            vec![answer.exchange],
        );
        step.claims = claims(&tokens.access_token);
        self.hold(tokens, pending.token_endpoint);
        self.record(step)
    }

    /// Keeps new tokens from `token_endpoint`; a new token opens a new conversation.
    fn hold(&mut self, tokens: Tokens, token_endpoint: Url) {
        self.held = Some(Held {
            tokens,
            obtained: Instant::now(),
            token_endpoint,
        });
        self.conversation.reset();
    }

    /// The access token to send, refreshed first when it has expired (or will within 30 s).
    async fn fresh_token(&mut self) -> Result<Option<String>, Stopped> {
        let Some(held) = &self.held else {
            return Ok(None);
        };
        let expired = held.tokens.expires_in.is_some_and(|s| {
            held.obtained.elapsed() + Duration::from_secs(30) >= Duration::from_secs(s)
        });
        if !expired {
            return Ok(Some(held.tokens.access_token.clone()));
        }
        match self.refresh("the access token had expired").await? {
            Some(token) => Ok(Some(token)),
            None => {
                self.held = None;
                self.stop(
                    "refresh",
                    "the access token expired and there is no refresh token: log in again",
                    Vec::new(),
                )
            }
        }
    }

    /// Uses the refresh token, if there is one: the new access token, or `None` without a
    /// refresh token. A refused refresh token is dropped with the access token.
    pub async fn refresh(&mut self, why: &str) -> Result<Option<String>, Stopped> {
        let Some(held) = &self.held else {
            return Ok(None);
        };
        let Some(refresh_token) = held.tokens.refresh_token.clone() else {
            return Ok(None);
        };
        let endpoint = held.token_endpoint.clone();
        let (client, _) = self.client.clone().expect("registered");
        let resource = self.discovered.as_ref().map(|d| d.resource.clone());
        let answer = token::refresh(
            &self.probe,
            &endpoint,
            &client,
            &refresh_token,
            resource.as_deref(),
        )
        .await;
        let Some(mut tokens) = answer.tokens else {
            self.held = None;
            return self.stop(
                "refresh",
                "the refresh token was refused: log in again",
                vec![answer.exchange],
            );
        };
        // An AS that does not rotate keeps the old refresh token valid.
        tokens.refresh_token.get_or_insert(refresh_token);
        let access = tokens.access_token.clone();
        self.hold(tokens, endpoint);
        self.record(Step::ok(
            "refresh",
            format!("{why}: a new one from the refresh token"),
            vec![answer.exchange],
        ))?;
        Ok(Some(access))
    }

    /// Forgets the tokens and the MCP session (the registration stays, as a client keeps it).
    pub fn logout(&mut self) {
        self.held = None;
        self.conversation.reset();
        self.pending = None;
        self.timeline.push(Step::ok(
            "log out",
            "tokens forgotten (they were only in memory)",
            Vec::new(),
        ));
    }
}

fn status(answer: &Answer) -> String {
    match (answer.exchange.status, &answer.exchange.error) {
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(e)) => e.clone(),
        (None, None) => "no answer".into(),
    }
}

fn one_line(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 120 {
        format!("{}…", line.chars().take(120).collect::<String>())
    } else {
        line
    }
}
