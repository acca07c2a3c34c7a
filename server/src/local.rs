//! Local mode: the server with the embedded development authorization server, on loopback,
//! offline, on a fresh machine.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{Arc, OnceLock},
    time::Duration,
};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    access_token::{TokenPolicy, TokenProfile, TokenVerifier},
    app::{self, AppParts},
    dev_as::{self, DevAsConfig, DevAuthServer, DevClient, DevUser},
    discovery,
    facade::{Facade, FacadeConfig, RegistrationLimits, UpstreamConfig, store::MemoryStore},
    guard::Guard,
    jwks::{JwksCache, RefreshPolicy},
    prm::{self, ProtectedResourceMetadata},
    resource::ResourceUri,
    scope::ScopeSet,
    secret::random_token,
    tools,
};

/// How to run in local mode.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Browser origins allowed besides the server's own.
    pub allowed_origins: Vec<String>,
    /// Skip the development login form (automated tests).
    pub auto_approve: bool,
}

/// Why local mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The port is taken or not ours.
    #[error("cannot listen on 127.0.0.1:{port}: {cause} (pick another with --port)")]
    Bind {
        /// The port.
        port: u16,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// Generating keys failed.
    #[error(transparent)]
    Keys(#[from] crate::signing::SigningError),
    /// The server could not discover its own development AS.
    #[error("the development authorization server did not answer discovery: {0}")]
    Discovery(#[from] discovery::DiscoveryError),
    /// Its keys could not be loaded.
    #[error("the development authorization server's keys could not be loaded: {0}")]
    Keyset(#[from] crate::jwks::JwksError),
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
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

/// The pre-registered example client's callbacks (`cargo xtask client --registration static`).
pub const STATIC_CLIENT_REDIRECTS: [&str; 2] = [
    "http://localhost:3000/callback",
    "http://127.0.0.1:3000/callback",
];

impl LocalServer {
    /// Starts the server and waits until it can verify tokens.
    pub async fn start(options: LocalOptions) -> Result<Self, StartError> {
        let listener = TcpListener::bind(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            options.port,
        ))
        .await
        .map_err(|cause| StartError::Bind {
            port: options.port,
            cause,
        })?;
        let addr = listener.local_addr().map_err(|cause| StartError::Bind {
            port: options.port,
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
            resource_scopes: vec![tools::READ.into(), tools::WRITE.into()],
            clients: vec![static_client.clone(), upstream_client.clone()],
            user: user.clone(),
            auto_approve: options.auto_approve,
            token_lifetime: Duration::from_secs(3600),
        })?;
        let facade = Facade::new(
            FacadeConfig {
                issuer: base.clone(),
                resource: resource.clone(),
                scopes: vec![tools::READ.into(), tools::WRITE.into()],
                default_scope: tools::READ.into(),
                upstream: UpstreamConfig {
                    authorization_endpoint: format!("{dev_issuer}/oauth2/authorize"),
                    token_endpoint: format!("{dev_issuer}/oauth2/token"),
                    client_id: upstream_client.id.clone(),
                    client_secret: upstream_client.secret.clone().unwrap_or_default(),
                    redirect_uri: upstream_client.redirect_uris[0].clone(),
                },
                registration: RegistrationLimits::default(),
                allow_http_loopback_cimd: true,
                csrf_key: random_token(32).into_bytes(),
            },
            Arc::new(MemoryStore::default()),
        );
        let resource_metadata = prm::metadata_url(&resource);
        let guard = Arc::new(Guard {
            verifier: OnceLock::new(),
            resource_metadata: resource_metadata.to_string(),
            default_scopes: ScopeSet::parse(tools::READ),
            max_body_bytes: app::MAX_BODY_BYTES,
        });
        let mut allowed_origins = vec![base.clone()];
        allowed_origins.extend(options.allowed_origins);
        let shutdown = CancellationToken::new();
        let router = app::router(AppParts {
            resource: resource.clone(),
            metadata: ProtectedResourceMetadata::new(
                &resource,
                facade.issuer(),
                &ScopeSet::parse(tools::READ),
                "mcp-auth-kit demo server",
            ),
            guard: guard.clone(),
            allowed_origins,
            allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
            extra: axum::Router::new()
                .nest(dev_as::MOUNT, dev.router())
                .merge(facade.router()),
            shutdown: shutdown.clone(),
        });
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        });

        // Discovered over HTTP like any upstream, never wired in: local mode exercises the
        // same path as Cognito.
        let http = reqwest::Client::new();
        let metadata = discovery::discover(&http, &dev_issuer).await?;
        let jwks = JwksCache::new(metadata.jwks_uri, http, RefreshPolicy::default());
        jwks.prime().await?;
        let policy = TokenPolicy {
            issuer: dev_issuer.clone(),
            resource: resource.clone(),
            profile: TokenProfile::Cognito,
            leeway_secs: 30,
        };
        let _ = guard
            .verifier
            .set(Arc::new(TokenVerifier::new(policy, jwks, 10_000)));
        Ok(Self {
            addr,
            resource,
            resource_metadata,
            issuer: facade.issuer().to_owned(),
            dev_issuer,
            user,
            static_client,
            shutdown,
            task,
        })
    }

    /// Stops accepting connections and waits for the ones in flight.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.shutdown.cancel();
        self.task.await.unwrap_or(Ok(()))
    }

    /// Waits until the server stops by itself (or fails).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.unwrap_or(Ok(()))
    }
}
