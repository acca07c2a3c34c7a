//! `cargo xtask`: the mcp-auth-kit command line.

mod app_clients;
mod aws;
mod cli;
mod commands;
mod env_layout;
mod envfile;
mod example_client;
mod stack;

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;

use crate::cli::{Cli, Command};

// The bundled server allocates per request (rmcp builds a service, a channel and a task for
// each stateless request); mimalloc serves that pattern faster than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status after Ctrl-C, as shells report it (128 + SIGINT).
const INTERRUPTED: u8 = 130;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Conformance(args) = cli.command {
        // Its own exit codes: 0 conforming, 1 a failure at the chosen level, 2 could not run.
        return match commands::conformance::run(*args).await {
            Ok(code) => ExitCode::from(code),
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(2)
            }
        };
    }
    if matches!(
        cli.command,
        Command::Serve(_)
            | Command::Bench(_)
            | Command::Client(_)
            | Command::Smoke(_)
            | Command::Emulator(_)
    ) {
        // The server handles Ctrl-C itself, to shut down gracefully.
        return report(run(cli.command).await);
    }
    let interrupted_hint = interrupted_hint(&cli.command);
    tokio::select! {
        result = run(cli.command) => report(result),
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\n{interrupted_hint}");
            ExitCode::from(INTERRUPTED)
        }
    }
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let root = workspace_root();
    match command {
        Command::Deploy(args) => commands::deploy::run(args, &root).await,
        Command::Cleanup(args) => commands::cleanup::run(args, &root).await,
        Command::Outputs(args) => commands::outputs::run(args).await,
        Command::Smoke(args) => commands::smoke::run(args, &root).await,
        Command::Serve(args) => commands::serve::run(args, &root).await,
        Command::Bench(args) => commands::bench::run(args).await,
        Command::Client(args) => commands::client::run(args, &root).await,
        Command::Emulator(args) => commands::emulator::run(args, &root).await,
        Command::Conformance(_) => unreachable!("handled in main"),
    }
}

/// What to tell someone who pressed Ctrl-C: CloudFormation does not stop with us.
fn interrupted_hint(command: &Command) -> String {
    let aws = match command {
        Command::Deploy(a) => &a.aws,
        Command::Cleanup(a) => &a.aws,
        Command::Outputs(a) => &a.aws,
        Command::Serve(_)
        | Command::Bench(_)
        | Command::Client(_)
        | Command::Conformance(_)
        | Command::Emulator(_)
        | Command::Smoke(_) => {
            unreachable!("not an AWS command")
        }
    };
    let mut resume = format!("cargo xtask outputs --wait --stack-name {}", aws.stack_name);
    if let Some(region) = &aws.region {
        resume.push_str(&format!(" --region {region}"));
    }
    if let Some(profile) = &aws.profile {
        resume.push_str(&format!(" --profile {profile}"));
    }
    format!(
        "Interrupted. A stack operation already started goes on in CloudFormation without this \
         command; follow it with:\n  {resume}"
    )
}

/// The workspace root: this package is the root package, so its manifest folder is the root.
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
