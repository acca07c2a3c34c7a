//! Local mode: the server with the embedded development authorization server, on loopback,
//! offline, on a fresh machine.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use url::Url;

pub use crate::runtime::StartError;
use crate::{
    client_address::TrustedProxies,
    dev_as::{self, DevAsConfig, DevAuthServer, DevClient, DevUser},
    endpoint::Endpoint,
    facade::{UpstreamConfig, cimd::LoopbackDocuments, store::MemoryStore},
    pkce,
    resource::ResourceUri,
    runtime::{self, Assembly, Running},
    secret::random_token,
    tool_scopes::ToolScopes,
    tools::{self, BundledScopes},
};

/// The port local mode listens on unless told otherwise (and the example clients' default).
pub const DEFAULT_PORT: u16 = 8080;

/// How to run in local mode.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Skip the development login form (automated tests).
    pub auto_approve: bool,
    /// How long access tokens live [default: an hour]; short for tests of refresh.
    pub token_lifetime: Option<Duration>,
    /// Client metadata documents served on this machine (admitted in local mode), and the
    /// development CA trusted for the https ones.
    pub loopback_documents: LoopbackDocuments,
    /// Reverse proxies whose `X-Forwarded-For` names the client (none: the peer is the client).
    pub trusted_proxies: TrustedProxies,
}

/// A running local server and what a person needs to use it.
pub struct LocalServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The MCP endpoint's URL (the resource URI).
    pub resource: ResourceUri,
    /// The PRM URL.
    pub resource_metadata: Url,
    /// The façade's issuer: the authorization server MCP clients see.
    pub issuer: String,
    /// The development AS's issuer (the façade's upstream).
    pub dev_issuer: String,
    /// The development user.
    pub user: DevUser,
    /// The pre-registered static client.
    pub static_client: DevClient,
    dev: Arc<DevAuthServer>,
    running: Running,
}

/// The pre-registered example client's callbacks (`cargo xtask client --registration static`).
pub const STATIC_CLIENT_REDIRECTS: [&str; 2] = [
    "http://localhost:3000/callback",
    "http://127.0.0.1:3000/callback",
];

impl LocalServer {
    /// Starts the server and waits until it can verify tokens.
    pub async fn start(options: LocalOptions) -> Result<Self, StartError> {
        let listener = runtime::bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            options.port,
        ))
        .await?;
        let addr = listener.local_addr().map_err(|cause| StartError::Bind {
            addr: "127.0.0.1".into(),
            cause,
        })?;
        let base = format!("http://{addr}");
        let resource: ResourceUri = format!("{base}/mcp")
            .parse()
            .expect("a loopback URL is a resource URI");
        let dev_issuer = format!("{base}{}", dev_as::MOUNT);
        let user = DevUser {
            username: "dev@example.com".into(),
            password: random_token(12),
            subject: "dev-user-0001".into(),
        };
        let static_client = DevClient {
            id: format!("static-{}", random_token(9)),
            secret: Some(random_token(24)),
            redirect_uris: STATIC_CLIENT_REDIRECTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            name: "Static example client".into(),
        };
        // The façade's own client at the development AS, as the deployment creates at Cognito.
        let upstream_client = DevClient {
            id: format!("facade-{}", random_token(9)),
            secret: Some(random_token(24)),
            redirect_uris: vec![format!("{base}/oauth/callback")],
            name: "mcp-auth-kit façade".into(),
        };
        let dev = DevAuthServer::new(DevAsConfig {
            issuer: dev_issuer.clone(),
            resource: resource.clone(),
            resource_scopes: BundledScopes.all().iter().map(str::to_owned).collect(),
            clients: vec![static_client.clone(), upstream_client.clone()],
            user: user.clone(),
            auto_approve: options.auto_approve,
            token_lifetime: options.token_lifetime.unwrap_or(Duration::from_secs(3600)),
        })?;
        let at_dev = |path: &str| Endpoint::parse(&format!("{dev_issuer}{path}"));
        let running = Running::start(Assembly {
            listener,
            resource,
            // Discovered over HTTP like any upstream, never wired in: local mode exercises the
            // same path as Cognito.
            upstream_issuer: dev_issuer.clone(),
            upstream_jwks: None,
            upstream: UpstreamConfig {
                authorization_endpoint: at_dev("/oauth2/authorize")?,
                token_endpoint: at_dev("/oauth2/token")?,
                client_id: upstream_client.id.clone(),
                client_secret: upstream_client.secret.clone().unwrap_or_default(),
                redirect_uri: upstream_client.redirect_uris[0].parse()?,
                revocation_endpoint: Some(at_dev("/oauth2/revoke")?),
                resource_at_token_endpoint: false,
            },
            store: Arc::new(MemoryStore::default()),
            allowed_origins: options.allowed_origins,
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
            extra: axum::Router::new().nest(dev_as::MOUNT, dev.router()),
            loopback_cimd: Some(options.loopback_documents.clone()),
            csrf_key: random_token(32).into_bytes(),
            introspection: None,
            trusted_proxies: options.trusted_proxies,
        })
        .await?;
        Ok(Self {
            addr: running.addr,
            resource: running.resource.clone(),
            resource_metadata: running.resource_metadata.clone(),
            issuer: running.issuer.clone(),
            dev_issuer,
            user,
            static_client,
            dev,
            running,
        })
    }

    /// An access token for the static client, for `scope`, when the server runs with
    /// auto-approve (tests and benchmarks): the whole code flow with PKCE, without a person.
    pub async fn static_client_token(&self, scope: &str) -> Result<String, String> {
        auto_approved_token(
            &self.dev_issuer,
            &self.static_client.id,
            self.static_client.secret.as_deref(),
            STATIC_CLIENT_REDIRECTS[0],
            scope,
            self.resource.as_str(),
        )
        .await
    }

    /// An access token for the static client, as the development AS issues them but expired
    /// an hour ago: for the conformance demo's expiry check (`--expired-token`).
    pub fn expired_token(&self) -> Result<String, crate::signing::SigningError> {
        self.dev.expired_access_token(
            &self.static_client.id,
            &format!("{}/{}", self.resource, tools::READ),
            self.resource.as_str(),
        )
    }

    /// How many MCP requests the direct path answered (the rest went to rmcp).
    pub fn mcp_answered_directly(&self) -> u64 {
        self.running.mcp_answered_directly()
    }

    /// Stops accepting connections and waits for the ones in flight.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.running.shutdown().await
    }
}

/// An access token from an auto-approving development AS at `dev_issuer`, by the code flow
/// with PKCE S256 as any client runs it: for `client_id` (and its secret, if it has one) at
/// `redirect_uri`, asking for `scope` and `resource`.
pub async fn auto_approved_token(
    dev_issuer: &str,
    client_id: &str,
    secret: Option<&str>,
    redirect_uri: &str,
    scope: &str,
    resource: &str,
) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let verifier = random_token(48);
    let mut url =
        Url::parse(&format!("{dev_issuer}/oauth2/authorize")).map_err(|e| e.to_string())?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("code_challenge", &pkce::s256_challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", resource);
    let approved = http.get(url).send().await.map_err(|e| e.to_string())?;
    let code = approved
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| Url::parse(l).ok())
        .and_then(|l| {
            l.query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or("no code: is the server running with auto_approve?")?;
    let body: serde_json::Value = http
        .post(format!("{dev_issuer}/oauth2/token"))
        .basic_auth(client_id, secret)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no access token in {body}"))
}
