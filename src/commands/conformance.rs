//! `cargo xtask conformance [URL]`: judge an MCP server's authorization; with no URL, the
//! bundled server in local mode (the project's demo).

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use mcp_auth_conformance::{
    catalogue::{Level, Revision},
    client::{browser::Credentials, token::ClientAuth},
    observe::flow::{Interactive, Login},
    run::{RunOptions, check_selection, run as run_checks},
};
use mcp_auth_server::local::{LocalOptions, LocalServer};

use crate::cli::{ConformanceArgs, FailOn, LoginMethod, ReportFormat};

/// Runs the checks; returns the exit code (0 conforming, 1 failing). Errors mean "could not run".
pub async fn run(args: ConformanceArgs) -> anyhow::Result<u8> {
    let token = given_token(&args.token, &args.token_file)?;
    if args.cimd_url.len() > 2 {
        anyhow::bail!(
            "--cimd-url takes the document's URL and, optionally, a second URL serving the same document"
        );
    }
    let mut expired_token = given_token(&args.expired_token, &args.expired_token_file)?;
    let mut login = login(&args)?;
    // A typo in --only or --skip is an error before anything starts.
    check_selection(&RunOptions {
        only: args.only.clone(),
        skip: args.skip.clone(),
        ..RunOptions::new(None)
    })?;
    let mut step_up_tool = args.step_up_tool.clone();
    let (target, bundled) = match &args.url {
        Some(url) => (url.clone(), None),
        None => {
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
            // The demo signs in as a person would: the façade's consent page, then the
            // development AS's sign-in form, as its printed development user.
            if matches!(login, Login::Interactive(_)) {
                eprintln!(
                    "Sign in as {} with the password {} (the development user).",
                    server.user.username, server.user.password
                );
            }
            if matches!(login, Login::None) && token.is_none() {
                login = Login::Form(Credentials {
                    username: server.user.username.clone(),
                    password: server.user.password.clone(),
                });
            }
            step_up_tool.get_or_insert_with(|| "notes_add".into());
            if expired_token.is_none() {
                expired_token = Some(
                    server
                        .expired_token()
                        .context("signing an expired token at the development AS")?,
                );
            }
            (server.resource.as_str().parse()?, Some(server))
        }
    };
    let options = RunOptions {
        only: args.only.clone(),
        skip: args.skip.clone(),
        token,
        expired_token,
        cimd_urls: args.cimd_url.clone(),
        login,
        scope: args.scope.clone(),
        step_up_tool,
        ..RunOptions::new(
            args.spec
                .as_deref()
                .map(|s| Revision::parse(s).context("unknown --spec"))
                .transpose()?,
        )
    };
    let report = run_checks(&target, &options)
        .await
        .context("the checks could not run")?;
    if let Some(server) = bundled {
        server.shutdown().await?;
    }
    match args.format {
        ReportFormat::Table => {
            use std::io::IsTerminal;
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            println!("{}", report.styled_table(colour));
        }
        ReportFormat::Json => println!("{}", report.json()),
        ReportFormat::Markdown => println!("{}", report.markdown()),
        ReportFormat::Junit => println!("{}", report.junit()),
        ReportFormat::Sarif => println!("{}", report.sarif()),
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in [
            ("report.json", report.json()),
            ("report.md", report.markdown()),
            ("report.junit.xml", report.junit()),
            ("report.sarif", report.sarif()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        eprintln!("Reports written to {}", dir.display());
    }
    let level = match args.fail_on {
        FailOn::Must => Level::Must,
        FailOn::Should => Level::Should,
    };
    if let Some(path) = &args.baseline {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the baseline {}", path.display()))?;
        let baseline: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let regressions = report
            .regressions(&baseline, level)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if regressions.is_empty() {
            eprintln!("No regression against {}.", path.display());
            return Ok(0);
        }
        eprintln!(
            "Regressions against {}: {}",
            path.display(),
            regressions
                .iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(1);
    }
    Ok(u8::try_from(report.exit_code(level)).unwrap_or(1))
}

/// Shows a sign-in page to the person at the terminal: the URL always (a browser may not open,
/// or be on another machine), and their browser when there is one.
pub(crate) fn open_in_browser(url: &url::Url) {
    eprintln!("\nSign in in your browser (the tester waits for the answer):\n  {url}");
    if let Err(e) = webbrowser::open(url.as_str()) {
        eprintln!("  (no browser opened: {e}; open the URL yourself)");
    }
}

/// A token given on the command line or in a file.
fn given_token(
    value: &Option<String>,
    file: &Option<std::path::PathBuf>,
) -> anyhow::Result<Option<String>> {
    Ok(match (value, file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the token file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    })
}

/// The sign-in the options ask for.
fn login(args: &ConformanceArgs) -> anyhow::Result<Login> {
    if let Some(pair) = &args.client_credentials {
        let (id, secret) = pair
            .split_once(':')
            .context("--client-credentials takes ID:SECRET")?;
        return Ok(Login::ClientCredentials(ClientAuth::Basic {
            id: id.to_owned(),
            secret: secret.to_owned(),
        }));
    }
    let method = match (args.interactive, args.login) {
        (true, _) => LoginMethod::Interactive,
        (false, Some(method)) => method,
        (false, None) if args.username.is_some() => LoginMethod::Form,
        (false, None) => LoginMethod::None,
    };
    match method {
        LoginMethod::None => Ok(Login::None),
        LoginMethod::Interactive => Ok(Login::Interactive(Interactive {
            open: Arc::new(open_in_browser),
            patience: Duration::from_secs(args.interactive_timeout),
        })),
        LoginMethod::Form => {
            let username = args
                .username
                .clone()
                .context("--login form needs --username (or MCP_CONFORMANCE_USERNAME)")?;
            let password = args
                .password
                .clone()
                .context("--login form needs --password (or MCP_CONFORMANCE_PASSWORD)")?;
            Ok(Login::Form(Credentials { username, password }))
        }
    }
}
