//! `cargo xtask client`: an example MCP client, as a page on loopback, in the terminal
//! (`--no-browser`), or as a conformance harness runs a client under test (`--conformance`).

use std::{net::SocketAddr, path::Path};

use anyhow::Context;
use mcp_auth_conformance::client::browser::Credentials;

use crate::{
    cli::ClientArgs,
    example_client::{
        conformance::{self, SUITE_METADATA_URL},
        headless::{Driver, text},
        session::Session,
        settings::{self, ClientSettings, Registration},
        web::{self, READ_TOOL, WRITE_TOOL},
    },
};

/// Runs the client until Ctrl-C (page) or the end of the flow (`--no-browser`,
/// `--conformance`).
pub async fn run(args: ClientArgs, root: &Path) -> anyhow::Result<()> {
    let credentials = match (&args.username, &args.password) {
        (Some(u), Some(p)) => Some(Credentials {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => None,
    };
    if args.conformance {
        let server = args.server_url.context("--conformance needs SERVER_URL")?;
        let metadata_url = match args.client_metadata_url {
            Some(url) => url,
            None => SUITE_METADATA_URL.parse().expect("a static URL"),
        };
        return conformance::run(server, metadata_url, credentials).await;
    }
    let registration = args
        .registration
        .context("--registration is needed without --conformance")?;
    let mut settings = settings::resolve(
        root,
        registration,
        args.server.clone(),
        args.port,
        args.env_file.clone(),
    )?;
    // The page always listens; headless, only CIMD must (the AS fetches its document).
    let listen = !args.no_browser || settings.registration == Registration::Cimd;
    let listener = if listen {
        let addr = SocketAddr::from(([127, 0, 0, 1], settings.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| busy_port(&settings, addr))?;
        settings.port = listener.local_addr()?.port();
        Some(listener)
    } else {
        None
    };
    eprintln!(
        "Example client, {} registration, for {} (settings: {})",
        settings.registration.as_str(),
        settings.server,
        settings.source
    );
    if args.no_browser {
        let app = listener.map(|l| {
            let session = Session::new(settings.clone());
            tokio::spawn(async move { axum::serve(l, web::router(session)).await })
        });
        let outcome = headless(settings, credentials).await;
        if let Some(app) = app {
            app.abort();
        }
        return outcome;
    }
    let listener = listener.expect("the page listens");
    println!("Open {}", settings.base());
    eprintln!("Ctrl-C stops it.");
    axum::serve(listener, web::router(Session::new(settings)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the page")
}

/// The whole flow in the terminal: the tools listed (signing in when the server asks), the
/// read tool, then the write tool, whose 403 asks for a wider sign-in.
async fn headless(
    settings: ClientSettings,
    credentials: Option<Credentials>,
) -> anyhow::Result<()> {
    let mut driver = Driver::new(settings, credentials);
    driver.request("tools/list", serde_json::json!({})).await?;
    let read = driver.call_tool(READ_TOOL, serde_json::json!({})).await?;
    println!("\n{READ_TOOL} -> {}\n", text(&read));
    let write = driver.call_tool(WRITE_TOOL, web::write_arguments()).await?;
    println!("\n{WRITE_TOOL} -> {}\n", text(&write));
    Ok(())
}

/// What to do when the client's port is taken: another port, unless a pre-registered redirect
/// URI fixes it (the AS matches it exactly), which only a new registration changes.
fn busy_port(settings: &ClientSettings, addr: SocketAddr) -> String {
    match &settings.static_client {
        Some(s) => format!(
            "cannot listen on {addr} (is another client, or something else, using it?). The \
             static client's redirect URI {} is registered at the authorization server with \
             this port, so --port cannot move it: stop what uses the port, or register another \
             callback with `cargo xtask deploy --example-callback-urls \
             http://localhost:PORT/callback` and use that port",
            s.redirect_uri
        ),
        None => format!(
            "cannot listen on {addr} (is another client, or something else, using it?): stop it, \
             or pick another port with --port"
        ),
    }
}
