//! `cargo xtask conformance [URL]`: the tester (`mcp-auth-conformance`'s command line) with the
//! project's demo: with no URL, it starts the bundled server in local mode and judges it,
//! signing in as its development user.

use anyhow::Context;
use mcp_auth_conformance::{
    cli::{ConformanceArgs, Defaults, judge},
    client::browser::Credentials,
    observe::flow::Login,
};
use mcp_auth_server::local::{LocalOptions, LocalServer};

pub use mcp_auth_conformance::cli::open_in_browser;

/// Runs the checks; returns the exit code (0 conforming, 1 failing). Errors mean "could not run".
pub async fn run(args: ConformanceArgs) -> anyhow::Result<u8> {
    args.validate()?;
    if let Some(target) = &args.url {
        let options = args.run_options(Defaults::default())?;
        return judge(&args, target, &options).await;
    }
    let server = LocalServer::start(LocalOptions {
        port: 0,
        ..Default::default()
    })
    .await
    .context("starting the bundled server")?;
    eprintln!(
        "Checking the bundled server (local mode) at {}",
        server.resource
    );
    if args.interactive() {
        eprintln!(
            "Sign in as {} with the password {} (the development user).",
            server.user.username, server.user.password
        );
    }
    // The demo signs in as a person would: the façade's consent page, then the development
    // AS's sign-in form, as its printed development user; it names the tool beyond the first
    // scope and brings an expired token of its AS, so every check runs.
    let defaults = Defaults {
        login: Some(Login::Form(Credentials {
            username: server.user.username.clone(),
            password: server.user.password.clone(),
        })),
        step_up_tool: Some("notes_add".into()),
        expired_token: Some(
            server
                .expired_token()
                .context("signing an expired token at the development AS")?,
        ),
    };
    let options = args.run_options(defaults)?;
    let target = server.resource.as_str().parse()?;
    let code = judge(&args, &target, &options).await;
    server.shutdown().await?;
    code
}
