//! What a client finds when it discovers the server's authorization, in the spec's order,
//! recorded for the checks to judge.

pub mod flow;
pub mod mcp;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use url::Url;

use crate::{
    catalogue::Revision,
    client::{
        browser::Person,
        callback::CallbackListener,
        registration::{self, ClientMetadata},
        token::unverified_claims,
    },
    observe::{
        flow::{FlowClient, FlowContext, FlowObservations},
        mcp::{Conversation, Detection, Speaker},
    },
    probe::{Exchange, Probe},
    run::RunOptions,
    www_authenticate::{self, Challenge},
};

/// How the Protected Resource Metadata was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The challenge's `resource_metadata`.
    Challenge,
    /// The well-known URI with the MCP endpoint's path inserted.
    PathInserted,
    /// The well-known URI at the root.
    Root,
}

impl Via {
    /// For messages.
    pub fn describe(self) -> &'static str {
        match self {
            Via::Challenge => "the challenge's resource_metadata",
            Via::PathInserted => "the path-inserted well-known URI",
            Via::Root => "the root well-known URI",
        }
    }
}

/// A document that answered 200.
#[derive(Debug, Clone)]
pub struct Found {
    /// Index of its exchange in the attempts.
    pub exchange: usize,
    /// The URL it was fetched from.
    pub url: Url,
    /// Its body as a JSON object, if it is one.
    pub json: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Everything observed.
#[derive(Debug, Clone)]
pub struct Observations {
    /// The MCP endpoint under test.
    pub target: Url,
    /// The request without a token.
    pub unauthenticated: Exchange,
    /// Its challenges, or why they could not be read.
    pub challenges: Result<Vec<Challenge>, String>,
    /// Requests for Protected Resource Metadata, in order.
    pub prm_attempts: Vec<Exchange>,
    /// The PRM document and how it was found.
    pub prm: Option<(Found, Via)>,
    /// The issuer the PRM names first.
    pub issuer: Option<String>,
    /// Requests for authorization server metadata, in order.
    pub as_attempts: Vec<Exchange>,
    /// The authorization server's metadata.
    pub as_metadata: Option<Found>,
    /// The redirect URI the tester registers and sends.
    pub callback: Url,
    /// A valid Dynamic Client Registration, and its answer as JSON (when DCR is advertised).
    pub registration: Option<(Exchange, Option<serde_json::Value>)>,
    /// A registration with an insecure redirect URI, which must be refused.
    pub insecure_registration: Option<(Exchange, Option<serde_json::Value>)>,
    /// The revision judged against.
    pub revision: Revision,
    /// Why that revision: asked for, detected (and how), or the current one by default.
    pub revision_basis: String,
    /// With the token: the opening request (`initialize` or `server/discover`) and
    /// `tools/list`, and whether each answered with a JSON-RPC result.
    pub with_token: Option<Vec<(Exchange, bool)>>,
    /// The authorization flows, when the AS metadata names both endpoints.
    pub flows: Option<FlowObservations>,
    /// `tools/call` of the step-up tool (`--step-up-tool`) with the token.
    pub step_up: Option<Exchange>,
    /// The same token in the query string, without the header.
    pub query_token: Option<Exchange>,
    /// An MCP request with a bearer token that is not a token at all.
    pub garbage_token: Option<Exchange>,
    /// An MCP request with an unsigned (`alg: none`) JWT naming the right issuer and audience.
    pub unsigned_token: Option<Exchange>,
    /// An MCP request with the expired token given to the run.
    pub expired_token: Option<ExpiredToken>,
    /// The PRM and AS metadata fetched again from a web page's origin ([`WEB_ORIGIN`]).
    pub cross_origin: Vec<Exchange>,
}

/// The origin the tester fetches metadata from, as a browser-based client would.
pub const WEB_ORIGIN: &str = "https://mcp-client.example";

impl Observations {
    /// Every MCP request that carried a token, for the checks that look at all of them.
    pub fn token_requests(&self) -> Vec<&Exchange> {
        let mut all: Vec<&Exchange> = Vec::new();
        all.extend(self.with_token.iter().flatten().map(|(e, _)| e));
        all.extend(self.step_up.iter());
        all.extend(self.query_token.iter());
        all.extend(self.garbage_token.iter());
        all.extend(self.unsigned_token.iter());
        all.extend(self.expired_token.iter().map(|t| &t.exchange));
        all.extend(
            self.flows
                .iter()
                .filter_map(|f| f.foreign.as_ref())
                .filter_map(|(_, used)| used.as_ref()),
        );
        all
    }
}

/// The request made with a token given as expired.
#[derive(Debug, Clone)]
pub struct ExpiredToken {
    /// The request.
    pub exchange: Exchange,
    /// Seconds since its `exp` claim (negative: not expired yet); `None` for an opaque token.
    pub expired_for: Option<i64>,
}

/// The server could not be reached at all.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct Unreachable {
    /// The URL.
    pub url: String,
    /// Why.
    pub reason: String,
}

impl Observations {
    /// A field of the authorization server's metadata, when it was found and has the field.
    pub fn as_field(&self, name: &str) -> Option<&serde_json::Value> {
        self.as_metadata.as_ref()?.json.as_ref()?.get(name)
    }

    /// A URL field of the authorization server's metadata, when present and a URL.
    pub fn as_url(&self, name: &str) -> Option<Url> {
        self.as_field(name)
            .and_then(|v| v.as_str())
            .and_then(|s| Url::parse(s).ok())
    }

    /// Whether a flag of the authorization server's metadata is `true`.
    pub fn as_flag(&self, name: &str) -> bool {
        self.as_field(name).and_then(|v| v.as_bool()) == Some(true)
    }

    /// The Bearer challenge, if there is exactly the kind of header a client needs.
    pub fn bearer(&self) -> Option<&Challenge> {
        self.challenges
            .as_ref()
            .ok()?
            .iter()
            .find(|c| c.is_scheme("Bearer"))
    }
}

/// Discovers as a client does: an MCP request without a token, then PRM, then AS metadata,
/// registration and the authorization flows; with a token (given, or obtained by the flows),
/// also what a client with a valid token sees.
pub async fn observe(
    target: &Url,
    probe: &Probe,
    options: &RunOptions,
) -> Result<Observations, Unreachable> {
    // Before a token there is nothing to ask the server which revision it speaks: requests
    // are those of the revision asked for, or of the current one.
    let asked = Speaker::new(options.revision.unwrap_or(Revision::R2026_07_28));
    let unauthenticated = send(probe, target, None, &asked).await.exchange;
    if let Some(reason) = &unauthenticated.error {
        return Err(Unreachable {
            url: target.to_string(),
            reason: reason.clone(),
        });
    }
    let challenges = if unauthenticated.www_authenticate.is_empty() {
        Err("no WWW-Authenticate header".to_owned())
    } else {
        www_authenticate::parse_all(unauthenticated.www_authenticate.iter().map(String::as_str))
            .map_err(|e| e.to_string())
    };
    let mut obs = Observations {
        target: target.clone(),
        unauthenticated,
        challenges,
        revision: asked.revision(),
        revision_basis: String::new(),
        prm_attempts: Vec::new(),
        prm: None,
        issuer: None,
        as_attempts: Vec::new(),
        as_metadata: None,
        callback: tester_callback(),
        registration: None,
        insecure_registration: None,
        with_token: None,
        flows: None,
        step_up: None,
        query_token: None,
        garbage_token: None,
        unsigned_token: None,
        expired_token: None,
        cross_origin: Vec::new(),
    };

    // Clients use the challenge's URL when there is one, and the well-known URIs otherwise.
    let advertised = obs
        .bearer()
        .and_then(|c| c.param("resource_metadata"))
        .and_then(|u| Url::parse(u).ok());
    let candidates: Vec<(Url, Via)> = match advertised {
        Some(url) => vec![(url, Via::Challenge)],
        None => prm_well_known(target),
    };
    for (url, via) in candidates {
        let answer = probe.get(&url).await;
        obs.prm_attempts.push(answer.exchange.clone());
        if answer.exchange.status == Some(200) {
            let json = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|v| v.as_object().cloned());
            obs.prm = Some((
                Found {
                    exchange: obs.prm_attempts.len() - 1,
                    url,
                    json,
                },
                via,
            ));
            break;
        }
    }

    obs.issuer = obs
        .prm
        .as_ref()
        .and_then(|(f, _)| f.json.as_ref())
        .and_then(|j| j.get("authorization_servers"))
        .and_then(|a| a.as_array())
        .and_then(|a| a.first())
        .and_then(|i| i.as_str())
        .map(str::to_owned);
    if let Some(issuer) = obs.issuer.clone() {
        for url in as_well_known(&issuer) {
            let answer = probe.get(&url).await;
            obs.as_attempts.push(answer.exchange.clone());
            if answer.exchange.status == Some(200) {
                let json = serde_json::from_slice::<serde_json::Value>(&answer.body)
                    .ok()
                    .and_then(|v| v.as_object().cloned());
                if json.is_some() {
                    obs.as_metadata = Some(Found {
                        exchange: obs.as_attempts.len() - 1,
                        url,
                        json,
                    });
                    break;
                }
            }
        }
    }
    let documents = obs
        .prm
        .iter()
        .map(|(f, _)| f.url.clone())
        .chain(obs.as_metadata.iter().map(|f| f.url.clone()));
    for url in documents.collect::<Vec<_>>() {
        obs.cross_origin
            .push(probe.get_from(&url, WEB_ORIGIN).await.exchange);
    }
    // Dynamic Client Registration, when advertised: this registers a client on the server.
    let registration_endpoint = obs.as_url("registration_endpoint");
    // An interactive sign-in needs a listener for the answers before anything is registered.
    let person = match &options.login {
        flow::Login::Interactive(i) => Some(Person {
            callback: CallbackListener::start().await.map_err(|e| Unreachable {
                url: "http://127.0.0.1".into(),
                reason: format!("could not listen on loopback for the sign-in's answers: {e}"),
            })?,
            open: i.open.clone(),
            patience: i.patience,
        }),
        _ => None,
    };
    if let Some(p) = &person {
        obs.callback = p.callback.redirect_uri().clone();
    }
    let callback = obs.callback.clone();
    let mut dcr_client = None;
    if let Some(endpoint) = registration_endpoint {
        let metadata = |redirect: &Url| ClientMetadata {
            client_name: "mcp-auth-conformance".into(),
            redirect_uris: vec![redirect.clone()],
            token_endpoint_auth_method: "none".into(),
            scope: None,
        };
        let (answer, registered) =
            registration::register(probe, &endpoint, &metadata(&callback)).await;
        obs.registration = Some((answer.exchange, serde_json::from_slice(&answer.body).ok()));
        dcr_client = registered.map(|r| FlowClient {
            auth: r.auth,
            redirect_uri: callback.clone(),
            origin: "a client registered by DCR",
        });
        let insecure = Url::parse("http://client.example.com/callback").expect("a static URL");
        let (answer, _) = registration::register(probe, &endpoint, &metadata(&insecure)).await;
        obs.insecure_registration =
            Some((answer.exchange, serde_json::from_slice(&answer.body).ok()));
    }

    if let (Some(authorization_endpoint), Some(token_endpoint)) = (
        obs.as_url("authorization_endpoint"),
        obs.as_url("token_endpoint"),
    ) {
        let cimd_supported = obs.as_flag("client_id_metadata_document_supported");
        let scope = options.scope.clone().or_else(|| {
            obs.bearer()
                .and_then(|c| c.param("scope"))
                .map(str::to_owned)
        });
        let context = FlowContext {
            target: target.clone(),
            authorization_endpoint,
            token_endpoint,
            scope,
            client: dcr_client,
            cimd_supported,
            cimd_urls: options.cimd_urls.clone(),
            callback: obs.callback.clone(),
            person,
        };
        obs.flows = Some(flow::run(&context, probe, &options.login).await);
    }
    let token = options
        .token
        .as_deref()
        .or_else(|| obs.flows.as_ref().and_then(FlowObservations::access_token));
    let token = token.map(str::to_owned);
    let token = token.as_deref();

    let detection = match (options.revision, token) {
        (None, Some(token)) => Some(mcp::detect(probe, target, token).await),
        _ => None,
    };
    (obs.revision, obs.revision_basis) = match (options.revision, &detection) {
        (Some(r), _) => (r, "as asked".to_owned()),
        (
            None,
            Some(Detection {
                revision: Some(r),
                basis,
                ..
            }),
        ) => (*r, format!("detected: {basis}")),
        (None, Some(Detection { basis, .. })) => (
            Revision::R2026_07_28,
            format!("not detected ({basis}); the current revision"),
        ),
        (None, None) => (
            Revision::R2026_07_28,
            "not detected (no token to ask the server with); the current revision".to_owned(),
        ),
    };
    let speaker = Speaker::new(obs.revision);

    if let Some(token) = token {
        let mut conversation =
            Conversation::open(probe, target, Some(token), speaker.clone()).await;
        let listed = conversation
            .request("tools/list", serde_json::json!({}))
            .await;
        obs.with_token = Some(vec![
            (
                conversation.opened.exchange.clone(),
                conversation.opened_ok(),
            ),
            (
                listed.exchange.clone(),
                crate::probe::rpc_response(&listed).is_some_and(|r| r.get("result").is_some()),
            ),
        ]);
        if let Some(tool) = &options.step_up_tool {
            obs.step_up = Some(flow::call_tool(target, probe, token, tool, &speaker).await);
        }
        let mut in_query = target.clone();
        in_query
            .query_pairs_mut()
            .append_pair("access_token", token);
        obs.query_token = Some(send(probe, &in_query, None, &speaker).await.exchange);
    }
    // Whatever token the authorization server issued for another resource, tried here.
    if let Some(flows) = obs.flows.as_mut()
        && let Some((attempt, used)) = flows.foreign.as_mut()
        && let Some(tokens) = attempt.token.as_ref().and_then(|t| t.tokens.as_ref())
    {
        *used = Some(
            send(probe, target, Some(&tokens.access_token), &speaker)
                .await
                .exchange,
        );
    }

    // Tokens that no server may accept: nothing here needs a real sign-in.
    obs.garbage_token = Some(
        send(probe, target, Some("not-a-valid-token"), &speaker)
            .await
            .exchange,
    );
    let unsigned = unsigned_jwt(
        obs.issuer.as_deref().unwrap_or(target.as_str()),
        target.as_str(),
    );
    obs.unsigned_token = Some(
        send(probe, target, Some(&unsigned), &speaker)
            .await
            .exchange,
    );
    if let Some(expired) = &options.expired_token {
        let exp = unverified_claims(expired).and_then(|c| c["exp"].as_i64());
        obs.expired_token = Some(ExpiredToken {
            exchange: send(probe, target, Some(expired), &speaker).await.exchange,
            expired_for: exp.map(|exp| unix_now() - exp),
        });
    }
    Ok(obs)
}

/// The opening request of `speaker`'s revision, alone (no session follows).
async fn send(
    probe: &Probe,
    target: &Url,
    token: Option<&str>,
    speaker: &Speaker,
) -> crate::probe::Answer {
    let body = speaker.opening();
    probe
        .post_mcp_with(target, &body, token, &speaker.headers(&body))
        .await
}

/// The redirect URI the tester registers: loopback, where any port matches (RFC 8252 §7.3).
/// The tester never listens there: it reads the response from the redirect itself.
pub const TESTER_CALLBACK: &str = "http://127.0.0.1/callback";

/// [`TESTER_CALLBACK`] as a URL.
pub fn tester_callback() -> Url {
    Url::parse(TESTER_CALLBACK).expect("a static URL")
}

/// A JWT with `alg: none`, claims a lax server might accept: the issuer, this resource as
/// audience, a future expiry.
fn unsigned_jwt(issuer: &str, resource: &str) -> String {
    let now = unix_now();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
        b64(
            serde_json::json!({"iss": issuer, "aud": resource, "sub": "mcp-auth-conformance", "token_use": "access", "iat": now, "exp": now + 300})
        )
    )
}

/// Seconds since the Unix epoch.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// RFC 9728 section 3.1 and the MCP order: path-inserted (when there is a path), then root.
pub fn prm_well_known(target: &Url) -> Vec<(Url, Via)> {
    let path = target.path().trim_end_matches('/');
    let at = |p: &str| {
        let mut u = target.clone();
        u.set_path(p);
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    let mut out = Vec::new();
    if !path.is_empty() {
        out.push((
            at(&format!("/.well-known/oauth-protected-resource{path}")),
            Via::PathInserted,
        ));
    }
    out.push((at("/.well-known/oauth-protected-resource"), Via::Root));
    out
}

/// The MCP order of authorization server metadata locations for an issuer.
pub fn as_well_known(issuer: &str) -> Vec<Url> {
    let Ok(url) = Url::parse(issuer) else {
        return Vec::new();
    };
    let path = url.path().trim_end_matches('/').to_owned();
    let at = |p: String| {
        let mut u = url.clone();
        u.set_path(&p);
        u.set_query(None);
        u
    };
    if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_orders() {
        let t = Url::parse("https://example.com/public/mcp").unwrap();
        let prm: Vec<String> = prm_well_known(&t)
            .into_iter()
            .map(|(u, _)| u.to_string())
            .collect();
        assert_eq!(
            prm,
            [
                "https://example.com/.well-known/oauth-protected-resource/public/mcp",
                "https://example.com/.well-known/oauth-protected-resource"
            ]
        );
        let root: Vec<String> = prm_well_known(&Url::parse("https://example.com").unwrap())
            .into_iter()
            .map(|(u, _)| u.to_string())
            .collect();
        assert_eq!(
            root,
            ["https://example.com/.well-known/oauth-protected-resource"]
        );
        let with_path: Vec<String> = as_well_known("https://auth.example.com/tenant1")
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            with_path,
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
    }
}
