//! Command-line interface of `cargo xtask`.

use std::{path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{
    aws::{self, AwsContext, AwsError},
    stack::{StackName, parameters::StackParameterFlags},
};

/// `cargo xtask`: provision the Cognito stack and manage the env files that point at it.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    version,
    about = "mcp-auth-kit: put an MCP server on the internet with OAuth 2.1 and AWS Cognito",
    term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the Cognito stack, then write the env files the server and clients read
    Deploy(DeployArgs),
    /// Delete the stack (user pool with every user, clients, table with every registration) and
    /// its env files, after a confirmation
    Cleanup(CleanupArgs),
    /// Show the stack's status and outputs
    Outputs(OutputsArgs),
    /// After deploy, on real AWS: check the stack, run the server against it and the conformance
    /// tester with your sign-in, check Cognito's tokens, and write a report
    Smoke(SmokeArgs),
    /// Run the bundled MCP server: against the deployed stack, or offline with a development AS
    Serve(ServeArgs),
    /// Check an MCP server's authorization against the MCP spec (no URL: the bundled server)
    Conformance(Box<mcp_auth_conformance::cli::ConformanceArgs>),
    /// Run an example MCP client (static, DCR or CIMD registration) that shows every step, or
    /// (--conformance) the client a conformance suite runs
    Client(ClientArgs),
    /// Measure the bundled server (run with --release: cargo run --release -p xtask -- bench)
    Bench(BenchArgs),
    /// Run the tests' AWS emulator (moto, with the project's Cognito models) in the foreground,
    /// to try deploy, serve and cleanup without AWS; prints the environment to use it
    Emulator(EmulatorArgs),
}

/// Where the stack lives and how to reach AWS.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Named profile from the AWS config files [default: AWS_PROFILE, else the default profile]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region [default: AWS_REGION, else the profile's region]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// CloudFormation stack name
    #[arg(
        long,
        value_name = "NAME",
        env = "MCP_AUTH_KIT_STACK",
        hide_env_values = true,
        default_value = "mcp-auth-kit"
    )]
    pub stack_name: StackName,
}

impl AwsArgs {
    /// Connects to AWS with these flags over the standard chain.
    pub async fn connect(&self) -> Result<AwsContext, AwsError> {
        aws::connect(self.profile.as_deref(), self.region.as_deref()).await
    }
}

/// Options of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    #[command(flatten)]
    pub parameters: StackParameterFlags,
    /// CloudFormation template to deploy [default: stacks/mcp-auth.yaml in the workspace]
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// If an earlier create failed (ROLLBACK_COMPLETE), delete that stack and create it anew
    #[arg(long)]
    pub replace_failed: bool,
    /// Give up waiting after this long, e.g. 90s, 20m, 1h (the stack operation itself goes on)
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = duration)]
    pub timeout: Duration,
    /// Folder the env files are written under [default: the workspace root]
    #[arg(long, value_name = "DIR")]
    pub env_dir: Option<PathBuf>,
}

/// Options of `cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Confirm the deletion of every user and registration without being asked (without it,
    /// cleanup asks you to type the stack name, and refuses when there is no terminal)
    #[arg(long)]
    pub yes: bool,
    /// Leave the env files in place
    #[arg(long)]
    pub keep_env: bool,
    /// Give up waiting after this long, e.g. 90s, 20m, 1h (the deletion itself goes on)
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = duration)]
    pub timeout: Duration,
    /// Folder the env files were written under [default: the workspace root]
    #[arg(long, value_name = "DIR")]
    pub env_dir: Option<PathBuf>,
}

/// Options of `outputs`.
#[derive(Debug, Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Print JSON instead of a table
    #[arg(long)]
    pub json: bool,
    /// If an operation is under way, follow its events until it settles first
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up waiting after this long, e.g. 90s, 20m, 1h
    #[arg(long, value_name = "DURATION", default_value = "60m", value_parser = duration)]
    pub timeout: Duration,
}

/// Options of `smoke`.
#[derive(Debug, Args)]
pub struct SmokeArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The env file `deploy` wrote [default: server/.env in the workspace]
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Where the server listens, e.g. the address your TLS proxy forwards the resource URI to
    /// [default: 127.0.0.1 and the resource URI's port]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// How long to wait for each sign-in in the browser
    #[arg(long, value_name = "SECONDS", default_value_t = 180)]
    pub interactive_timeout: u64,
    /// Where to write the report [default: smoke-report.md]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1, 0 for a free one (local mode: every printed and advertised URL names
    /// it) [default: 8080 in local mode; in Cognito mode the resource URI's port, which a
    /// loopback resource URI requires]
    #[arg(long, conflicts_with = "listen")]
    pub port: Option<u16>,
    /// Local mode even when server/.env exists: the embedded development authorization server
    /// signs users in and the deployment's env file is not read
    #[arg(long, conflicts_with_all = ["env_file", "listen"])]
    pub local: bool,
    /// The env file `cargo xtask deploy` wrote; when it exists the server runs in Cognito mode
    /// [default: server/.env under --env-dir]
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Folder the env files are read from and written under, as with `deploy --env-dir`
    /// [default: the workspace root]
    #[arg(long, value_name = "DIR")]
    pub env_dir: Option<PathBuf>,
    /// Cognito mode: the address to listen on, e.g. 0.0.0.0:8080 behind a TLS proxy [default:
    /// 127.0.0.1 and --port]; local mode listens on loopback only
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// A browser origin allowed to call the MCP endpoint, besides the server's own (repeatable)
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Skip the development login form and approve every sign-in (for automated tests only)
    #[arg(long)]
    pub auto_approve: bool,
    /// Local mode: trust this CA (PEM) for client metadata documents served over https on this
    /// machine, e.g. for an SDK that only takes https metadata URLs; nothing else trusts it
    #[arg(long, value_name = "PEM")]
    pub dev_ca: Option<PathBuf>,
    /// A reverse proxy in front of this server (an address or a CIDR network, repeatable;
    /// comma-separated in the environment): only from these peers is the client's address read
    /// from --forwarded-header, for the per-address limits [default: none; forwarded headers are
    /// ignored, the TCP peer is the client]
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "MCP_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies write the client's address in: x-forwarded-for or
    /// forwarded (RFC 7239); the other one is ignored
    #[arg(
        long,
        value_name = "HEADER",
        env = "MCP_FORWARDED_HEADER",
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: mcp_auth_server::client_address::ForwardedHeader,
}

/// Options of `client`.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// How the client gets its client id
    #[arg(long, value_enum, required_unless_present = "conformance")]
    pub registration: Option<crate::example_client::settings::Registration>,
    /// The MCP endpoint [default: MCP_SERVER_URL from the env file, else
    /// http://127.0.0.1:8080/mcp, where `cargo xtask serve` listens]
    #[arg(long, value_name = "URL")]
    pub server: Option<url::Url>,
    /// The app's port on 127.0.0.1 [default: 3000 static, 3002 dcr, 3003 cimd; static: the
    /// registered redirect URI's]
    #[arg(long)]
    pub port: Option<u16>,
    /// The env file to read [default: .env.client.<mode> from `deploy`; static in local mode:
    /// .env.client.static.local from `serve`]
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Run the flow in the terminal instead of serving the page: sign in through the AS's forms
    /// with --username/--password, call the read tool, then the write tool with the step-up
    #[arg(long)]
    pub no_browser: bool,
    /// Run as a conformance harness runs a client under test, against SERVER_URL: the revision
    /// from MCP_CONFORMANCE_PROTOCOL_VERSION, a pre-registered client from
    /// MCP_CONFORMANCE_CONTEXT (else CIMD when offered, else DCR), every tool that takes no
    /// arguments called; exit 0 when all of it worked
    #[arg(
        long,
        requires = "server_url",
        conflicts_with_all = ["registration", "server", "port", "env_file", "no_browser"]
    )]
    pub conformance: bool,
    /// With --conformance: the MCP endpoint (last, as harnesses append it)
    #[arg(value_name = "SERVER_URL", requires = "conformance")]
    pub server_url: Option<url::Url>,
    /// With --conformance: where the client's metadata document is published, its client_id
    /// under CIMD [default: the official conformance suite's, which its mock authorization
    /// servers accept without fetching]
    #[arg(long, value_name = "URL", requires = "conformance")]
    pub client_metadata_url: Option<url::Url>,
    /// With --no-browser or --conformance: the user to sign in as
    #[arg(long, value_name = "USER", env = "MCP_CLIENT_USERNAME")]
    pub username: Option<String>,
    /// With --no-browser or --conformance: the password (prefer the environment variable)
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "MCP_CLIENT_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
}

/// Options of `emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 4566)]
    pub port: u16,
}

/// Options of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Authenticated tools/call requests to send in all
    #[arg(long, default_value_t = 100_000)]
    pub requests: u64,
    /// Concurrent connections
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Stop sending after this long, whatever the count, e.g. 30s
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub max_time: Duration,
    /// Cold (uncached) token verifications to time
    #[arg(long, default_value_t = 20_000)]
    pub verifications: u64,
    /// Sequential tools/call requests on one 2025-11-25 session (one connection)
    #[arg(long, default_value_t = 2_000)]
    pub session_requests: u64,
}

/// Parses `90s`, `20m`, `1h`; a bare number is minutes.
fn duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 20m or 1h"))?;
    let secs = match unit {
        "s" => n,
        "" | "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{s:?} is not a duration like 90s, 20m or 1h")),
    };
    if secs == 0 {
        return Err("the timeout must be longer than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations() {
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(duration("20"), Ok(Duration::from_secs(1200)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "m", "0s", "1d", "-5m", "1.5h"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
