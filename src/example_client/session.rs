//! One user's session with the MCP server: discovery from the 401, registration, authorization
//! with PKCE, `state`, `resource` and `iss` checked, the token exchange, MCP calls, refresh when
//! the token expires, and the 403 step-up. Every step lands on the timeline; tokens stay in
//! memory.

use std::time::{Duration, Instant};

use mcp_auth_conformance::{
    catalogue::Revision,
    client::{
        authorization::{AuthorizationRequest, AuthorizationResponse, Pkce},
        pkce::{Verifier, random_string},
        registration::{self, ClientMetadata},
        token::{self, ClientAuth, Tokens},
    },
    observe::{as_well_known, mcp::Speaker, prm_well_known},
    probe::{Answer, Exchange, Probe, rpc_response},
};
use url::Url;

use super::{
    settings::{ClientSettings, Registration},
    timeline::{Step, claims},
};

/// What discovery found.
#[derive(Debug, Clone)]
struct Discovered {
    /// The canonical resource (PRM `resource`).
    resource: String,
    /// The AS's issuer, from its validated metadata.
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    registration_endpoint: Option<Url>,
    iss_supported: bool,
    /// The scope the 401 named.
    scope: Option<String>,
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

/// Why an action stopped (its step is on the timeline, in red).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Stopped(pub String);

/// A tool call's outcome.
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
    client: Option<ClientAuth>,
    pending: Option<Pending>,
    held: Option<Held>,
    mcp_session: Option<String>,
}

impl Session {
    /// A session that has done nothing yet.
    pub fn new(settings: ClientSettings) -> Self {
        let probe = Probe::new(&settings.server);
        Self {
            settings,
            probe,
            timeline: Vec::new(),
            discovered: None,
            client: None,
            pending: None,
            held: None,
            mcp_session: None,
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

    /// Starts a sign-in: discovers (once), registers (once), and returns the authorization URL
    /// to send the browser to. `extra_scope` widens the request (the step-up).
    pub async fn begin_login(&mut self, extra_scope: Option<&str>) -> Result<Url, Stopped> {
        if self.discovered.is_none() {
            self.discover().await?;
        }
        let d = self.discovered.clone().expect("discovered");
        if self.client.is_none() {
            self.register(&d).await?;
        }
        let client = self.client.clone().expect("registered");
        let verifier = Verifier::generate();
        let state = random_string(16);
        let (endpoint, issuer, iss_supported, token_endpoint, base_scope) =
            match &self.settings.static_client {
                // A pre-registered client goes straight to its own AS, with its own scopes.
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
                    d.iss_supported,
                    d.token_endpoint.clone(),
                    d.scope.clone(),
                ),
            };
        // A pre-registered client already asks for every scope it may have, in its AS's names.
        let scope = if self.settings.static_client.is_some() {
            base_scope
        } else {
            join_scopes(base_scope.as_deref(), extra_scope)
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

    async fn discover(&mut self) -> Result<(), Stopped> {
        let target = self.settings.server.clone();
        let init = initialize();
        let answer = self.probe.post_mcp(&target, &init).await;
        let challenge = answer.exchange.bearer_challenges().next();
        let Some(challenge) = challenge.filter(|_| answer.exchange.status == Some(401)) else {
            return self.stop(
                "401",
                format!(
                    "expected 401 with a Bearer challenge, got {}",
                    status(&answer)
                ),
                vec![answer.exchange],
            );
        };
        let scope = challenge.param("scope").map(str::to_owned);
        let prm_url = challenge
            .param("resource_metadata")
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| {
                let (first, _) = prm_well_known(&target).swap_remove(0);
                first
            });
        self.record(Step::ok(
            "401",
            format!(
                "the server wants a token; resource_metadata and scope {} from WWW-Authenticate",
                scope.as_deref().unwrap_or("(none)")
            ),
            vec![answer.exchange],
        ))?;

        let answer = self.probe.get(&prm_url).await;
        let prm: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let resource = prm["resource"].as_str().map(str::to_owned);
        let issuer = prm["authorization_servers"][0].as_str().map(str::to_owned);
        let (Some(resource), Some(prm_issuer)) = (resource, issuer) else {
            return self.stop(
                "PRM",
                "no resource or authorization_servers in the Protected Resource Metadata",
                vec![answer.exchange],
            );
        };
        self.record(Step::ok(
            "PRM",
            format!("resource {resource}, authorization server {prm_issuer}"),
            vec![answer.exchange],
        ))?;

        let mut tried = Vec::new();
        let mut metadata = None;
        for url in as_well_known(&prm_issuer) {
            let answer = self.probe.get(&url).await;
            tried.push(answer.exchange.clone());
            if answer.exchange.status == Some(200)
                && let Ok(json) = serde_json::from_slice::<serde_json::Value>(&answer.body)
            {
                metadata = Some(json);
                break;
            }
        }
        let Some(m) = metadata else {
            return self.stop(
                "AS metadata",
                "no authorization server metadata at any well-known location",
                tried,
            );
        };
        let url = |k: &str| m[k].as_str().and_then(|s| Url::parse(s).ok());
        let s256 = m["code_challenge_methods_supported"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "S256"));
        let problem = if m["issuer"].as_str() != Some(prm_issuer.as_str()) {
            Some("the metadata's issuer is not the one the PRM names".to_owned())
        } else if !s256 {
            Some(
                "no S256 in code_challenge_methods_supported: a client must refuse to go on".into(),
            )
        } else if url("authorization_endpoint").is_none() || url("token_endpoint").is_none() {
            Some("no authorization_endpoint or token_endpoint".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            return self.stop("AS metadata", problem, tried);
        }
        let d = Discovered {
            resource,
            issuer: prm_issuer,
            authorization_endpoint: url("authorization_endpoint").expect("checked"),
            token_endpoint: url("token_endpoint").expect("checked"),
            registration_endpoint: url("registration_endpoint"),
            iss_supported: m["authorization_response_iss_parameter_supported"] == true,
            scope,
        };
        let summary = format!(
            "issuer {} (recorded for the iss check), S256, {}",
            d.issuer,
            match (
                &d.registration_endpoint,
                m["client_id_metadata_document_supported"] == true
            ) {
                (Some(_), true) => "DCR and CIMD offered",
                (Some(_), false) => "DCR offered",
                (None, true) => "CIMD offered",
                (None, false) => "no registration offered",
            }
        );
        self.discovered = Some(d);
        self.record(Step::ok("AS metadata", summary, tried))
    }

    async fn register(&mut self, d: &Discovered) -> Result<(), Stopped> {
        match self.settings.registration {
            Registration::Static => {
                let s = self
                    .settings
                    .static_client
                    .clone()
                    .expect("static settings");
                self.client = Some(ClientAuth::Basic {
                    id: s.client_id.clone(),
                    secret: s.client_secret,
                });
                self.record(Step::ok(
                    "registration",
                    format!(
                        "pre-registered client {} (from {}), at its own AS {}",
                        s.client_id, self.settings.source, s.issuer
                    ),
                    Vec::new(),
                ))
            }
            Registration::Dcr => {
                let Some(endpoint) = d.registration_endpoint.clone() else {
                    return self.stop(
                        "registration",
                        "the AS advertises no registration_endpoint",
                        Vec::new(),
                    );
                };
                let metadata = ClientMetadata {
                    client_name: "mcp-auth-kit example (DCR)".into(),
                    redirect_uris: vec![self.settings.redirect_uri()],
                    token_endpoint_auth_method: "none".into(),
                    scope: None,
                };
                let (answer, registered) =
                    registration::register(&self.probe, &endpoint, &metadata).await;
                match registered {
                    Some(r) => {
                        let summary = format!(
                            "registered as {} (kept for this session)",
                            r.auth.client_id()
                        );
                        self.client = Some(r.auth);
                        self.record(Step::ok("registration", summary, vec![answer.exchange]))
                    }
                    None => self.stop(
                        "registration",
                        format!("the registration was refused: {}", status(&answer)),
                        vec![answer.exchange],
                    ),
                }
            }
            Registration::Cimd => {
                let client_id = cimd_url(&self.settings);
                self.client = Some(ClientAuth::Public(client_id.to_string()));
                self.record(Step::ok(
                    "registration",
                    format!(
                        "none: the client_id is the URL of this app's metadata document, {client_id}"
                    ),
                    Vec::new(),
                ))
            }
        }
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
        let client = self.client.clone().expect("registered");
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
        match answer.tokens {
            Some(tokens) => {
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
                self.mcp_session = None;
                self.record(step)
            }
            None => self.stop(
                "token",
                format!(
                    "the token endpoint refused the code: error={}",
                    answer.error.as_deref().unwrap_or("none")
                ),
                vec![answer.exchange],
            ),
        }
    }

    /// Refreshes the access token when it has expired (or will within 30 s).
    async fn fresh_token(&mut self) -> Result<String, Stopped> {
        let Some(held) = &self.held else {
            return Err(Stopped("not signed in: log in first".into()));
        };
        let expired = held.tokens.expires_in.is_some_and(|s| {
            held.obtained.elapsed() + Duration::from_secs(30) >= Duration::from_secs(s)
        });
        if !expired {
            return Ok(held.tokens.access_token.clone());
        }
        let Some(refresh_token) = held.tokens.refresh_token.clone() else {
            self.held = None;
            return self.stop(
                "refresh",
                "the access token expired and there is no refresh token: log in again",
                Vec::new(),
            );
        };
        let endpoint = held.token_endpoint.clone();
        let client = self.client.clone().expect("registered");
        let resource = self.discovered.as_ref().map(|d| d.resource.clone());
        let answer = token::refresh(
            &self.probe,
            &endpoint,
            &client,
            &refresh_token,
            resource.as_deref(),
        )
        .await;
        match answer.tokens {
            Some(mut tokens) => {
                // An AS that does not rotate keeps the old refresh token valid.
                tokens.refresh_token.get_or_insert(refresh_token);
                let access = tokens.access_token.clone();
                self.held = Some(Held {
                    tokens,
                    obtained: Instant::now(),
                    token_endpoint: endpoint,
                });
                self.record(Step::ok(
                    "refresh",
                    "the access token had expired: a new one from the refresh token",
                    vec![answer.exchange],
                ))?;
                Ok(access)
            }
            None => {
                self.held = None;
                self.stop(
                    "refresh",
                    "the refresh token was refused: log in again",
                    vec![answer.exchange],
                )
            }
        }
    }

    /// Calls a tool (after `initialize` and `tools/list` the first time).
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<ToolOutcome, Stopped> {
        let token = self.fresh_token().await?;
        let target = self.settings.server.clone();
        if self.mcp_session.is_none() {
            let init = self
                .probe
                .post_mcp_with(&target, &initialize(), Some(&token), &[])
                .await;
            let ok = rpc_response(&init).is_some_and(|r| r.get("result").is_some());
            if !ok {
                return self.stop(
                    "initialize",
                    format!("no result: {}", status(&init)),
                    vec![init.exchange],
                );
            }
            self.mcp_session = Some(init.session_id.clone().unwrap_or_default());
            let headers = self.session_headers();
            let note = serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
            self.probe
                .post_mcp_with(&target, &note, Some(&token), &headers)
                .await;
            self.record(Step::ok(
                "initialize",
                "the server answered initialize with its capabilities",
                vec![init.exchange],
            ))?;
            let list = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
            let listed = self
                .probe
                .post_mcp_with(&target, &list, Some(&token), &headers)
                .await;
            let names: Vec<String> = rpc_response(&listed)
                .and_then(|r| r["result"]["tools"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect();
            self.record(Step {
                ok: !names.is_empty(),
                ..Step::ok(
                    "tools/list",
                    format!("tools: {}", names.join(", ")),
                    vec![listed.exchange],
                )
            })?;
        }
        let call = serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name, "arguments": arguments}});
        let headers = self.session_headers();
        let answer = self
            .probe
            .post_mcp_with(&target, &call, Some(&token), &headers)
            .await;
        if answer.exchange.status == Some(403) {
            let needed = answer
                .exchange
                .bearer_challenges()
                .find(|c| c.param("error") == Some("insufficient_scope"))
                .and_then(|c| c.param("scope").map(str::to_owned));
            if let Some(scope) = needed {
                self.timeline.push(Step::ok(
                    "tools/call",
                    format!(
                        "403 insufficient_scope: {name} needs {scope}; sign in again asking for it"
                    ),
                    vec![answer.exchange],
                ));
                return Ok(ToolOutcome::NeedsScope(scope));
            }
        }
        match rpc_response(&answer).and_then(|r| r.get("result").cloned()) {
            Some(result) => {
                let text = result["content"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                self.record(Step::ok(
                    "tools/call",
                    format!("{name}: {}", one_line(&text)),
                    vec![answer.exchange],
                ))?;
                Ok(ToolOutcome::Result(result))
            }
            None => self.stop(
                "tools/call",
                format!("{name} did not answer with a result: {}", status(&answer)),
                vec![answer.exchange],
            ),
        }
    }

    fn session_headers(&self) -> Vec<(&'static str, String)> {
        self.mcp_session
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| ("Mcp-Session-Id", s.clone()))
            .collect()
    }

    /// Forgets the tokens and the MCP session (the registration stays, as a client keeps it).
    pub fn logout(&mut self) {
        self.held = None;
        self.mcp_session = None;
        self.pending = None;
        self.timeline.push(Step::ok(
            "log out",
            "tokens forgotten (they were only in memory)",
            Vec::new(),
        ));
    }
}

/// The URL of the app's own client metadata document (CIMD mode).
pub fn cimd_url(settings: &ClientSettings) -> Url {
    settings
        .base()
        .join(mcp_auth_conformance::client::cimd_host::DOCUMENT_PATH)
        .expect("a path")
}

fn join_scopes(base: Option<&str>, extra: Option<&str>) -> Option<String> {
    let mut scopes: Vec<&str> = base.unwrap_or_default().split_whitespace().collect();
    for s in extra.unwrap_or_default().split_whitespace() {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    (!scopes.is_empty()).then(|| scopes.join(" "))
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

fn initialize() -> serde_json::Value {
    Speaker::as_client(
        Revision::R2025_11_25,
        "mcp-auth-kit example client",
        env!("CARGO_PKG_VERSION"),
    )
    .opening()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_widen_without_duplicates() {
        assert_eq!(
            join_scopes(Some("mcp:read"), Some("mcp:write")).as_deref(),
            Some("mcp:read mcp:write")
        );
        assert_eq!(
            join_scopes(Some("mcp:read"), Some("mcp:read")).as_deref(),
            Some("mcp:read")
        );
        assert_eq!(join_scopes(None, None), None);
    }
}
