//! What a client finds when it discovers the server's authorization, in typed phases and in the
//! spec's order: the challenge, discovery (PRM, AS metadata), registration, the sign-in flows,
//! and the token probes. Each phase records what it saw for the checks to judge.

pub mod challenge;
pub mod discovery;
pub mod flow;
pub mod forged;
pub mod mcp;
pub mod registration;
mod request;
pub mod tokens;

use url::Url;

pub use discovery::{WEB_ORIGIN, as_well_known, prm_well_known};
pub use request::{TESTER_CALLBACK, Unreachable, tester_callback};

use crate::{
    client::{browser::Person, callback::CallbackListener, scope},
    observe::{
        challenge::Challenged,
        discovery::Discovery,
        flow::{FlowContext, FlowObservations},
        mcp::{Detection, Speaker},
        registration::Registrations,
        tokens::{TokenProbes, Tokens},
    },
    probe::Probe,
    revision::Revision,
};

/// What a run asks of the observation: the revision to speak, tokens obtained elsewhere, how to
/// sign in, the scope to ask for, where the tester's client metadata document is published, and a
/// tool to see the step-up with.
#[derive(Debug, Clone, Copy)]
pub struct ObserveOptions<'a> {
    /// The revision to speak; `None` detects what the server speaks.
    pub revision: Option<Revision>,
    /// An access token for the server, obtained elsewhere.
    pub token: Option<&'a str>,
    /// A token of the server's authorization server that has expired.
    pub expired_token: Option<&'a str>,
    /// Where the tester's client metadata document is published, for a server that cannot
    /// fetch from loopback.
    pub cimd_urls: &'a [Url],
    /// How to obtain tokens through the server's own authorization server.
    pub login: &'a flow::Login,
    /// The scope to ask for (default: the challenge's `scope`).
    pub scope: Option<&'a str>,
    /// A tool the requested scope does not allow.
    pub step_up_tool: Option<&'a str>,
}

/// Everything observed, phase by phase.
#[derive(Debug, Clone)]
pub struct Observations {
    /// The MCP endpoint under test.
    pub target: Url,
    /// The revision judged against.
    pub revision: Revision,
    /// Why that revision: asked for, detected (and how), or the current one by default.
    pub revision_basis: String,
    /// The request without a token and its challenge.
    pub challenge: Challenged,
    /// The metadata documents.
    pub discovery: Discovery,
    /// The redirect URI the tester registers and sends.
    pub callback: Url,
    /// Dynamic Client Registration.
    pub registration: Registrations,
    /// The authorization flows, when the AS metadata names both endpoints.
    pub flows: Option<FlowObservations>,
    /// The requests made with tokens.
    pub tokens: TokenProbes,
}

impl Observations {
    /// A field of the authorization server's metadata, when it was found and has the field.
    pub fn as_field(&self, name: &str) -> Option<&serde_json::Value> {
        self.discovery.as_field(name)
    }

    /// Whether a flag of the authorization server's metadata is `true`.
    pub fn as_flag(&self, name: &str) -> bool {
        self.discovery.as_flag(name)
    }

    /// The Bearer challenge of the request without a token.
    pub fn bearer(&self) -> Option<&crate::www_authenticate::Challenge> {
        self.challenge.bearer()
    }
}

/// Discovers as a client does, phase by phase; with a token (given, or obtained by the flows),
/// also what a client with a valid token sees.
pub async fn observe(
    target: &Url,
    probe: &Probe,
    options: &ObserveOptions<'_>,
) -> Result<Observations, Unreachable> {
    // Before a token there is nothing to ask the server which revision it speaks: requests
    // are those of the revision asked for, or of the current one.
    let asked = Speaker::new(options.revision.unwrap_or(Revision::R2026_07_28));
    let challenge = Challenged::observe(probe, target, &asked).await?;
    let discovery = Discovery::observe(probe, target, &challenge).await;
    // An interactive sign-in needs a listener for the answers before anything is registered.
    let person = person(options).await?;
    let callback = person
        .as_ref()
        .map_or_else(tester_callback, |p| p.callback.redirect_uri().clone());
    let registration =
        Registrations::observe(probe, discovery.as_url("registration_endpoint"), &callback).await;
    // Phase four: the sign-in flows, when the AS metadata names both endpoints.
    let context = match (
        discovery.as_url("authorization_endpoint"),
        discovery.as_url("token_endpoint"),
    ) {
        (Some(authorization_endpoint), Some(token_endpoint)) => Some(FlowContext {
            target: target.clone(),
            authorization_endpoint,
            token_endpoint,
            // As a client selects scopes: the challenge's, else the PRM's scopes_supported.
            scope: options.scope.map(str::to_owned).or_else(|| {
                let challenged = challenge.bearer().and_then(|c| c.param("scope"));
                scope::initial(challenged, discovery.prm_json()).parameter()
            }),
            offered_scopes: offered_scopes(&discovery),
            client: registration.client.clone(),
            second_client: registration.second.clone(),
            cimd_supported: discovery.as_flag("client_id_metadata_document_supported"),
            cimd_urls: options.cimd_urls.to_vec(),
            callback: callback.clone(),
            person,
        }),
        _ => None,
    };
    let mut flows = match &context {
        Some(context) => Some(flow::run(context, probe, options.login).await),
        None => None,
    };
    let token = options.token.map(str::to_owned).or_else(|| {
        flows
            .as_ref()
            .and_then(FlowObservations::access_token)
            .map(str::to_owned)
    });
    let (revision, revision_basis) = revision(probe, target, options, token.as_deref()).await;
    let tokens = TokenProbes::observe(
        probe,
        target,
        &Speaker::new(revision),
        Tokens {
            valid: token.as_deref(),
            expired: options.expired_token,
            step_up_tool: options.step_up_tool,
            issuer: discovery.issuer.as_deref(),
            flows: flows.as_ref(),
        },
    )
    .await;
    // Last: refreshing spends the main pair, which everything above judged with.
    if let Some(f) = flows.as_mut() {
        f.spend_refresh_token(probe).await;
    }
    Ok(Observations {
        target: target.clone(),
        revision,
        revision_basis,
        challenge,
        discovery,
        callback,
        registration,
        flows,
        tokens,
    })
}

/// The scopes the metadata names: the AS's `scopes_supported`, then the PRM's, each once.
fn offered_scopes(discovery: &Discovery) -> Vec<String> {
    let listed = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let mut scopes = listed(discovery.as_field("scopes_supported"));
    for s in listed(discovery.prm_json().and_then(|p| p.get("scopes_supported"))) {
        if !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    scopes
}

/// The person of an interactive sign-in, with a listener for their answers.
async fn person(options: &ObserveOptions<'_>) -> Result<Option<Person>, Unreachable> {
    let flow::Login::Interactive(i) = options.login else {
        return Ok(None);
    };
    Ok(Some(Person {
        callback: CallbackListener::start().await.map_err(|e| Unreachable {
            url: "http://127.0.0.1".into(),
            reason: format!("could not listen on loopback for the sign-in's answers: {e}"),
        })?,
        open: i.open.clone(),
        patience: i.patience,
    }))
}

/// The revision to judge against, and why: asked for, or detected with the token.
async fn revision(
    probe: &Probe,
    target: &Url,
    options: &ObserveOptions<'_>,
    token: Option<&str>,
) -> (Revision, String) {
    if let Some(r) = options.revision {
        return (r, "as asked".to_owned());
    }
    let Some(token) = token else {
        return (
            Revision::R2026_07_28,
            "not detected (no token to ask the server with); the current revision".to_owned(),
        );
    };
    match mcp::detect(probe, target, token).await {
        Detection {
            revision: Some(r),
            basis,
        } => (r, format!("detected: {basis}")),
        Detection { basis, .. } => (
            Revision::R2026_07_28,
            format!("not detected ({basis}); the current revision"),
        ),
    }
}
