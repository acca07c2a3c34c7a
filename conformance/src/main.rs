//! `mcp-auth-conformance URL`: judge an MCP server's authorization against the MCP spec, as a
//! CI gate. The same checks as `cargo xtask conformance`, without the rest of the workspace (no
//! AWS SDK, no bundled server): `cargo install --path conformance`.

use std::process::ExitCode;

use clap::Parser;
use mcp_auth_conformance::cli::{ConformanceArgs, Defaults, judge};

/// Judge an MCP server's authorization against the MCP spec (exit 0: no failure at the chosen
/// level, 1: a failure, 2: the run could not proceed)
#[derive(Debug, Parser)]
#[command(name = "mcp-auth-conformance", version)]
struct Cli {
    #[command(flatten)]
    args: ConformanceArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let Cli { args } = Cli::parse();
    match run(args).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: ConformanceArgs) -> anyhow::Result<u8> {
    args.validate()?;
    let Some(target) = args.url.clone() else {
        anyhow::bail!(
            "give the MCP server's URL, e.g. mcp-auth-conformance https://mcp.example.com/mcp \
             (in the mcp-auth-kit workspace, `cargo xtask conformance` without a URL checks the \
             bundled server)"
        );
    };
    let options = args.run_options(Defaults::default())?;
    judge(&args, &target, &options).await
}
