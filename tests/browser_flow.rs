//! A real browser (Debian's headless Chromium, driven by playwright-core) through the example
//! client's page: Log in, consent, the development sign-in form, Fetch MCP Data, the result on
//! the page. The screenshot is kept as an artifact in `target/browser-artifacts/`.
//!
//! `.ci/run` installs Chromium and `tests/browser/node_modules`; in CI a missing one fails the
//! test, elsewhere it says what to install and returns.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use mcp_auth_server::local::{LocalOptions, LocalServer};

fn prerequisites() -> Result<(), String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!(
            "no Chromium at {chromium}: apt-get install chromium"
        ));
    }
    let modules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/playwright-core");
    if !modules.exists() {
        return Err("no playwright-core: npm ci --prefix tests/browser".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_and_fetch_mcp_data_in_chromium() {
    if let Err(missing) = prerequisites() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser test cannot run in CI: {missing}"
        );
        eprintln!("skipping the browser test here: {missing}");
        return;
    }
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let app = support::ClientPage::start("dcr", server.resource.as_str());
    let url = app.url.to_string();

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let artifacts = root.join("target/browser-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("client-flow.png");
    let _ = std::fs::remove_file(&screenshot);
    let (user, password) = (server.user.username.clone(), server.user.password.clone());
    let script = root.join("tests/browser/client_flow.mjs");
    let shot = screenshot.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args([&url, &user, &password, shot.to_str().unwrap()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    drop(app);
    server.shutdown().await.unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("dev-user-0001"));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
}
