//! One user's session with the MCP server: discovery from a challenge (the metadata validated as
//! the spec asks before anything in it is used), registration, authorization with PKCE, `state`,
//! `resource` and `iss` checked, the token exchange, MCP requests in the revision the client
//! speaks, refresh when the token expires, and what a 401 or a 403 `insufficient_scope` asks the
//! caller to do next. Every step lands on the timeline; tokens stay in memory.

use std::time::{Duration, Instant};

use mcp_auth_conformance::{
    catalogue::Revision,
    client::{
        authorization::{AuthorizationRequest, AuthorizationResponse, Pkce},
        pkce::{Verifier, random_string},
        registration::{self, ClientMetadata},
        scope::{self, Scopes},
        token::{self, ClientAuth, Tokens},
    },
    observe::{discovery, mcp::Speaker},
    probe::{Answer, Exchange, Probe, rpc_response},
    www_authenticate::Challenge,
};
use url::Url;

use super::{
    settings::{ClientSettings, Registration},
    timeline::{Step, claims},
};

/// What discovery found, once validated.
#[derive(Debug, Clone)]
struct Discovered {
    /// The canonical resource (PRM `resource`, checked against the server's URL).
    resource: String,
    /// The AS's issuer, from its validated metadata.
    issuer: String,
    /// The AS's metadata (its issuer checked).
    metadata: serde_json::Map<String, serde_json::Value>,
    authorization_endpoint: Url,
    token_endpoint: Url,
    /// The scopes the first sign-in asks for (the challenge's, else the PRM's).
    initial_scope: Scopes,
}

impl Discovered {
    fn url(&self, field: &str) -> Option<Url> {
        self.metadata
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
    }

    fn flag(&self, field: &str) -> bool {
        self.metadata.get(field) == Some(&serde_json::Value::Bool(true))
    }
}

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

/// The MCP conversation: opened once per token (`initialize` on 2025-11-25, `server/discover`
/// on 2026-07-28), then requests in its session.
struct Conversation {
    speaker: Speaker,
    opened: bool,
    session: Option<String>,
    next_id: u64,
}

/// Why an action stopped (its step is on the timeline, in red).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Stopped(pub String);

/// What the server made of a request.
pub enum Reply {
    /// The JSON-RPC result.
    Result(serde_json::Value),
    /// 401: no token, or one it does not take; the answer carries the challenge to discover
    /// from.
    Unauthorized(Box<Answer>),
    /// 403 `insufficient_scope`: sign in again for the union of what was asked for before
    /// and this scope.
    InsufficientScope(String),
}

/// A tool call's outcome, for the page.
#[derive(Debug)]
pub enum ToolOutcome {
    /// The tool's result.
    Result(serde_json::Value),
    /// 403 insufficient_scope: sign in again asking for this scope.
    NeedsScope(String),
}

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
        let conversation = Conversation {
            speaker: Speaker::as_client(
                settings.revision,
                "mcp-auth-kit example client",
                env!("CARGO_PKG_VERSION"),
            ),
            opened: false,
            session: None,
            next_id: 1,
        };
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

    /// The page's way in: the opening request without a token, which must be refused with a
    /// challenge to discover from.
    async fn discover(&mut self) -> Result<(), Stopped> {
        let target = self.settings.server.clone();
        let body = self.conversation.speaker.opening();
        let headers = self.conversation.speaker.headers(&body);
        let answer = self
            .probe
            .post_mcp_with(&target, &body, None, &headers)
            .await;
        if answer.exchange.status != Some(401) {
            return self.stop(
                "401",
                format!(
                    "expected 401 with a Bearer challenge, got {}",
                    status(&answer)
                ),
                vec![answer.exchange],
            );
        }
        self.discover_from(answer).await
    }

    /// Discovers from a 401: the challenge, the Protected Resource Metadata (its `resource`
    /// checked against the server's URL), the authorization server's metadata (its `issuer`
    /// checked against the PRM's). Run again on every 401, since the PRM may name another
    /// authorization server now: then the registration and the tokens of the old one are
    /// dropped (a client MUST NOT assume credentials of one AS work at another, SEP-2352).
    pub async fn discover_from(&mut self, answer: Answer) -> Result<(), Stopped> {
        let target = self.settings.server.clone();
        let challenge = answer.exchange.bearer_challenges().next();
        let Some(challenge) = challenge else {
            return self.stop(
                "401",
                format!(
                    "{} without a Bearer challenge: nothing to discover from",
                    status(&answer)
                ),
                vec![answer.exchange],
            );
        };
        let advertised = challenge
            .param("resource_metadata")
            .and_then(|u| Url::parse(u).ok());
        self.record(Step::ok(
            "401",
            format!(
                "the server wants a token; {}scope {} from WWW-Authenticate",
                if advertised.is_some() {
                    "resource_metadata and "
                } else {
                    ""
                },
                challenge.param("scope").unwrap_or("(none)")
            ),
            vec![answer.exchange],
        ))?;
        let (resource, prm) = self.protected_resource(&target, advertised).await?;
        let issuer = discovery::first_issuer(&prm);
        let Some(issuer) = issuer else {
            return self.stop(
                "PRM",
                "no authorization_servers in the Protected Resource Metadata",
                Vec::new(),
            );
        };
        let initial_scope = scope::initial(challenge.param("scope"), Some(&prm));
        let d = self
            .authorization_server(resource, issuer, initial_scope)
            .await?;
        self.forget_another_as(&d);
        self.discovered = Some(d);
        Ok(())
    }

    /// The PRM, found as the spec says, and its `resource` (RFC 9728 §3.3: it must name what
    /// the client asked for, or the metadata MUST NOT be used).
    async fn protected_resource(
        &mut self,
        target: &Url,
        advertised: Option<Url>,
    ) -> Result<(String, serde_json::Map<String, serde_json::Value>), Stopped> {
        let (attempts, found) = discovery::find_prm(&self.probe, target, advertised).await;
        let Some((found, via)) = found else {
            return self.stop(
                "PRM",
                "no Protected Resource Metadata at the challenge's URL or the well-known URIs",
                attempts,
            );
        };
        let evidence = vec![attempts[found.exchange].clone()];
        let Some(prm) = found.json else {
            return self.stop(
                "PRM",
                "the Protected Resource Metadata is not a JSON object",
                evidence,
            );
        };
        let expected = discovery::expected_resource(target, via);
        let resource = prm.get("resource").and_then(|r| r.as_str());
        let usable = |r: &&str| discovery::resource_usable(r, target, via);
        let Some(resource) = resource.filter(usable) else {
            return self.stop(
                "PRM",
                format!(
                    "resource {:?} is not {expected}, which {} must name (RFC 9728 §3.3): the metadata is not used",
                    resource.unwrap_or("(none)"),
                    via.describe()
                ),
                evidence,
            );
        };
        let resource = resource.to_owned();
        self.record(Step::ok(
            "PRM",
            format!(
                "resource {resource} (found through {}), authorization server {}",
                via.describe(),
                discovery::first_issuer(&prm).unwrap_or_default()
            ),
            evidence,
        ))?;
        // Found at the root, the canonical URI is the origin: tokens are asked for it.
        Ok((resource, prm))
    }

    /// The authorization server's metadata, validated: the issuer the PRM named (RFC 8414
    /// §3.3), S256 (a client MUST refuse to go on without it), both endpoints.
    async fn authorization_server(
        &mut self,
        resource: String,
        issuer: String,
        initial_scope: Scopes,
    ) -> Result<Discovered, Stopped> {
        let (tried, found) = discovery::find_as_metadata(&self.probe, &issuer).await;
        let Some(metadata) = found.and_then(|f| f.json) else {
            return self.stop(
                "AS metadata",
                "no authorization server metadata at any well-known location",
                tried,
            );
        };
        let s256 = metadata
            .get("code_challenge_methods_supported")
            .and_then(|m| m.as_array())
            .is_some_and(|a| a.iter().any(|x| x == "S256"));
        let mut d = Discovered {
            resource,
            issuer,
            metadata,
            authorization_endpoint: Url::parse("http://unset.invalid").expect("a static URL"),
            token_endpoint: Url::parse("http://unset.invalid").expect("a static URL"),
            initial_scope,
        };
        let endpoints = d.url("authorization_endpoint").zip(d.url("token_endpoint"));
        let problem = if !discovery::issuer_is(&d.metadata, &d.issuer) {
            Some(format!(
                "the metadata's issuer is {}, not {} the PRM names: it MUST NOT be used (RFC 8414 §3.3)",
                d.metadata.get("issuer").unwrap_or(&serde_json::Value::Null),
                d.issuer
            ))
        } else if !s256 {
            Some(
                "no S256 in code_challenge_methods_supported: a client must refuse to go on".into(),
            )
        } else if endpoints.is_none() {
            Some("no authorization_endpoint or token_endpoint".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            return self.stop("AS metadata", problem, tried);
        }
        (d.authorization_endpoint, d.token_endpoint) = endpoints.expect("checked");
        let summary = format!(
            "issuer {} (recorded for the iss check), S256, {}",
            d.issuer,
            match (
                d.url("registration_endpoint").is_some(),
                d.flag("client_id_metadata_document_supported")
            ) {
                (true, true) => "DCR and CIMD offered",
                (true, false) => "DCR offered",
                (false, true) => "CIMD offered",
                (false, false) => "no registration offered",
            }
        );
        self.record(Step::ok("AS metadata", summary, tried))?;
        Ok(d)
    }

    /// When `d` names another authorization server than the one signed in at: its
    /// registration and tokens are of no use at the new one.
    fn forget_another_as(&mut self, d: &Discovered) {
        let before = self.discovered.as_ref().map(|old| old.issuer.clone());
        if before.is_some_and(|old| old != d.issuer) {
            self.client = None;
            self.held = None;
            self.pending = None;
            self.conversation.reset();
            self.timeline.push(Step::ok(
                "AS changed",
                format!(
                    "the PRM now names {}: the registration and tokens of the previous authorization server are dropped",
                    d.issuer
                ),
                Vec::new(),
            ));
        }
    }

    /// Gets a client id at `d`'s authorization server, the way the settings say.
    async fn register(&mut self, d: &Discovered) -> Result<ClientAuth, Stopped> {
        match self.settings.registration {
            Registration::Static => {
                let s = self
                    .settings
                    .static_client
                    .clone()
                    .expect("static settings");
                self.record(Step::ok(
                    "registration",
                    format!(
                        "pre-registered client {} (from {}), at its own AS {}",
                        s.client_id, self.settings.source, s.issuer
                    ),
                    Vec::new(),
                ))?;
                Ok(ClientAuth::Basic {
                    id: s.client_id,
                    secret: s.client_secret,
                })
            }
            Registration::Dcr => self.register_dynamically(d).await,
            Registration::Cimd => Ok(self.use_metadata_document()?),
            Registration::Auto => self.register_automatically(d).await,
        }
    }

    /// MCP's order (Client Registration): a pre-registered client, else CIMD when the AS
    /// says it supports it, else DCR when it offers it.
    async fn register_automatically(&mut self, d: &Discovered) -> Result<ClientAuth, Stopped> {
        if let Some(pre) = self.settings.pre_registered.clone() {
            let auth = match pre.client_secret {
                Some(secret) => ClientAuth::for_method(
                    pre.client_id.clone(),
                    Some(secret),
                    Some(token::secret_method(
                        d.metadata.get("token_endpoint_auth_methods_supported"),
                    )),
                ),
                None => ClientAuth::Public(pre.client_id.clone()),
            };
            self.record(Step::ok(
                "registration",
                format!(
                    "pre-registered client {} (from {}), authenticating with {}",
                    pre.client_id,
                    self.settings.source,
                    auth.method()
                ),
                Vec::new(),
            ))?;
            return Ok(auth);
        }
        if d.flag("client_id_metadata_document_supported") {
            return self.use_metadata_document();
        }
        if d.url("registration_endpoint").is_some() {
            return self.register_dynamically(d).await;
        }
        self.stop(
            "registration",
            "no way to a client id: no pre-registered client was given, and the AS offers neither CIMD nor DCR",
            Vec::new(),
        )
    }

    async fn register_dynamically(&mut self, d: &Discovered) -> Result<ClientAuth, Stopped> {
        let Some(endpoint) = d.url("registration_endpoint") else {
            return self.stop(
                "registration",
                "the AS advertises no registration_endpoint",
                Vec::new(),
            );
        };
        let method = registration::requested_auth_method(
            d.metadata.get("token_endpoint_auth_methods_supported"),
        );
        let metadata = ClientMetadata {
            client_name: "mcp-auth-kit example (DCR)".into(),
            redirect_uris: vec![self.settings.redirect_uri()],
            token_endpoint_auth_method: method.into(),
            scope: None,
        };
        let (answer, registered) = registration::register(&self.probe, &endpoint, &metadata).await;
        match registered {
            Some(r) => {
                let summary = format!(
                    "registered as {} (kept for this session){}",
                    r.auth.client_id(),
                    match r.auth.method() {
                        "none" => String::new(),
                        m => format!(", authenticating with {m}"),
                    }
                );
                self.record(Step::ok("registration", summary, vec![answer.exchange]))?;
                Ok(r.auth)
            }
            None => self.stop(
                "registration",
                format!("the registration was refused: {}", status(&answer)),
                vec![answer.exchange],
            ),
        }
    }

    fn use_metadata_document(&mut self) -> Result<ClientAuth, Stopped> {
        let client_id = cimd_url(&self.settings);
        self.record(Step::ok(
            "registration",
            format!(
                "none: the client_id is the URL of this client's metadata document, {client_id}"
            ),
            Vec::new(),
        ))?;
        Ok(ClientAuth::Public(client_id.to_string()))
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
        self.held = Some(Held {
            tokens,
            obtained: Instant::now(),
            token_endpoint: d.token_endpoint.clone(),
        });
        self.conversation.reset();
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
        self.held = Some(Held {
            tokens,
            obtained: Instant::now(),
            token_endpoint: pending.token_endpoint,
        });
        // A new token opens a new conversation.
        self.conversation.reset();
        self.record(step)
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
        self.held = Some(Held {
            tokens,
            obtained: Instant::now(),
            token_endpoint: endpoint,
        });
        self.conversation.reset();
        self.record(Step::ok(
            "refresh",
            format!("{why}: a new one from the refresh token"),
            vec![answer.exchange],
        ))?;
        Ok(Some(access))
    }

    /// Sends an MCP request with the token held (if any), opening the conversation first when
    /// it is not open yet. A 401 or a 403 `insufficient_scope` is for the caller to act on.
    pub async fn send(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<Reply, Stopped> {
        let token = self.fresh_token().await?;
        if !self.conversation.opened {
            if let Some(reply) = self.open(token.as_deref()).await? {
                return Ok(reply);
            }
        }
        let body = self.conversation.request(method, params);
        let answer = self.post(&body, token.as_deref()).await;
        let name = step_name(method);
        if let Some(reply) = self.refusal(&body, &answer) {
            return Ok(reply);
        }
        match rpc_response(&answer).map(|r| (r.get("result").cloned(), r)) {
            Some((Some(result), _)) => {
                self.record(Step::ok(
                    name,
                    summary(method, &body, &result),
                    vec![answer.exchange],
                ))?;
                Ok(Reply::Result(result))
            }
            Some((None, r)) => self.stop(
                name,
                format!(
                    "{method} was answered with an error: {}",
                    one_line(&r["error"].to_string())
                ),
                vec![answer.exchange],
            ),
            None => self.stop(
                name,
                format!(
                    "{method} was not answered with JSON-RPC: {}",
                    status(&answer)
                ),
                vec![answer.exchange],
            ),
        }
    }

    /// Opens the conversation: `initialize` and `notifications/initialized` on 2025-11-25,
    /// `server/discover` on 2026-07-28. A refusal is returned for the caller.
    async fn open(&mut self, token: Option<&str>) -> Result<Option<Reply>, Stopped> {
        let body = self.conversation.speaker.opening();
        let answer = self.post(&body, token).await;
        if let Some(reply) = self.refusal(&body, &answer) {
            return Ok(Some(reply));
        }
        let name = self.conversation.speaker.opening_method();
        let ok = rpc_response(&answer).is_some_and(|r| r.get("result").is_some());
        if !ok {
            return self.stop(
                step_name(name),
                format!("{name} got no result: {}", status(&answer)),
                vec![answer.exchange],
            );
        }
        self.conversation.session = answer.session_id.clone().filter(|s| !s.is_empty());
        self.conversation.opened = true;
        if self.conversation.speaker.revision() == Revision::R2025_11_25 {
            let note = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            self.post(&note, token).await;
        }
        self.record(Step::ok(
            step_name(name),
            match self.conversation.speaker.revision() {
                Revision::R2025_11_25 => "the server answered initialize with its capabilities",
                Revision::R2026_07_28 => "the server answered server/discover with its versions",
            },
            vec![answer.exchange],
        ))?;
        Ok(None)
    }

    async fn post(&self, body: &serde_json::Value, token: Option<&str>) -> Answer {
        let mut headers = self.conversation.speaker.headers(body);
        if let Some(session) = &self.conversation.session {
            headers.push(("Mcp-Session-Id", session.clone()));
        }
        self.probe
            .post_mcp_with(&self.settings.server, body, token, &headers)
            .await
    }

    /// Calls a tool for the page (signed in first: a 401 stops), listing the tools the first
    /// time.
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<ToolOutcome, Stopped> {
        if self.held.is_none() {
            return Err(Stopped("not signed in: log in first".into()));
        }
        if !self.conversation.opened {
            let listed = self.send("tools/list", serde_json::json!({})).await?;
            self.page_reply(listed)?;
        }
        let params = serde_json::json!({"name": name, "arguments": arguments});
        match self.send("tools/call", params).await? {
            Reply::InsufficientScope(scope) => Ok(ToolOutcome::NeedsScope(scope)),
            reply => self.page_reply(reply).map(ToolOutcome::Result),
        }
    }

    fn page_reply(&mut self, reply: Reply) -> Result<serde_json::Value, Stopped> {
        match reply {
            Reply::Result(v) => Ok(v),
            Reply::Unauthorized(answer) => self.stop(
                "401",
                "the server no longer takes the token: log in again",
                vec![answer.exchange],
            ),
            Reply::InsufficientScope(scope) => Err(Stopped(format!("needs the scope {scope}"))),
        }
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

impl Conversation {
    fn reset(&mut self) {
        self.opened = false;
        self.session = None;
    }

    /// The next request of the conversation.
    fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        self.speaker.request(self.next_id, method, params)
    }
}

impl Session {
    /// A 401, or a 403 `insufficient_scope` (on the timeline), as what the caller does next.
    fn refusal(&mut self, body: &serde_json::Value, answer: &Answer) -> Option<Reply> {
        match answer.exchange.status {
            Some(401) => Some(Reply::Unauthorized(Box::new(answer.clone()))),
            Some(403) => {
                let challenge = answer
                    .exchange
                    .bearer_challenges()
                    .find(|c: &Challenge| c.param("error") == Some("insufficient_scope"))?;
                let scope = challenge.param("scope").unwrap_or_default().to_owned();
                let method = body["method"].as_str().unwrap_or_default();
                let what = body["params"]["name"].as_str().unwrap_or(method);
                self.timeline.push(Step::ok(
                    step_name(method),
                    format!("403 insufficient_scope: {what} needs {scope}"),
                    vec![answer.exchange.clone()],
                ));
                Some(Reply::InsufficientScope(scope))
            }
            _ => None,
        }
    }
}

/// The timeline's name for a request.
fn step_name(method: &str) -> &'static str {
    match method {
        "initialize" => "initialize",
        "server/discover" => "server/discover",
        "tools/list" => "tools/list",
        "tools/call" => "tools/call",
        _ => "request",
    }
}

/// A result in a line: the tools listed, or a tool's text.
fn summary(method: &str, body: &serde_json::Value, result: &serde_json::Value) -> String {
    match method {
        "tools/list" => {
            let names: Vec<&str> = result["tools"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["name"].as_str())
                .collect();
            format!("tools: {}", names.join(", "))
        }
        "tools/call" => format!(
            "{}: {}",
            body["params"]["name"].as_str().unwrap_or_default(),
            one_line(result["content"][0]["text"].as_str().unwrap_or_default())
        ),
        _ => format!("{method}: a result"),
    }
}

/// The URL of the client's metadata document (CIMD): where it was published, or the app's
/// own.
pub fn cimd_url(settings: &ClientSettings) -> Url {
    settings.metadata_url.clone().unwrap_or_else(|| {
        settings
            .base()
            .join(mcp_auth_conformance::client::cimd_host::DOCUMENT_PATH)
            .expect("a path")
    })
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
