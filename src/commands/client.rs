//! `cargo xtask client`: an example MCP client, as a page on loopback or (`--no-browser`) in
//! the terminal.

use std::{net::SocketAddr, path::Path};

use anyhow::{Context, bail};
use mcp_auth_conformance::client::browser::{Browser, Credentials, Landing};

use crate::{
    cli::ClientArgs,
    example_client::{
        session::{Session, ToolOutcome},
        settings::{self, ClientSettings, Registration},
        web::{self, READ_TOOL, WRITE_TOOL},
    },
};

/// Runs the client until Ctrl-C (page) or the end of the flow (`--no-browser`).
pub async fn run(args: ClientArgs, root: &Path) -> anyhow::Result<()> {
    let mut settings = settings::resolve(
        root,
        args.registration,
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
            .with_context(|| format!("listening on {addr} (another client running? --port)"))?;
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
        let credentials = match (&args.username, &args.password) {
            (Some(u), Some(p)) => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => None,
        };
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

/// The whole flow in the terminal: sign in, the read tool, then the write tool with the step-up.
async fn headless(
    settings: ClientSettings,
    credentials: Option<Credentials>,
) -> anyhow::Result<()> {
    let browser = Browser::new(&settings.server, credentials);
    let redirect = settings.redirect_uri();
    let mut session = Session::new(settings);
    let mut printed = 0;
    let mut flush = |session: &Session| {
        for step in &session.timeline[printed..] {
            println!("{}", step.to_text());
        }
        printed = session.timeline.len();
    };
    let result = async {
        sign_in(&mut session, &browser, &redirect, None).await?;
        flush(&session);
        let read = session.call_tool(READ_TOOL, serde_json::json!({})).await?;
        flush(&session);
        match read {
            ToolOutcome::Result(r) => println!("\n{READ_TOOL} -> {}\n", text(&r)),
            ToolOutcome::NeedsScope(s) => bail!("{READ_TOOL} needs {s}, which was asked for"),
        }
        let mut write = session
            .call_tool(WRITE_TOOL, web::write_arguments())
            .await?;
        flush(&session);
        if let ToolOutcome::NeedsScope(scope) = &write {
            sign_in(&mut session, &browser, &redirect, Some(scope)).await?;
            flush(&session);
            write = session
                .call_tool(WRITE_TOOL, web::write_arguments())
                .await?;
            flush(&session);
        }
        match write {
            ToolOutcome::Result(r) => println!("\n{WRITE_TOOL} -> {}\n", text(&r)),
            ToolOutcome::NeedsScope(s) => {
                bail!("{WRITE_TOOL} still needs {s} after signing in for it")
            }
        }
        flush(&session);
        anyhow::Ok(())
    }
    .await;
    flush(&session);
    result
}

async fn sign_in(
    session: &mut Session,
    browser: &Browser,
    redirect: &url::Url,
    scope: Option<&str>,
) -> anyhow::Result<()> {
    let url = session.begin_login(scope).await?;
    let navigation = browser.authorize(&url, redirect).await;
    match &navigation.landing {
        Landing::Callback(response) => Ok(session.complete(response).await?),
        Landing::NeedsCredentials => bail!(
            "the sign-in asks for a user: give --username and --password (`cargo xtask serve` prints the development user)"
        ),
        _ => bail!("the sign-in did not come back: {}", navigation.describe()),
    }
}

fn text(result: &serde_json::Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .map_or_else(|| result.to_string(), str::to_owned)
}
