//! Assembling and running the server, whatever the upstream: the façade in front of it, the
//! guard with a verifier for its tokens, PRM, the MCP endpoint, bounded connections, graceful
//! shutdown.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    access_token::{TokenPolicy, TokenProfile, TokenVerifier},
    app::{self, AppParts},
    client_address::TrustedProxies,
    connections::{self, ConnectionLimits},
    discovery,
    endpoint::{Endpoint, EndpointError, Issuer},
    facade::{Facade, FacadeConfig, RegistrationLimits, UpstreamConfig, store::Store},
    guard::Guard,
    jwks::{JwksCache, RefreshPolicy},
    mcp::McpEndpoint,
    prm::{self, ProtectedResourceMetadata},
    refusals::REPORT_INTERVAL,
    request_body,
    resource::ResourceUri,
    tool_scopes::ToolScopes,
    tools::BundledScopes,
};

/// Everything that differs between local and Cognito mode.
pub struct Assembly {
    /// Where to listen.
    pub listener: TcpListener,
    /// The MCP resource URI; its origin is the public base URL, the façade's issuer.
    pub resource: ResourceUri,
    /// The upstream's issuer (the `iss` of access tokens).
    pub upstream_issuer: String,
    /// The upstream's JWKS, when known from the deployment; otherwise discovered.
    pub upstream_jwks: Option<Endpoint>,
    /// The façade's client at the upstream.
    pub upstream: UpstreamConfig,
    /// The façade's state.
    pub store: Arc<dyn Store>,
    /// Browser origins allowed besides the base URL's own.
    pub allowed_origins: Vec<String>,
    /// `Host` values accepted on the MCP endpoint.
    pub allowed_hosts: Vec<String>,
    /// Extra routes (the development AS).
    pub extra: axum::Router,
    /// Accept metadata documents served on this machine (development only).
    pub loopback_cimd: Option<crate::facade::cimd::LoopbackDocuments>,
    /// The façade's CSRF key.
    pub csrf_key: Vec<u8>,
    /// RFC 7662 introspection for opaque tokens, when the upstream issues them.
    pub introspection: Option<crate::introspection::IntrospectionConfig>,
    /// Reverse proxies whose forwarded addresses name the client.
    pub trusted_proxies: TrustedProxies,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address is taken or not ours.
    #[error("cannot listen on {addr}: {cause} (pick another with --port)")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// Generating keys failed.
    #[error(transparent)]
    Keys(#[from] crate::signing::SigningError),
    /// The upstream did not answer discovery.
    #[error("the authorization server did not answer discovery: {0}")]
    Discovery(#[from] discovery::DiscoveryError),
    /// Its keys could not be loaded.
    #[error("the authorization server's keys could not be loaded: {0}")]
    Keyset(#[from] crate::jwks::JwksError),
    /// A URL the server would answer on or talk to is unusable.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
}

/// A running server.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The MCP endpoint's URL.
    pub resource: ResourceUri,
    /// The PRM URL.
    pub resource_metadata: Url,
    /// The façade's issuer.
    pub issuer: String,
    mcp: Arc<McpEndpoint>,
    shutdown: CancellationToken,
    serving: JoinHandle<std::io::Result<()>>,
    reporting: JoinHandle<()>,
}

/// Binds a listener, with an error that names the address.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|cause| StartError::Bind {
            addr: addr.to_string(),
            cause,
        })
}

impl Running {
    /// Starts serving, then discovers the upstream's keys; returns once tokens can be verified.
    pub async fn start(a: Assembly) -> Result<Self, StartError> {
        let addr = a.listener.local_addr().map_err(|cause| StartError::Bind {
            addr: "?".into(),
            cause,
        })?;
        let issuer = Issuer::for_resource(&a.resource)?;
        let tools: Arc<dyn ToolScopes> = Arc::new(BundledScopes);
        let mut allowed_origins = vec![issuer.to_string()];
        allowed_origins.extend(a.allowed_origins);
        let facade = Facade::new(
            FacadeConfig {
                issuer,
                resource: a.resource.clone(),
                scopes: tools.all().iter().map(str::to_owned).collect(),
                default_scope: tools.first().to_string(),
                upstream: a.upstream,
                registration: RegistrationLimits::default(),
                loopback_cimd: a.loopback_cimd,
                csrf_key: a.csrf_key,
            },
            a.store,
        );
        let resource_metadata = prm::metadata_url(&a.resource);
        let guard = Arc::new(Guard {
            verifier: OnceLock::new(),
            resource_metadata: resource_metadata.to_string(),
            tools: tools.clone(),
            max_body_bytes: request_body::MAX_BODY_BYTES,
            refusals: Default::default(),
        });
        let shutdown = CancellationToken::new();
        let (router, mcp) = app::router(AppParts {
            resource: a.resource.clone(),
            metadata: ProtectedResourceMetadata::new(
                &a.resource,
                facade.issuer().as_str(),
                &tools.first(),
                "mcp-auth-kit demo server",
            ),
            guard: guard.clone(),
            allowed_origins,
            allowed_hosts: a.allowed_hosts,
            extra: a.extra.merge(facade.router()),
            shutdown: shutdown.clone(),
        });
        let serving = tokio::spawn(connections::serve(
            a.listener,
            router,
            ConnectionLimits::from_fd_limit(),
            a.trusted_proxies,
            shutdown.clone(),
        ));
        let refusals = guard.refusals.clone();
        let stop = shutdown.clone();
        let reporting = tokio::spawn(async move {
            refusals.report_every(REPORT_INTERVAL, stop).await;
        });
        let http = reqwest::Client::new();
        let jwks_url = match a.upstream_jwks {
            Some(endpoint) => endpoint.url().clone(),
            None => {
                discovery::discover(&http, &a.upstream_issuer)
                    .await?
                    .jwks_uri
            }
        };
        let jwks = JwksCache::new(jwks_url, http, RefreshPolicy::default());
        if let Err(e) = jwks.prime().await {
            shutdown.cancel();
            return Err(e.into());
        }
        let policy = TokenPolicy {
            issuer: a.upstream_issuer,
            resource: a.resource.clone(),
            profile: TokenProfile::Cognito,
            leeway_secs: 30,
        };
        let _ = guard
            .verifier
            .set(Arc::new(TokenVerifier::new(policy, jwks, 10_000)));
        Ok(Self {
            addr,
            resource: a.resource,
            resource_metadata,
            issuer: facade.issuer().to_string(),
            mcp,
            shutdown,
            serving,
            reporting,
        })
    }

    /// How many MCP requests the direct path answered (the rest went to rmcp).
    pub fn mcp_answered_directly(&self) -> u64 {
        self.mcp.answered_directly()
    }

    /// Stops accepting connections and waits for the ones in flight (for at most
    /// [`connections::DRAIN_TIMEOUT`]); the last refusal counts are logged.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        let served = self.serving.await.unwrap_or(Ok(()));
        let _ = self.reporting.await;
        served
    }
}
