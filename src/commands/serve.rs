//! `cargo xtask serve`: the bundled MCP server, in Cognito mode when a deployment env file
//! exists, otherwise in local mode with the embedded development authorization server.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
};

use anyhow::Context;
use mcp_auth_server::{
    cognito::{self, CognitoOptions, Deployment},
    introspection::IntrospectionConfig,
    local::{LocalOptions, LocalServer},
};

use crate::{
    cli::ServeArgs,
    env_layout::{self, LocalStatic},
    envfile::{self, Owner},
};

/// Runs the server until Ctrl-C.
pub async fn run(args: ServeArgs, root: &Path) -> anyhow::Result<()> {
    init_logging();
    raise_fd_limit();
    let env_file = args
        .env_file
        .clone()
        .unwrap_or_else(|| root.join(env_layout::SERVER));
    if env_file.exists() {
        return run_cognito(&args, &env_file).await;
    }
    if args.env_file.is_some() {
        anyhow::bail!(
            "{} does not exist: run `cargo xtask deploy` first",
            env_file.display()
        );
    }
    eprintln!(
        "No deployment env file ({}): local mode, with the embedded development authorization server.",
        env_layout::SERVER
    );
    let server = LocalServer::start(LocalOptions {
        port: args.port.unwrap_or(8080),
        allowed_origins: args.allowed_origins,
        auto_approve: args.auto_approve,
        token_lifetime: None,
    })
    .await
    .context("starting the server")?;
    // The MCP URL alone on one line, so scripts can pick it up.
    println!("{}", server.resource);
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
    if args.auto_approve {
        eprintln!("  Auto-approve is ON: every sign-in is approved without a login.");
    }
    let scopes = format!("openid {0}/mcp:read {0}/mcp:write", server.resource);
    let client_env = env_layout::local_static_client(
        root,
        &LocalStatic {
            server_url: server.resource.as_str(),
            issuer: &server.dev_issuer,
            client_id: &server.static_client.id,
            client_secret: server.static_client.secret.as_deref().unwrap_or_default(),
            redirect_uri: &server.static_client.redirect_uris[0],
            scopes: &scopes,
        },
    );
    match client_env.write(Owner::LocalServer) {
        Ok(()) => eprintln!(
            "  Static client settings: {} (0600)",
            client_env.path.display()
        ),
        Err(e) => eprintln!("  warning: the static client's env file was not written: {e}"),
    }
    let waited = wait_for_stop().await;
    if let Err(e) = envfile::remove(&client_env.path, Owner::LocalServer) {
        eprintln!("warning: {e}");
    }
    waited?;
    server.shutdown().await.context("stopping the server")
}

async fn run_cognito(args: &ServeArgs, env_file: &Path) -> anyhow::Result<()> {
    let deployment = Deployment::from_env_file(env_file)?;
    eprintln!(
        "Cognito mode, from {} (user pool {}).",
        env_file.display(),
        deployment.issuer
    );
    let csrf_key = std::env::var("FACADE_CSRF_KEY")
        .ok()
        .map(String::into_bytes);
    if csrf_key.as_ref().is_some_and(|k| k.len() < 32) {
        anyhow::bail!("FACADE_CSRF_KEY must be at least 32 characters");
    }
    let server = cognito::start(
        deployment,
        CognitoOptions {
            listen: args.listen.or_else(|| {
                args.port
                    .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
            }),
            allowed_origins: args.allowed_origins.clone(),
            csrf_key,
            introspection: introspection_from_env()?,
            aws: None,
        },
    )
    .await
    .context("starting the server")?;
    println!("{}", server.resource);
    eprintln!("  Listening on {}", server.addr);
    eprintln!(
        "  Protected resource metadata:  {}",
        server.resource_metadata
    );
    eprintln!("  Authorization server (façade): {}", server.issuer);
    wait_for_stop().await?;
    server.shutdown().await.context("stopping the server")
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
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,rmcp=warn"));
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

/// Every connection is a file descriptor, and the connection cap is derived from the limit on
/// them: raise the soft limit to the hard one (1024 is a common default soft limit).
fn raise_fd_limit() {
    if let Err(e) = mcp_auth_server::connections::raise_fd_limit() {
        eprintln!(
            "warning: could not raise the open-files limit ({e}); the connection cap follows the current one"
        );
    }
}
