//! A real browser (Debian's headless Chromium, driven by playwright-core) through the example
//! client's page: Log in, consent, the development sign-in form, Fetch MCP Data, the result on
//! the page. The screenshot is kept as an artifact in `target/browser-artifacts/`.
//!
//! `.ci/run` installs Chromium and `tests/browser/node_modules`; in CI a missing one fails the
//! test, elsewhere it says what to install and returns.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

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

/// Whether the browser tests can run; in CI a missing prerequisite fails the test instead.
fn browser_ready() -> bool {
    match prerequisites() {
        Ok(()) => true,
        Err(missing) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the browser test cannot run in CI: {missing}"
            );
            eprintln!("skipping the browser test here: {missing}");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_and_fetch_mcp_data_in_chromium() {
    if !browser_ready() {
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

/// The tester's interactive sign-in, with Chromium as the person's browser: each sign-in page is
/// opened in it, the consent and sign-in forms are filled there, and the answer comes back to
/// the tester's loopback listener. The bundled server passes everything applicable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tester_signs_in_through_a_real_browser() {
    use std::{sync::Arc, time::Duration};

    use mcp_auth_conformance::{
        checks::Outcome,
        observe::flow::{Interactive, Login},
        run::{RunOptions, run},
    };

    if !browser_ready() {
        return;
    }
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/sign_in.mjs");
    let (user, password) = (server.user.username.clone(), server.user.password.clone());
    let browsers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let opened = browsers.clone();
    let open = Arc::new(move |url: &url::Url| {
        let child = Command::new(&script)
            .arg(url.as_str())
            .env("MCP_SIGN_IN_USERNAME", &user)
            .env("MCP_SIGN_IN_PASSWORD", &password)
            .spawn()
            .unwrap();
        opened.lock().unwrap().push(child);
    });
    let options = RunOptions {
        login: Login::Interactive(Interactive {
            open,
            patience: Duration::from_secs(60),
        }),
        step_up_tool: Some("notes_add".into()),
        ..RunOptions::new(None)
    };
    let report = run(&server.resource.as_str().parse().unwrap(), &options)
        .await
        .unwrap();
    for id in ["authz.code-flow", "token.accepted", "cimd.accepted"] {
        let r = report.results.iter().find(|r| r.id.as_str() == id).unwrap();
        assert_eq!(r.outcome, Outcome::Pass, "{id}: {}", report.table());
    }
    assert_eq!(report.summary.fail, 0, "{}", report.table());
    // Only the requests the server lets a person see went to the browser (the main flow, the
    // wrong verifier, the challenge as verifier, the code replay, the code redeemed at another
    // redirect URI, the code another client presents, the pair whose refresh token another
    // client presents, the pair refreshed asking for a scope it lacks, the metadata-document
    // client); the ones it refuses up front were judged without one.
    let browsers = std::mem::take(&mut *browsers.lock().unwrap());
    assert!(
        (1..=9).contains(&browsers.len()),
        "{} browser windows",
        browsers.len()
    );
    for mut browser in browsers {
        assert!(browser.wait().unwrap().success());
    }
    server.shutdown().await.unwrap();
}

/// The consent page's answers in Chromium, with the façade, its upstream (Cognito's place) and
/// the client each on an origin of its own, as deployed: Approve leads through the upstream
/// sign-in back to the client with a code, Deny back to the client with `access_denied`.
/// Chromium checks the page's CSP `form-action` on every redirect after the form, so a page that
/// allows only itself strands both answers on the consent page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_answers_reach_the_upstream_and_the_client_in_chromium() {
    use std::sync::Arc;

    use mcp_auth_server::{facade::store::MemoryStore, runtime::Running};

    if !browser_ready() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let upstream = support::dev_as_upstream(&public).await;
    let store = Arc::new(MemoryStore::default());
    let key = b"a key for this test only, 32+ bytes long";
    let facade = support::facade_assembly(listener, &public, &upstream, store, key);
    let server = Running::start(facade).await.unwrap();
    let client = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/callback", client.local_addr().unwrap());
    let answered = axum::Router::new().route("/callback", axum::routing::get(|| async { "ok" }));
    tokio::spawn(axum::serve(client, answered).into_future());

    let registered: serde_json::Value = reqwest::Client::new()
        .post(format!("{public}/register"))
        .json(&serde_json::json!({
            "redirect_uris": [callback],
            "client_name": "Consent test client",
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut authorize = url::Url::parse(&format!("{public}/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", registered["client_id"].as_str().unwrap())
        .append_pair("redirect_uri", &callback)
        .append_pair("scope", "mcp:read")
        .append_pair("state", "client-state")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .append_pair("resource", &format!("{public}/mcp"));

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/consent_answer.mjs");
    for (button, expected) in [("Approve", "code="), ("Deny", "error=access_denied")] {
        let (script, url, prefix) = (script.clone(), authorize.to_string(), callback.clone());
        let run = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg(script)
                .args([&url, button, &prefix])
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(
            run.status.success(),
            "{out}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let landed = out
            .lines()
            .find_map(|l| l.strip_prefix("landed: "))
            .unwrap_or_else(|| panic!("{button}: no final URL\n{out}"));
        assert!(
            landed.starts_with(&callback) && landed.contains(expected),
            "{button} should reach {callback} with {expected}; Chromium said:\n{out}"
        );
        assert!(landed.contains("state=client-state"), "{button}: {landed}");
    }
    server.shutdown().await.unwrap();
}
