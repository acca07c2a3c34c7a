//! `cargo xtask emulator`: the AWS emulator the tests use (moto in server mode, with the
//! project's CloudFormation models for the Cognito resources, `tests/aws-emulator/emulator.py`),
//! in the foreground until Ctrl-C, so `deploy`, `serve` and `cleanup` can be tried without AWS.
//! The Python environment (`.venv`) is created on first use.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

use crate::cli::EmulatorArgs;

/// The emulator script and the packages it needs, relative to the workspace root.
const SCRIPT: &str = "tests/aws-emulator/emulator.py";
const REQUIREMENTS: &str = "tests/aws-emulator/requirements.txt";

/// Runs the emulator until Ctrl-C.
pub async fn run(args: EmulatorArgs, root: &Path) -> anyhow::Result<()> {
    let python = python(root).await?;
    let mut child = Command::new(&python)
        .arg(root.join(SCRIPT))
        .args(["--port", &args.port.to_string()])
        // It serves until its standard input closes: it never outlives this command.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} with {}", SCRIPT, python.display()))?;
    // Held here: tokio's wait() closes a child's stdin, which would stop the emulator at once.
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .next_line()
        .await
        .context("reading the emulator's first line")?;
    let Some(endpoint) = ready.as_deref().and_then(|l| l.strip_prefix("READY ")) else {
        let status = child.wait().await.ok();
        bail!(
            "the emulator did not start (it said {ready:?}, exit {status:?}); is port {} free? \
             try --port 0",
            args.port
        );
    };
    println!("{}", exports(endpoint.trim()));
    eprintln!(
        "AWS emulator (moto) at {}: paste the lines above into another shell, then run \
         `cargo xtask deploy`, `serve`, `cleanup`. State is in memory. Press Ctrl-C to stop.",
        endpoint.trim()
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!("Stopping the emulator..."),
        status = child.wait() => bail!("the emulator stopped on its own ({})", status?),
    }
    drop(stdin);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
    Ok(())
}

/// The shell lines that point the AWS SDKs (and this CLI) at the emulator, with dummy
/// credentials: nothing configured this way can reach real AWS.
fn exports(endpoint: &str) -> String {
    [
        format!("export AWS_ENDPOINT_URL={endpoint}"),
        "export AWS_REGION=us-east-1".into(),
        "export AWS_ACCESS_KEY_ID=testing".into(),
        "export AWS_SECRET_ACCESS_KEY=testing".into(),
        "unset AWS_PROFILE AWS_SESSION_TOKEN".into(),
    ]
    .join("\n")
}

/// The Python with moto: `MCP_AUTH_KIT_PYTHON`, else the workspace's `.venv`, created (with
/// `tests/aws-emulator/requirements.txt`) when it does not exist yet.
async fn python(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("MCP_AUTH_KIT_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    if python.exists() {
        return Ok(python);
    }
    eprintln!(
        "First use: creating {} with moto and cfn-lint (about half a minute)...",
        venv.display()
    );
    step(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv .venv",
    )
    .await?;
    step(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "-r"])
            .arg(root.join(REQUIREMENTS)),
        "pip install -r tests/aws-emulator/requirements.txt",
    )
    .await?;
    Ok(python)
}

async fn step(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .await
        .with_context(|| format!("running {what} (is Python 3.10+ installed as python3?)"))?;
    if !status.success() {
        bail!("{what} failed ({status}); fix the cause above and run the command again");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exports_point_at_the_emulator_with_dummy_credentials() {
        let lines = exports("http://127.0.0.1:4566");
        assert!(lines.starts_with("export AWS_ENDPOINT_URL=http://127.0.0.1:4566\n"));
        assert!(lines.contains("export AWS_ACCESS_KEY_ID=testing"));
        assert!(lines.contains("unset AWS_PROFILE"));
    }
}
