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
            "the emulator did not start (it said {ready:?}, exit {status:?}): if its error above \
             is about the port, pick another with --port 0; if it is a Python import error, \
             delete .venv and run the command again",
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

/// The file, inside `.venv`, that says its packages were installed completely: the hash of the
/// requirements they were installed from. Written only after `pip install` succeeded, so an
/// interrupted first run (a venv without moto) is recognised and repaired on the next one.
const INSTALLED_MARKER: &str = ".mcp-auth-kit-requirements";

/// What state the workspace's `.venv` is in.
#[derive(Debug, PartialEq, Eq)]
enum Venv {
    /// No Python in it: create it.
    Missing,
    /// A Python, but its packages were never installed completely (or from other requirements).
    Incomplete,
    /// Installed from the current requirements.
    Ready,
}

impl Venv {
    fn of(venv: &Path, requirements: &str) -> Self {
        if !venv.join("bin/python").exists() {
            return Venv::Missing;
        }
        match std::fs::read_to_string(venv.join(INSTALLED_MARKER)) {
            Ok(hash) if hash.trim() == requirements_hash(requirements) => Venv::Ready,
            _ => Venv::Incomplete,
        }
    }
}

fn requirements_hash(requirements: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(requirements.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Python with moto: `MCP_AUTH_KIT_PYTHON`, else the workspace's `.venv`, created (with
/// `tests/aws-emulator/requirements.txt`) when it does not exist yet, and repaired when an
/// earlier install did not finish.
async fn python(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("MCP_AUTH_KIT_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    let requirements_file = root.join(REQUIREMENTS);
    let requirements = std::fs::read_to_string(&requirements_file)
        .with_context(|| format!("reading {}", requirements_file.display()))?;
    match Venv::of(&venv, &requirements) {
        Venv::Ready => return Ok(python),
        Venv::Missing => {
            eprintln!(
                "First use: creating {} with moto and cfn-lint (about half a minute)...",
                venv.display()
            );
            // `--clear`: a folder left by an interrupted creation is started over.
            step(
                Command::new("python3")
                    .args(["-m", "venv", "--clear"])
                    .arg(&venv),
                "python3 -m venv .venv",
            )
            .await?;
        }
        Venv::Incomplete => eprintln!(
            "{} was not set up completely (an earlier install was interrupted, or the \
             requirements changed): installing its packages again...",
            venv.display()
        ),
    }
    step(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "-r"])
            .arg(&requirements_file),
        "pip install -r tests/aws-emulator/requirements.txt",
    )
    .await?;
    std::fs::write(
        venv.join(INSTALLED_MARKER),
        requirements_hash(&requirements),
    )
    .with_context(|| format!("writing {}", venv.join(INSTALLED_MARKER).display()))?;
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
    fn an_interrupted_install_is_recognised_and_a_finished_one_is_not_redone() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join(".venv");
        let requirements = "moto[server]==5.1.0\n";
        assert_eq!(Venv::of(&venv, requirements), Venv::Missing);
        // What an interrupted first run leaves: a folder without a Python, then one with a
        // Python but no packages.
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        assert_eq!(Venv::of(&venv, requirements), Venv::Missing);
        std::fs::write(venv.join("bin/python"), "").unwrap();
        assert_eq!(Venv::of(&venv, requirements), Venv::Incomplete);
        std::fs::write(venv.join(INSTALLED_MARKER), requirements_hash(requirements)).unwrap();
        assert_eq!(Venv::of(&venv, requirements), Venv::Ready);
        // New requirements: installed again.
        assert_eq!(Venv::of(&venv, "moto[server]==5.2.0\n"), Venv::Incomplete);
    }

    #[test]
    fn the_exports_point_at_the_emulator_with_dummy_credentials() {
        let lines = exports("http://127.0.0.1:4566");
        assert!(lines.starts_with("export AWS_ENDPOINT_URL=http://127.0.0.1:4566\n"));
        assert!(lines.contains("export AWS_ACCESS_KEY_ID=testing"));
        assert!(lines.contains("unset AWS_PROFILE"));
    }
}
