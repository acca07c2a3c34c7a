//! The authorization flow, run the way a client runs it and, once each, the ways a client must
//! not get through: without PKCE, with `plain`, with a wrong verifier, for another resource,
//! replaying a rotated refresh token, and with client metadata documents that lie.

use url::Url;

use crate::{
    client::{
        authorization::{AuthorizationRequest, Pkce},
        browser::{Browser, Credentials, Navigation, Opener, Person},
        cimd_host::CimdHost,
        pkce::{Verifier, random_string},
        token::{self, ClientAuth, TokenAnswer},
    },
    observe::{
        mcp::{Conversation, Speaker},
        request::tester_callback,
    },
    probe::{Exchange, Probe},
};

/// The resource no MCP server under test is: tokens for it must not work on the target.
pub const FOREIGN_RESOURCE: &str = "https://mcp.other.example/mcp";

/// How the tester may obtain tokens.
#[derive(Debug, Clone, Default)]
pub enum Login {
    /// Only what needs no sign-in: flow steps that stop at a sign-in form skip.
    #[default]
    None,
    /// Sign in through the AS's HTML forms with these credentials, approving consent.
    Form(Credentials),
    /// The client credentials grant with this client (no authorization flows).
    ClientCredentials(ClientAuth),
    /// A person signs in in their own browser; answers come back to a loopback listener.
    Interactive(Interactive),
}

/// How to reach the person of an interactive sign-in.
#[derive(Clone)]
pub struct Interactive {
    /// Shows them a sign-in page.
    pub open: Opener,
    /// How long to wait for each answer.
    pub patience: std::time::Duration,
}

impl std::fmt::Debug for Interactive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Interactive(patience: {:?})", self.patience)
    }
}

/// The client the flows run as, and where its responses go.
#[derive(Debug, Clone)]
pub struct FlowClient {
    /// How it authenticates at the token endpoint.
    pub auth: ClientAuth,
    /// Its redirect URI.
    pub redirect_uri: Url,
    /// How it came to be (for reasons): "registered by DCR", say.
    pub origin: &'static str,
}

/// What the AS needs from the observations so far.
#[derive(Debug, Clone)]
pub struct FlowContext {
    /// The MCP endpoint (the RFC 8707 resource).
    pub target: Url,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Url,
    /// `token_endpoint`.
    pub token_endpoint: Url,
    /// The scope to ask for.
    pub scope: Option<String>,
    /// The scopes the metadata names (the AS's `scopes_supported`, then the PRM's): where a
    /// scope the flows were not granted is found, to ask a refresh for it.
    pub offered_scopes: Vec<String>,
    /// The client, if there is one.
    pub client: Option<FlowClient>,
    /// Another client, to present the first one's code.
    pub second_client: Option<FlowClient>,
    /// Whether the metadata says CIMD is supported.
    pub cimd_supported: bool,
    /// Published client metadata documents (the tester's own, then maybe a copy elsewhere).
    pub cimd_urls: Vec<Url>,
    /// The redirect URI the tester uses (the listener's, for an interactive run).
    pub callback: Url,
    /// The person signing in, for an interactive run.
    pub person: Option<Person>,
}

/// One authorization attempt and, when a code came, what the token endpoint said.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The request's `state`.
    pub state: String,
    /// The navigation.
    pub navigation: Navigation,
    /// The token exchange, when there was a code.
    pub token: Option<TokenAnswer>,
}

/// Everything the flows showed.
#[derive(Debug, Clone)]
pub struct FlowObservations {
    /// Why no flow ran, when none did.
    pub unavailable: Option<String>,
    /// Who the flows ran as.
    pub client_origin: Option<&'static str>,
    /// Authorization without `code_challenge`.
    pub no_pkce: Option<Attempt>,
    /// Authorization with `code_challenge_method=plain`.
    pub plain_pkce: Option<Attempt>,
    /// The flow done right: S256, `state`, `resource`; its token exchange.
    pub main: Option<Attempt>,
    /// A code exchanged with a verifier that is not the one challenged.
    pub wrong_verifier: Option<Attempt>,
    /// A code exchanged with its S256 challenge itself as the verifier.
    pub challenge_as_verifier: Option<Attempt>,
    /// A pair of its own, its refresh token presented by another client; or why there was no
    /// other client.
    pub refresh_by_other_client: Option<Result<(Attempt, Option<TokenAnswer>), String>>,
    /// A pair of its own, refreshed asking for its granted scope and one more: the scope
    /// asked, and the answer (`None`: no refresh token was issued).
    pub refresh_wider: Option<(Attempt, String, Option<TokenAnswer>)>,
    /// A code exchanged with a `redirect_uri` other than the one it was issued for.
    pub code_other_redirect: Option<Attempt>,
    /// A code issued to the flows' client, exchanged by another client; or why there was no
    /// other client.
    pub code_by_other_client: Option<Result<Attempt, String>>,
    /// Authorization and token requests naming another resource (what the MCP server makes of
    /// the token that came of it is observed with the other token probes).
    pub foreign: Option<Attempt>,
    /// A flow of its own whose code, once redeemed, is redeemed again (which must fail);
    /// separate, because an AS may revoke every token of a code that was replayed.
    pub code_replay: Option<(Attempt, Option<TokenAnswer>)>,
    /// The registered client asking for a redirect URI it never registered.
    pub unregistered_redirect: Option<Navigation>,
    /// The registered client asking for its redirect URI with something appended (a path
    /// below it, a character after it): what prefix matching lets through.
    pub extended_redirects: Vec<Navigation>,
    /// The main refresh token used once, then once more (rotated tokens must not work twice).
    /// Filled by [`FlowObservations::spend_refresh_token`] after every other use of the main
    /// tokens: an AS may revoke the access token of a refreshed pair.
    pub refresh: Option<(TokenAnswer, Option<TokenAnswer>)>,
    /// The first refresh issued a refresh token other than the one presented (it rotated).
    pub refresh_rotated: bool,
    /// How to refresh the main pair, until it is spent.
    refresh_plan: Option<RefreshPlan>,
    /// A token from the client credentials grant.
    pub client_credentials: Option<TokenAnswer>,
    /// CIMD attempts, or why none ran.
    pub cimd: Result<CimdAttempts, String>,
}

/// The three CIMD authorization requests.
#[derive(Debug, Clone)]
pub struct CimdAttempts {
    /// The honest document's URL.
    pub document: Url,
    /// The redirect URI the honest document lists.
    pub redirect_uri: Url,
    /// Whether the AS fetched the honest document while answering `accepted`; `None` for a
    /// published document, whose fetches the tester cannot see.
    pub fetched: Option<bool>,
    /// The honest document's URL as `client_id`, its listed redirect URI.
    pub accepted: Navigation,
    /// A document whose `client_id` is not its URL, or why there was none to try.
    pub mismatched: Result<Navigation, String>,
    /// The honest document, a redirect URI it does not list.
    pub unlisted: Navigation,
}

impl FlowObservations {
    fn empty() -> Self {
        Self {
            unavailable: None,
            client_origin: None,
            no_pkce: None,
            plain_pkce: None,
            main: None,
            wrong_verifier: None,
            challenge_as_verifier: None,
            code_by_other_client: None,
            code_other_redirect: None,
            refresh_by_other_client: None,
            refresh_wider: None,
            extended_redirects: Vec::new(),
            foreign: None,
            code_replay: None,
            unregistered_redirect: None,
            refresh: None,
            refresh_rotated: false,
            refresh_plan: None,
            client_credentials: None,
            cimd: Err("not attempted".into()),
        }
    }

    /// The access token the flows obtained for the target, if any.
    pub fn access_token(&self) -> Option<&str> {
        fn from(a: &Option<TokenAnswer>) -> Option<&str> {
            a.as_ref()
                .and_then(|t| t.tokens.as_ref())
                .map(|t| t.access_token.as_str())
        }
        self.main
            .as_ref()
            .and_then(|m| from(&m.token))
            .or_else(|| from(&self.client_credentials))
    }
}

/// Runs the flows. Nothing here fails the run: what happened is recorded for the checks.
pub async fn run(ctx: &FlowContext, probe: &Probe, login: &Login) -> FlowObservations {
    let mut obs = FlowObservations::empty();
    let resource = ctx.target.as_str();
    if let Login::ClientCredentials(auth) = login {
        obs.client_credentials = Some(
            token::client_credentials(
                probe,
                &ctx.token_endpoint,
                auth,
                ctx.scope.as_deref(),
                Some(resource),
            )
            .await,
        );
    }
    let credentials = match login {
        Login::Form(c) => Some(c.clone()),
        _ => None,
    };
    // One browser for every attempt, as one person would: consent given once is remembered.
    let browser = match &ctx.person {
        Some(person) => Browser::with_person(probe, person.clone()),
        None => Browser::in_run(probe, credentials),
    };
    // Held for the whole run: the CIMD client may be the one every flow signs in as.
    let (cimd_attempts, _documents) = match cimd(ctx, &browser, probe).await {
        Ok((attempts, host)) => (Ok(attempts), host),
        Err(why) => (Err(why), None),
    };
    obs.cimd = cimd_attempts;
    // Without a registered client, an AS that took the tester's metadata document (as the
    // 2026 revision prefers to DCR) gets the whole code flow judged with that client.
    let by_document = match (&ctx.client, &obs.cimd) {
        (None, Ok(a)) if a.accepted.issued_code() => Some(FlowClient {
            auth: ClientAuth::Public(a.document.to_string()),
            redirect_uri: a.redirect_uri.clone(),
            origin: "a client identified by its metadata document (CIMD)",
        }),
        _ => None,
    };
    let Some(client) = ctx.client.as_ref().or(by_document.as_ref()) else {
        obs.unavailable = Some(
            "no client to sign in as: the authorization server offers no registration the tester can use"
                .into(),
        );
        return obs;
    };
    obs.client_origin = Some(client.origin);
    let signer = Signer {
        ctx,
        client,
        browser: &browser,
        probe,
    };
    signer.pkce_attempts(&mut obs).await;
    signer.binding_attempts(&mut obs).await;
    obs.refresh_plan = obs
        .main
        .as_ref()
        .and_then(|m| m.token.as_ref())
        .and_then(|t| t.tokens.as_ref())
        .and_then(|t| t.refresh_token.clone())
        .map(|refresh_token| RefreshPlan {
            endpoint: ctx.token_endpoint.clone(),
            auth: client.auth.clone(),
            refresh_token,
            resource: resource.to_owned(),
        });
    obs
}

impl Signer<'_> {
    /// The main flow, and the ways PKCE must stop a flow: none, `plain`, a wrong verifier, the
    /// challenge presented as the verifier.
    async fn pkce_attempts(&self, obs: &mut FlowObservations) {
        let resource = self.ctx.target.as_str();
        obs.no_pkce = Some(self.attempt(Pkce::Omitted, None, resource).await);
        let plain = Verifier::generate();
        obs.plain_pkce = Some(
            self.attempt(Pkce::Plain(plain.as_str().into()), Some(&plain), resource)
                .await,
        );
        obs.main = Some(self.correct(resource).await.0);
        // The code is redeemed with a verifier other than the one challenged.
        let (challenged, presented) = (Verifier::generate(), Verifier::generate());
        obs.wrong_verifier = Some(
            self.attempt(
                Pkce::S256(challenged.s256_challenge()),
                Some(&presented),
                resource,
            )
            .await,
        );
        // The code is redeemed with the challenge itself: only hashing the verifier tells them apart.
        let challenged = Verifier::generate();
        let challenge = challenged.s256_challenge();
        obs.challenge_as_verifier = Some(
            self.attempt(
                Pkce::S256(challenge.clone()),
                Some(&Verifier::from_value(challenge)),
                resource,
            )
            .await,
        );
    }

    /// What a code and a refresh token must stay bound to: the resource, one use, the redirect
    /// URI, the client, the scope granted; and the redirect URIs the client never registered.
    async fn binding_attempts(&self, obs: &mut FlowObservations) {
        let (ctx, client) = (self.ctx, self.client);
        obs.foreign = Some(self.correct(FOREIGN_RESOURCE).await.0);
        obs.code_replay = Some(self.code_replay().await);
        obs.code_other_redirect = Some(
            self.code_exchanged_as(&client.auth, &other_redirect(client))
                .await,
        );
        let no_second = || "needs a second client, registered by DCR: this run had none".to_owned();
        obs.code_by_other_client = Some(match &ctx.second_client {
            Some(other) => Ok(self
                .code_exchanged_as(&other.auth, &client.redirect_uri)
                .await),
            None => Err(no_second()),
        });
        obs.refresh_by_other_client = Some(match &ctx.second_client {
            Some(other) => Ok(self.refreshed_by(other).await),
            None => Err(no_second()),
        });
        obs.refresh_wider = Some(self.refreshed_wider().await);
        obs.unregistered_redirect = Some(self.unregistered_redirect().await);
        obs.extended_redirects = self.extended_redirects().await;
    }
}

/// A scope that asks for more than `granted`: it, and the first offered scope it lacks (OIDC's
/// own scopes aside); a made-up one when the metadata offers no other, which an AS must refuse
/// or leave out just the same.
pub fn wider_than(granted: &str, offered: &[String]) -> String {
    const OIDC: [&str; 6] = [
        "openid",
        "offline_access",
        "profile",
        "email",
        "phone",
        "address",
    ];
    let held: Vec<&str> = granted.split(' ').filter(|s| !s.is_empty()).collect();
    let extra = offered
        .iter()
        .map(String::as_str)
        .filter(|s| is_scope_token(s))
        .find(|s| !held.contains(s) && !OIDC.contains(s))
        .unwrap_or(NOT_GRANTED_SCOPE);
    held.into_iter()
        .chain(std::iter::once(extra))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `s` is one scope as RFC 6749 §3.3 spells it (printable ASCII but space, `"` and `\`),
/// and short: what the metadata names is the server's text, and goes into the report.
fn is_scope_token(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// The scope asked for when the metadata offers none the flows lacked.
pub const NOT_GRANTED_SCOPE: &str = "mcp-auth-conformance:not-granted";

/// The client's redirect URI with another path: where its codes were not issued for.
fn other_redirect(client: &FlowClient) -> Url {
    let mut other = client.redirect_uri.clone();
    other.set_path("/another-callback");
    other
}

/// The redirect URI no client registered: the same loopback host, another path.
pub const UNREGISTERED_REDIRECT: &str = "http://127.0.0.1/unregistered-callback";

/// Authorization requests as the flows' client, through one browser.
struct Signer<'a> {
    ctx: &'a FlowContext,
    client: &'a FlowClient,
    browser: &'a Browser,
    probe: &'a Probe,
}

impl Signer<'_> {
    /// One authorization request with `pkce` for `resource`; when a code comes back and a
    /// `verifier` is given, the code is exchanged with it.
    async fn attempt(&self, pkce: Pkce, verifier: Option<&Verifier>, resource: &str) -> Attempt {
        let state = random_string(16);
        let request = AuthorizationRequest {
            endpoint: self.ctx.authorization_endpoint.clone(),
            client_id: self.client.auth.client_id().to_owned(),
            redirect_uri: self.client.redirect_uri.clone(),
            scope: self.ctx.scope.clone(),
            state: state.clone(),
            pkce,
            resource: Some(resource.to_owned()),
        };
        let navigation = self
            .browser
            .authorize(&request.url(), &self.client.redirect_uri)
            .await;
        let code = navigation.response().and_then(|r| r.code());
        let token = match (code, verifier) {
            (Some(code), Some(verifier)) => Some(self.redeem(code, verifier, resource).await),
            _ => None,
        };
        Attempt {
            state,
            navigation,
            token,
        }
    }

    /// Exchanges `code` at the token endpoint.
    async fn redeem(&self, code: &str, verifier: &Verifier, resource: &str) -> TokenAnswer {
        token::exchange_code(
            self.probe,
            &self.ctx.token_endpoint,
            &self.client.auth,
            code,
            &self.client.redirect_uri,
            verifier.as_str(),
            Some(resource),
        )
        .await
    }

    /// A correct request for `resource` (S256, `state`), and its verifier.
    async fn correct(&self, resource: &str) -> (Attempt, Verifier) {
        let verifier = Verifier::generate();
        let attempt = self
            .attempt(
                Pkce::S256(verifier.s256_challenge()),
                Some(&verifier),
                resource,
            )
            .await;
        (attempt, verifier)
    }

    /// A correct flow of its own whose code is exchanged, with its verifier, by `auth` and as
    /// if it had been issued for `redirect_uri` (another client's, or another redirect URI).
    async fn code_exchanged_as(&self, auth: &ClientAuth, redirect_uri: &Url) -> Attempt {
        let resource = self.ctx.target.as_str();
        let verifier = Verifier::generate();
        let mut attempt = self
            .attempt(Pkce::S256(verifier.s256_challenge()), None, resource)
            .await;
        if let Some(code) = attempt.navigation.response().and_then(|r| r.code()) {
            attempt.token = Some(
                token::exchange_code(
                    self.probe,
                    &self.ctx.token_endpoint,
                    auth,
                    code,
                    redirect_uri,
                    verifier.as_str(),
                    Some(resource),
                )
                .await,
            );
        }
        attempt
    }

    /// A correct flow of its own whose refresh token, if one is issued, `other` presents.
    async fn refreshed_by(&self, other: &FlowClient) -> (Attempt, Option<TokenAnswer>) {
        let resource = self.ctx.target.as_str();
        let (own, _) = self.correct(resource).await;
        let refresh_token = own
            .token
            .as_ref()
            .and_then(|t| t.tokens.as_ref())
            .and_then(|t| t.refresh_token.clone());
        let presented = match refresh_token {
            Some(refresh_token) => Some(
                token::refresh(
                    self.probe,
                    &self.ctx.token_endpoint,
                    &other.auth,
                    &refresh_token,
                    Some(resource),
                )
                .await,
            ),
            None => None,
        };
        (own, presented)
    }

    /// A pair of its own, refreshed asking for the scope it was granted and one it was not.
    async fn refreshed_wider(&self) -> (Attempt, String, Option<TokenAnswer>) {
        let resource = self.ctx.target.as_str();
        let (own, _) = self.correct(resource).await;
        let tokens = own.token.as_ref().and_then(|t| t.tokens.as_ref());
        // What was granted: the answer's scope, else what was asked (RFC 6749 §5.1).
        let granted = tokens
            .and_then(|t| t.scope.clone())
            .or_else(|| self.ctx.scope.clone())
            .unwrap_or_default();
        let asked = wider_than(&granted, &self.ctx.offered_scopes);
        let answer = match tokens.and_then(|t| t.refresh_token.clone()) {
            Some(refresh_token) => Some(
                token::refresh_asking(
                    self.probe,
                    &self.ctx.token_endpoint,
                    &self.client.auth,
                    &refresh_token,
                    Some(resource),
                    Some(&asked),
                )
                .await,
            ),
            None => None,
        };
        (own, asked, answer)
    }

    /// A flow of its own whose code, once redeemed for tokens, is redeemed again.
    async fn code_replay(&self) -> (Attempt, Option<TokenAnswer>) {
        let resource = self.ctx.target.as_str();
        let (first, verifier) = self.correct(resource).await;
        let code = first.navigation.response().and_then(|r| r.code());
        let redeemed = first.token.as_ref().is_some_and(|t| t.tokens.is_some());
        let again = match code {
            Some(code) if redeemed => Some(self.redeem(code, &verifier, resource).await),
            _ => None,
        };
        (first, again)
    }

    /// A correct request but for its redirect URI, which the client never registered: the AS
    /// must not send the browser there.
    async fn unregistered_redirect(&self) -> Navigation {
        let redirect = Url::parse(UNREGISTERED_REDIRECT).expect("a static URL");
        self.authorize_at(redirect).await
    }

    /// The client's own redirect URI with a path below it and with a character after it.
    async fn extended_redirects(&self) -> Vec<Navigation> {
        let registered = self.client.redirect_uri.as_str().trim_end_matches('/');
        let mut seen = Vec::new();
        for extended in [format!("{registered}/extra"), format!("{registered}x")] {
            if let Ok(redirect) = Url::parse(&extended) {
                seen.push(self.authorize_at(redirect).await);
            }
        }
        seen
    }

    /// A correct authorization request but for its redirect URI, followed as a browser does.
    async fn authorize_at(&self, redirect: Url) -> Navigation {
        let request = AuthorizationRequest {
            endpoint: self.ctx.authorization_endpoint.clone(),
            client_id: self.client.auth.client_id().to_owned(),
            redirect_uri: redirect.clone(),
            scope: self.ctx.scope.clone(),
            state: random_string(16),
            pkce: Pkce::S256(Verifier::generate().s256_challenge()),
            resource: Some(self.ctx.target.to_string()),
        };
        self.browser.authorize(&request.url(), &redirect).await
    }
}

/// What refreshing the main pair takes.
#[derive(Clone)]
struct RefreshPlan {
    endpoint: Url,
    auth: ClientAuth,
    refresh_token: String,
    resource: String,
}

impl std::fmt::Debug for RefreshPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RefreshPlan({}, {:?}, [redacted])",
            self.endpoint, self.auth
        )
    }
}

impl FlowObservations {
    /// Uses the main refresh token once, then once more (after rotation it must not work).
    /// Call it last: it may revoke the main access token, which other checks judge with.
    pub async fn spend_refresh_token(&mut self, probe: &Probe) {
        let Some(plan) = self.refresh_plan.take() else {
            return;
        };
        let refresh = || {
            token::refresh(
                probe,
                &plan.endpoint,
                &plan.auth,
                &plan.refresh_token,
                Some(&plan.resource),
            )
        };
        let first = refresh().await;
        self.refresh_rotated = first
            .tokens
            .as_ref()
            .and_then(|t| t.refresh_token.as_deref())
            .is_some_and(|issued| issued != plan.refresh_token);
        let replay = match &first.tokens {
            Some(_) => Some(refresh().await),
            None => None,
        };
        self.refresh = Some((first, replay));
    }
}

/// `tools/call` of `tool` with no arguments, as a client of `speaker`'s revision makes it
/// (in the session `initialize` opens, on 2025-11-25).
pub async fn call_tool(
    target: &Url,
    probe: &Probe,
    token: &str,
    tool: &str,
    speaker: &Speaker,
) -> Exchange {
    let mut conversation = Conversation::open(probe, target, Some(token), speaker.clone()).await;
    conversation
        .request(
            "tools/call",
            serde_json::json!({"name": tool, "arguments": {}}),
        )
        .await
        .exchange
}

/// The CIMD attempts, when the AS supports CIMD and can fetch the documents: the ones the
/// caller published (`cimd_urls`), or the tester's own on loopback for a loopback server.
async fn cimd(
    ctx: &FlowContext,
    browser: &Browser,
    probe: &Probe,
) -> Result<(CimdAttempts, Option<CimdHost>), String> {
    if !ctx.cimd_supported {
        return Err("client_id_metadata_document_supported is not true".into());
    }
    // Kept until the attempts are made: dropping it stops serving the documents.
    let mut host: Option<CimdHost> = None;
    let (client_id, copy, redirect_uri) = match ctx.cimd_urls.as_slice() {
        [] if !crate::client::is_loopback(&ctx.target) => {
            return Err(
                "a remote server cannot fetch the tester's loopback documents: publish the document at an https URL and pass --cimd-url"
                    .into(),
            );
        }
        [] => {
            // A person's browser must bring the answer to the listener; the stand-in reads it
            // off the redirect, so the host's own address does.
            let listed = ctx.person.as_ref().map(|_| ctx.callback.clone());
            let served = CimdHost::start(CIMD_CLIENT_NAME, listed)
                .await
                .map_err(|e| format!("could not serve the metadata documents: {e}"))?;
            let urls = (
                served.client_id.clone(),
                Some(served.mismatched.clone()),
                served.redirect_uri.clone(),
            );
            host = Some(served);
            urls
        }
        [published, rest @ ..] => {
            check_published(probe, published).await?;
            (
                published.clone(),
                rest.first().cloned(),
                ctx.callback.clone(),
            )
        }
    };
    let go = |client_id: &Url, redirect: &Url| {
        let request = AuthorizationRequest {
            endpoint: ctx.authorization_endpoint.clone(),
            client_id: client_id.to_string(),
            redirect_uri: redirect.clone(),
            scope: ctx.scope.clone(),
            state: random_string(16),
            pkce: Pkce::S256(Verifier::generate().s256_challenge()),
            resource: Some(ctx.target.to_string()),
        };
        let redirect = redirect.clone();
        async move { browser.authorize(&request.url(), &redirect).await }
    };
    let mut unlisted = redirect_uri.clone();
    unlisted.set_path("/not-listed");
    let accepted = go(&client_id, &redirect_uri).await;
    let fetched = host.as_ref().map(CimdHost::honest_fetched);
    let attempts = CimdAttempts {
        document: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        fetched,
        accepted,
        mismatched: match &copy {
            Some(copy) => Ok(go(copy, &redirect_uri).await),
            None => Err(
                "needs a document whose client_id is not its URL: serve the same document at a second URL and pass --cimd-url twice"
                    .into(),
            ),
        },
        unlisted: go(&client_id, &unlisted).await,
    };
    Ok((attempts, host))
}

/// The name the tester's client metadata documents give.
const CIMD_CLIENT_NAME: &str = "mcp-auth-conformance (CIMD)";

/// The document the tester expects at a published `url`.
pub fn published_document(url: &Url) -> serde_json::Value {
    crate::client::cimd_host::document(url, CIMD_CLIENT_NAME, &[tester_callback()])
}

/// A published document must be the tester's: its URL as `client_id`, the tester's callback
/// among its `redirect_uris`. Otherwise the CIMD checks would judge someone else's client.
async fn check_published(probe: &Probe, url: &Url) -> Result<(), String> {
    let callback = tester_callback();
    let expected = || format!("publish exactly this at {url}: {}", published_document(url));
    let answer = probe.get(url).await;
    if answer.exchange.status != Some(200) {
        return Err(format!(
            "the document at --cimd-url answered {}; {}",
            answer
                .exchange
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| answer.exchange.error.clone().unwrap_or_default()),
            expected()
        ));
    }
    let doc: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let lists_callback = doc["redirect_uris"]
        .as_array()
        .is_some_and(|r| r.iter().any(|u| u == callback.as_str()));
    if doc["client_id"] != url.as_str() || !lists_callback {
        return Err(format!(
            "the document at --cimd-url is not the tester's (client_id must be its URL and redirect_uris must list {callback}); {}",
            expected()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wider_scope_adds_the_first_offered_scope_not_held() {
        let offered = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            wider_than("mcp:read", &offered(&["openid", "mcp:read", "mcp:write"])),
            "mcp:read mcp:write"
        );
        // OIDC's own scopes are not what a resource grants: a made-up one is asked instead.
        assert_eq!(
            wider_than("files:read", &offered(&["files:read", "offline_access"])),
            format!("files:read {NOT_GRANTED_SCOPE}")
        );
        assert_eq!(wider_than("", &[]), NOT_GRANTED_SCOPE);
        // What is no scope token, or too long to put in a report, is passed over.
        let hostile = offered(&["a b", "<x>\"y\"", &"z".repeat(65), "ok"]);
        assert_eq!(wider_than("r", &hostile), "r ok");
    }
}
