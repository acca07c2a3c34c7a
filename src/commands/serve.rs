//! `cargo xtask serve`: the bundled MCP server, in Cognito mode when a deployment env file
//! exists (unless `--local`), otherwise in local mode with the embedded development
//! authorization server. Its first line says which mode, and why.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
};

use anyhow::Context;
use mcp_auth_server::{
    client_address::TrustedProxies,
    cognito::{self, CognitoOptions, Deployment},
    endpoint::is_loopback_http,
    facade::cimd::LoopbackDocuments,
    introspection::IntrospectionConfig,
    local::{self, LocalOptions, LocalServer},
};

use crate::{
    cli::ServeArgs,
    env_layout::{self, LocalStatic},
    envfile::{self, Owner},
};

/// Runs the server until Ctrl-C.
pub async fn run(args: ServeArgs, root: &Path) -> anyhow::Result<()> {
    let dir = args.env_dir.clone().unwrap_or_else(|| root.to_owned());
    let mode = Mode::choose(&args, &dir)?;
    // Before anything else is said: which server this is decides what every later line means.
    eprintln!("mode: {mode}");
    init_logging();
    raise_fd_limit();
    match mode {
        Mode::Cognito(source) => {
            if let Some(ca) = &args.dev_ca {
                anyhow::bail!(
                    "--dev-ca {} is for local mode only ({} exists, so this is Cognito mode): \
                     metadata documents on loopback are never fetched in Cognito mode; add \
                     --local to try a client on this machine",
                    ca.display(),
                    source.shown
                );
            }
            run_cognito(&args, source.deployment).await
        }
        Mode::Local(_) => run_local(args, root, &dir).await,
    }
}

/// The mode `serve` runs in, and why.
enum Mode {
    Local(LocalReason),
    Cognito(Box<CognitoSource>),
}

/// Why local mode.
enum LocalReason {
    /// There is no deployment env file (its path as shown).
    NoEnvFile(String),
    /// `--local`, with the env file it ignores, if there is one.
    Forced(Option<String>),
}

/// The deployment Cognito mode runs against.
struct CognitoSource {
    /// The env file, as shown.
    shown: String,
    /// The stack `deploy` wrote it for, from its first line.
    stack: Option<String>,
    deployment: Deployment,
}

impl Mode {
    /// Cognito mode when the env file exists (and `--local` is not given), local mode otherwise.
    fn choose(args: &ServeArgs, dir: &Path) -> anyhow::Result<Self> {
        let (env_file, shown) = match (&args.env_file, &args.env_dir) {
            (Some(file), _) => (file.clone(), file.display().to_string()),
            (None, None) => (dir.join(env_layout::SERVER), env_layout::SERVER.to_owned()),
            (None, Some(_)) => {
                let file = dir.join(env_layout::SERVER);
                let shown = file.display().to_string();
                (file, shown)
            }
        };
        if args.local {
            return Ok(Mode::Local(LocalReason::Forced(
                env_file.exists().then_some(shown),
            )));
        }
        if !env_file.exists() {
            return no_env_file(args, shown);
        }
        let deployment = Deployment::from_env_file(&env_file).with_context(|| {
            format!(
                "{shown} exists, so `serve` runs in Cognito mode, but it cannot be used \
                 (`cargo xtask serve --local` ignores it)"
            )
        })?;
        Ok(Mode::Cognito(Box::new(CognitoSource {
            stack: envfile::deployed_stack(&env_file),
            shown,
            deployment,
        })))
    }
}

/// Local mode, unless a flag asked for what only a deployment has.
fn no_env_file(args: &ServeArgs, shown: String) -> anyhow::Result<Mode> {
    if args.env_file.is_some() {
        anyhow::bail!(
            "{shown} does not exist: run `cargo xtask deploy` first, or leave --env-file out to \
             run in local mode"
        );
    }
    if let Some(listen) = args.listen {
        anyhow::bail!(
            "--listen {listen} is for Cognito mode, and there is no {shown} (no deployment): \
             local mode listens on 127.0.0.1 only, so use --port, or run `cargo xtask deploy` \
             first"
        );
    }
    Ok(Mode::Local(LocalReason::NoEnvFile(shown)))
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DEV_AS: &str = "the embedded development AS signs users in";
        match self {
            Mode::Local(LocalReason::NoEnvFile(shown)) => write!(f, "local (no {shown}; {DEV_AS})"),
            Mode::Local(LocalReason::Forced(Some(shown))) => {
                write!(f, "local (--local given; {shown} ignored; {DEV_AS})")
            }
            Mode::Local(LocalReason::Forced(None)) => write!(f, "local (--local given; {DEV_AS})"),
            Mode::Cognito(c) => {
                write!(f, "Cognito ({}", c.shown)?;
                if let Some(stack) = &c.stack {
                    write!(f, " from deploy of stack {stack:?}")?;
                }
                write!(
                    f,
                    " names user pool {}; `--local` ignores it)",
                    c.deployment.user_pool_id()
                )
            }
        }
    }
}

/// Local mode: listens first, so every URL it prints and advertises names the bound port.
async fn run_local(args: ServeArgs, root: &Path, dir: &Path) -> anyhow::Result<()> {
    let loopback_documents = match &args.dev_ca {
        Some(ca) => LoopbackDocuments::trusting(ca)?,
        None => LoopbackDocuments::default(),
    };
    let trusted_proxies = trusted_proxies(&args)?;
    let server = LocalServer::start(LocalOptions {
        port: args.port.unwrap_or(local::DEFAULT_PORT),
        allowed_origins: args.allowed_origins,
        auto_approve: args.auto_approve,
        token_lifetime: None,
        loopback_documents,
        trusted_proxies,
    })
    .await
    .context("starting the server")?;
    // The MCP URL alone on one line, so scripts can pick it up.
    println!("{}", server.resource);
    print_local(&server, args.auto_approve);
    let client_env = write_static_client(&server, root, dir);
    let waited = wait_for_stop().await;
    if let Some(path) = client_env
        && let Err(e) = envfile::remove(&path, Owner::LocalServer)
    {
        eprintln!("warning: {e}");
    }
    waited?;
    server.shutdown().await.context("stopping the server")
}

fn print_local(server: &LocalServer, auto_approve: bool) {
    eprintln!(
        "  Protected resource metadata:  {}",
        server.resource_metadata
    );
    eprintln!("  Authorization server (façade): {}", server.issuer);
    eprintln!(
        "  Development upstream (not for production): {}",
        server.dev_issuer
    );
    eprintln!(
        "  Dev user:       {}  password: {}",
        server.user.username, server.user.password
    );
    eprintln!(
        "  Static client (signs in at the development upstream directly):  id {}  secret {}  redirect {}",
        server.static_client.id,
        server.static_client.secret.as_deref().unwrap_or("-"),
        server.static_client.redirect_uris.join(" ")
    );
    if auto_approve {
        eprintln!("  Auto-approve is ON: every sign-in is approved without a login.");
    }
}

/// The static example client's settings for this server, in the file for its port (so another
/// server in the checkout keeps its own); `None` when it could not be written.
fn write_static_client(server: &LocalServer, root: &Path, dir: &Path) -> Option<PathBuf> {
    let scopes = format!("openid {0}/mcp:read {0}/mcp:write", server.resource);
    let port = server.addr.port();
    let client_env = env_layout::local_static_client(
        dir,
        port,
        &LocalStatic {
            server_url: server.resource.as_str(),
            issuer: &server.dev_issuer,
            client_id: &server.static_client.id,
            client_secret: server.static_client.secret.as_deref().unwrap_or_default(),
            redirect_uri: &server.static_client.redirect_uris[0],
            scopes: &scopes,
        },
    );
    if let Err(e) = client_env.write(Owner::LocalServer) {
        eprintln!("  warning: the static client's env file was not written: {e}");
        return None;
    }
    // How `cargo xtask client` finds it: by itself in the workspace, by --server on another
    // port, by --env-file elsewhere.
    let path = client_env.path.display();
    let reads = match (dir == root, port == local::DEFAULT_PORT) {
        (true, true) => String::new(),
        (true, false) => format!(
            "; `cargo xtask client --registration static --server {}` reads it",
            server.resource
        ),
        (false, _) => {
            format!("; `cargo xtask client --registration static --env-file {path}` reads it")
        }
    };
    eprintln!("  Static client settings: {path} (0600{reads})");
    Some(client_env.path)
}

/// The reverse proxies `--trusted-proxy` names, checked before anything starts.
fn trusted_proxies(args: &ServeArgs) -> anyhow::Result<TrustedProxies> {
    let proxies = TrustedProxies::parse(&args.trusted_proxies, args.forwarded_header)?;
    if !proxies.is_empty() {
        eprintln!(
            "  Trusted proxies: {}; from them the client's address is read from {}",
            args.trusted_proxies.join(", "),
            args.forwarded_header
        );
    }
    Ok(proxies)
}

async fn run_cognito(args: &ServeArgs, deployment: Deployment) -> anyhow::Result<()> {
    let csrf_key = std::env::var("FACADE_CSRF_KEY")
        .ok()
        .map(String::into_bytes);
    if csrf_key.as_ref().is_some_and(|k| k.len() < 32) {
        anyhow::bail!("FACADE_CSRF_KEY must be at least 32 characters");
    }
    let listen = cognito_listen(args, &deployment)?;
    let server = cognito::start(
        deployment,
        CognitoOptions {
            listen,
            allowed_origins: args.allowed_origins.clone(),
            csrf_key,
            introspection: introspection_from_env()?,
            aws: None,
            trusted_proxies: trusted_proxies(args)?,
        },
    )
    .await
    .context("starting the server")?;
    println!("{}", server.resource);
    eprintln!("  Listening on {}", server.addr);
    let public = server.resource.url();
    if public.port_or_known_default() != Some(server.addr.port()) {
        eprintln!(
            "  The resource URI names port {}, this server listens on {}: clients reach it \
             through the proxy that serves {} and forwards here.",
            public.port_or_known_default().unwrap_or_default(),
            server.addr.port(),
            public.origin().ascii_serialization()
        );
    }
    eprintln!(
        "  Protected resource metadata:  {}",
        server.resource_metadata
    );
    eprintln!("  Authorization server (façade): {}", server.issuer);
    wait_for_stop().await?;
    server.shutdown().await.context("stopping the server")
}

/// Where Cognito mode listens: `--listen`, else 127.0.0.1 at `--port`. Cognito has the resource
/// URI registered (its resource server, the façade's callback), so when that URI is on this
/// machine, `--port` cannot move it: clients and tokens keep naming its port.
fn cognito_listen(args: &ServeArgs, deployment: &Deployment) -> anyhow::Result<Option<SocketAddr>> {
    if let Some(addr) = args.listen {
        return Ok(Some(addr));
    }
    let Some(port) = args.port else {
        return Ok(None);
    };
    let resource = deployment.resource.url();
    let registered = resource.port_or_known_default().unwrap_or_default();
    if is_loopback_http(resource) && port != registered {
        anyhow::bail!(
            "--port {port} is not the port of the deployment's resource URI {resource}: Cognito \
             has that URI registered (its resource server and the façade's callback), so clients \
             and tokens name port {registered}. Leave --port out; or run local mode on any port \
             with `cargo xtask serve --local --port {port}`; or redeploy on another port with \
             `cargo xtask deploy --resource-uri http://localhost:PORT/mcp --callback-url \
             http://localhost:PORT/oauth/callback`; or, behind a proxy that forwards \
             {origin} here, use --listen 127.0.0.1:PORT",
            origin = resource.origin().ascii_serialization()
        );
    }
    Ok(Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)))
}

/// `MCP_INTROSPECTION_URL`, `_CLIENT_ID` and `_CLIENT_SECRET`: all three, or none.
fn introspection_from_env() -> anyhow::Result<Option<IntrospectionConfig>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("MCP_INTROSPECTION_URL"),
        var("MCP_INTROSPECTION_CLIENT_ID"),
        var("MCP_INTROSPECTION_CLIENT_SECRET"),
    ) {
        (None, None, None) => Ok(None),
        (Some(url), Some(client_id), Some(client_secret)) => Ok(Some(IntrospectionConfig {
            endpoint: url.parse().context("MCP_INTROSPECTION_URL is not a URL")?,
            client_id,
            client_secret,
            max_cache: std::time::Duration::from_secs(60),
            cache_capacity: 10_000,
        })),
        _ => anyhow::bail!(
            "set all of MCP_INTROSPECTION_URL, MCP_INTROSPECTION_CLIENT_ID and \
             MCP_INTROSPECTION_CLIENT_SECRET, or none"
        ),
    }
}

async fn wait_for_stop() -> anyhow::Result<()> {
    eprintln!("Press Ctrl-C to stop.");
    stop_signal()?.await;
    eprintln!("Stopping...");
    Ok(())
}

/// Resolves on Ctrl-C, or on SIGTERM (what `kill`, systemd and container runtimes send): both
/// stop the server gracefully and remove the files it wrote. The handlers are installed before
/// this returns, so no signal is lost between the two.
#[cfg(unix)]
fn stop_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn stop_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The log lines written while `emit` runs under the filter for `rust_log`.
    fn logged(rust_log: &str, emit: impl FnOnce()) -> String {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(log_filter(Some(rust_log)))
            .with_ansi(false)
            .with_writer(move || Sink(writer.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        String::from_utf8(out.lock().expect("the log sink").clone()).expect("UTF-8 log lines")
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("the log sink").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn no_log_level_lifts_the_sdk_and_wire_traces() {
        for rust_log in ["trace", "aws_smithy_runtime=trace,hyper=trace,trace"] {
            let out = logged(rust_log, || {
                tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "item: refresh-token-1");
                tracing::trace!(target: "hyper::proto::h1::io", "bytes: access-token-2");
                tracing::debug!(target: "hyper_util::client", "bytes: access-token-3");
                tracing::trace!(target: "mcp_auth_server::facade", "the server's own trace");
            });
            assert!(!out.contains("token-"), "{rust_log}: {out}");
            assert!(out.contains("the server's own trace"), "{rust_log}: {out}");
        }
    }

    #[tokio::test]
    async fn sigterm_stops_the_server_as_ctrl_c_does() {
        let stopped = stop_signal().unwrap();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        tokio::time::timeout(std::time::Duration::from_secs(10), stopped)
            .await
            .expect("SIGTERM was not seen");
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    let filter = log_filter(std::env::var("RUST_LOG").ok().as_deref());
    // Colour codes are for people at a terminal, not for log files and collectors
    // (https://no-color.org: a non-empty NO_COLOR turns them off).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Targets whose trace (and for some, debug) output carries what was sent and received: the AWS
/// SDK logs DynamoDB items (codes, upstream state, tokens) and HTTP bodies, hyper and h2 the bytes
/// on the wire. No `RUST_LOG` may lift them past these levels (issue 21: `RUST_LOG=trace` in
/// Cognito mode printed Cognito's refresh tokens).
const QUIET_TARGETS: [&str; 8] = [
    "aws_smithy_runtime=debug",
    "aws_smithy_runtime_api=debug",
    "aws_smithy_http_client=info",
    "aws_sdk_dynamodb=debug",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "reqwest=info",
];

/// The log filter: `RUST_LOG` (or the default), with [`QUIET_TARGETS`] capped whatever it says.
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    use tracing_subscriber::EnvFilter;
    let mut filter = rust_log
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("info,tower_http=warn,rmcp=warn"));
    for quiet in QUIET_TARGETS {
        filter = filter.add_directive(quiet.parse().expect("a valid directive"));
    }
    filter
}

/// Every connection is a file descriptor, and the connection cap is derived from the limit on
/// them: raise the soft limit to the hard one (1024 is a common default soft limit).
fn raise_fd_limit() {
    if let Err(e) = mcp_auth_server::connections::raise_fd_limit() {
        eprintln!(
            "warning: could not raise the open-files limit ({e}); the connection cap follows the current one"
        );
    }
}
