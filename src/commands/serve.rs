//! `cargo xtask serve`: the bundled MCP server.

use std::path::Path;

use anyhow::{Context, bail};
use mcp_auth_server::local::{LocalOptions, LocalServer};

use crate::{cli::ServeArgs, env_layout};

/// Runs the server until Ctrl-C.
pub async fn run(args: ServeArgs, root: &Path) -> anyhow::Result<()> {
    init_logging();
    let deployment_env = root.join(env_layout::SERVER);
    if deployment_env.exists() {
        bail!(
            "{} exists (written by `cargo xtask deploy`), but serving against Cognito needs the \
             authorization façade, which is not built yet. To run in local mode meanwhile, move \
             that file aside",
            deployment_env.display()
        );
    }
    eprintln!(
        "No deployment env file ({}): local mode, with the embedded development authorization server.",
        env_layout::SERVER
    );
    let server = LocalServer::start(LocalOptions {
        port: args.port,
        allowed_origins: args.allowed_origins,
        auto_approve: args.auto_approve,
    })
    .await
    .context("starting the server")?;
    // The MCP URL alone on one line, so scripts can pick it up.
    println!("{}", server.resource);
    eprintln!(
        "  Protected resource metadata:   {}",
        server.resource_metadata
    );
    eprintln!(
        "  Development authorization server (not for production): {}",
        server.dev_issuer
    );
    eprintln!(
        "  Dev user:       {}  password: {}",
        server.user.username, server.user.password
    );
    eprintln!(
        "  Static client:  id {}  secret {}  redirect {}",
        server.static_client.id,
        server.static_client.secret.as_deref().unwrap_or("-"),
        server.static_client.redirect_uris.join(" ")
    );
    if args.auto_approve {
        eprintln!("  Auto-approve is ON: every sign-in is approved without a login.");
    }
    eprintln!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    eprintln!("Stopping...");
    server.shutdown().await.context("stopping the server")?;
    Ok(())
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn,rmcp=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
