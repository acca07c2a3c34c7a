//! The tester's command line, shared by the standalone `mcp-auth-conformance` binary and
//! `cargo xtask conformance` (which adds the bundled-server demo): the options, turning them into
//! a run, and the reports, files and exit code that come out of one.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use url::Url;

use crate::{
    catalogue::Level,
    client::{browser::Credentials, token::ClientAuth},
    observe::flow::{Interactive, Login},
    report::Report,
    revision::Revision,
    run::{RunOptions, check_selection, run as run_checks},
};

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table for people.
    Table,
    /// JSON (schema version 1).
    Json,
    /// Markdown.
    Markdown,
    /// JUnit XML.
    Junit,
    /// SARIF 2.1.0, for code-scanning views.
    Sarif,
}

/// The weakest level whose failures fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// MUST failures only.
    Must,
    /// MUST and SHOULD failures.
    Should,
}

/// How the conformance run signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoginMethod {
    /// No sign-in: the flow checks that need one skip.
    None,
    /// Submit the authorization server's HTML forms (sign-in and consent).
    Form,
    /// Open the browser for a person to sign in; wait on a loopback callback.
    Interactive,
}

/// Options of `conformance`.
#[derive(Debug, clap::Args)]
pub struct ConformanceArgs {
    /// The MCP endpoint to check, e.g. https://mcp.example.com/mcp (`cargo xtask conformance`
    /// without one starts the bundled server in local mode and checks it)
    #[arg(value_parser = target_url)]
    pub url: Option<Url>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Also write report.json, report.md, report.junit.xml and report.sarif into this folder
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Fail (exit 1) on failures at this level or stronger
    #[arg(long, value_enum, default_value_t = FailOn::Must)]
    pub fail_on: FailOn,
    /// A saved JSON report: fail only on checks that fail now and did not fail then
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Run only these checks (ids or prefixes such as prm), repeatable
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Leave out these checks (ids or prefixes), repeatable
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,
    /// The MCP revision to judge against (default: the one the server speaks, asked with the
    /// token; the current one when there is no token to ask with)
    #[arg(long, value_name = "REVISION", value_parser = ["2025-11-25", "2026-07-28"])]
    pub spec: Option<String>,
    /// An access token for the server, obtained elsewhere (the checks that need one skip without)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MCP_CONFORMANCE_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,
    /// A file holding the access token (safer than --token: not in shell history or ps)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Where you published the tester's client metadata document, for a server that cannot
    /// reach the tester's loopback (the run prints the document to publish); give a second URL
    /// serving the same document to run the client_id mismatch check too
    #[arg(long, value_name = "URL", num_args = 1, action = clap::ArgAction::Append, value_parser = target_url)]
    pub cimd_url: Vec<Url>,
    /// A token of the server's authorization server that has expired, for the expiry check
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MCP_CONFORMANCE_EXPIRED_TOKEN",
        hide_env_values = true,
        conflicts_with = "expired_token_file"
    )]
    pub expired_token: Option<String>,
    /// A file holding such an expired token
    #[arg(long, value_name = "FILE")]
    pub expired_token_file: Option<PathBuf>,
    /// How to sign in for the flow checks: `form` submits the AS's sign-in and consent forms
    /// with --username/--password; `interactive` opens your browser for each sign-in
    /// [default: form when a username is given, else none]
    #[arg(long, value_enum, value_name = "HOW")]
    pub login: Option<LoginMethod>,
    /// Same as --login interactive: sign in yourself, in your browser (the answers come back
    /// to a loopback listener)
    #[arg(long, conflicts_with = "login")]
    pub interactive: bool,
    /// With --interactive: how long to wait for each sign-in
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    pub interactive_timeout: u64,
    /// The user to sign in as (with --login form)
    #[arg(long, value_name = "USER", env = "MCP_CONFORMANCE_USERNAME")]
    pub username: Option<String>,
    /// That user's password (prefer the environment variable: not in shell history or ps)
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "MCP_CONFORMANCE_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Get a token with the client credentials grant for this client, ID:SECRET
    #[arg(
        long,
        value_name = "ID:SECRET",
        env = "MCP_CONFORMANCE_CLIENT_CREDENTIALS",
        hide_env_values = true
    )]
    pub client_credentials: Option<String>,
    /// The scope to ask for [default: the scope in the server's 401 challenge, else the
    /// Protected Resource Metadata's scopes_supported]
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// A tool the requested scope does not allow: called to check the 403 insufficient_scope
    /// step-up (with no arguments) [default with no URL: notes_add]
    #[arg(long, value_name = "TOOL")]
    pub step_up_tool: Option<String>,
}

/// Parses the URL of the server to judge, saying what to do when it is not one.
pub fn target_url(s: &str) -> Result<Url, String> {
    if !s.contains("://") {
        return Err(format!(
            "{s:?} is not a URL: add http:// or https:// (for example https://{})",
            s.trim_start_matches('/')
        ));
    }
    let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "{s:?} uses {other}:, but MCP servers speak HTTP: give an http:// or https:// URL"
        )),
    }
}

/// What the demo (or the caller) fills in when the options leave it open.
#[derive(Debug, Default)]
pub struct Defaults {
    /// Sign in this way when the options name no way.
    pub login: Option<Login>,
    /// The step-up tool when none is named.
    pub step_up_tool: Option<String>,
    /// The expired token when none is given.
    pub expired_token: Option<String>,
}

impl ConformanceArgs {
    /// Checks the options that can be wrong before anything runs (a typo in --only, a
    /// missing token file), so a CI gate never runs half-configured.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.cimd_url.len() > 2 {
            anyhow::bail!(
                "--cimd-url takes the document's URL and, optionally, a second URL serving the same document"
            );
        }
        check_selection(&RunOptions {
            only: self.only.clone(),
            skip: self.skip.clone(),
            ..RunOptions::new(None)
        })?;
        self.login()?;
        Ok(())
    }

    /// The run these options describe, with `defaults` where they are silent.
    pub fn run_options(&self, defaults: Defaults) -> anyhow::Result<RunOptions> {
        let token = given_token(&self.token, &self.token_file)?;
        let mut login = self.login()?;
        if matches!(login, Login::None)
            && token.is_none()
            && let Some(default) = defaults.login
        {
            login = default;
        }
        Ok(RunOptions {
            only: self.only.clone(),
            skip: self.skip.clone(),
            token,
            expired_token: given_token(&self.expired_token, &self.expired_token_file)?
                .or(defaults.expired_token),
            cimd_urls: self.cimd_url.clone(),
            login,
            scope: self.scope.clone(),
            step_up_tool: self.step_up_tool.clone().or(defaults.step_up_tool),
            ..RunOptions::new(
                self.spec
                    .as_deref()
                    .map(|s| Revision::parse(s).context("unknown --spec"))
                    .transpose()?,
            )
        })
    }

    /// Whether the options ask for a person at the browser.
    pub fn interactive(&self) -> bool {
        self.interactive || self.login == Some(LoginMethod::Interactive)
    }

    /// The sign-in the options ask for.
    fn login(&self) -> anyhow::Result<Login> {
        if let Some(pair) = &self.client_credentials {
            let (id, secret) = pair
                .split_once(':')
                .context("--client-credentials takes ID:SECRET")?;
            return Ok(Login::ClientCredentials(ClientAuth::Basic {
                id: id.to_owned(),
                secret: secret.to_owned(),
            }));
        }
        let method = match (self.interactive, self.login) {
            (true, _) => LoginMethod::Interactive,
            (false, Some(method)) => method,
            (false, None) if self.username.is_some() => LoginMethod::Form,
            (false, None) => LoginMethod::None,
        };
        match method {
            LoginMethod::None => Ok(Login::None),
            LoginMethod::Interactive => Ok(Login::Interactive(Interactive {
                open: Arc::new(open_in_browser),
                patience: Duration::from_secs(self.interactive_timeout),
            })),
            LoginMethod::Form => {
                let username = self
                    .username
                    .clone()
                    .context("--login form needs --username (or MCP_CONFORMANCE_USERNAME)")?;
                let password = self
                    .password
                    .clone()
                    .context("--login form needs --password (or MCP_CONFORMANCE_PASSWORD)")?;
                Ok(Login::Form(Credentials { username, password }))
            }
        }
    }
}

/// Runs the checks against `target` and reports as `args` say; returns the exit code (0 no
/// failure at the chosen level, 1 a failure or a regression). Errors mean "could not run" (2).
pub async fn judge(
    args: &ConformanceArgs,
    target: &Url,
    options: &RunOptions,
) -> anyhow::Result<u8> {
    let report = run_checks(target, options)
        .await
        .context("the checks could not run")?;
    print(&report, args.format);
    if let Some(dir) = &args.out {
        write_reports(&report, dir)?;
    }
    let level = match args.fail_on {
        FailOn::Must => Level::Must,
        FailOn::Should => Level::Should,
    };
    match &args.baseline {
        Some(path) => against_baseline(&report, path, level),
        None => Ok(u8::try_from(report.exit_code(level)).unwrap_or(1)),
    }
}

fn print(report: &Report, format: ReportFormat) {
    match format {
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
}

/// Writes every format into `dir`.
fn write_reports(report: &Report, dir: &std::path::Path) -> anyhow::Result<()> {
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
    Ok(())
}

/// 1 when a check fails now that did not fail in the saved report, else 0.
fn against_baseline(report: &Report, path: &std::path::Path, level: Level) -> anyhow::Result<u8> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the baseline {}", path.display()))?;
    let baseline: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
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
    Ok(1)
}

/// Shows a sign-in page to the person at the terminal: the URL always (a browser may not open,
/// or be on another machine), and their browser when there is one.
pub fn open_in_browser(url: &Url) {
    eprintln!("\nSign in in your browser (the tester waits for the answer):\n  {url}");
    if let Err(e) = webbrowser::open(url.as_str()) {
        eprintln!("  (no browser opened: {e}; open the URL yourself)");
    }
}

/// A token given on the command line or in a file.
fn given_token(value: &Option<String>, file: &Option<PathBuf>) -> anyhow::Result<Option<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_that_is_not_an_http_url_says_what_to_do() {
        for (given, says) in [
            ("not-a-url", "add http:// or https://"),
            ("127.0.0.1:8080/mcp", "add http:// or https://"),
            ("localhost:8080/mcp", "add http:// or https://"),
            ("ftp://mcp.example.com/mcp", "MCP servers speak HTTP"),
            ("http://", "is not a URL"),
        ] {
            let err = target_url(given).unwrap_err();
            assert!(err.contains(says), "{given}: {err}");
        }
        assert!(target_url("https://mcp.example.com/mcp").is_ok());
        assert!(target_url("http://127.0.0.1:8080/mcp").is_ok());
    }
}
