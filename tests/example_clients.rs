//! The example clients end to end against the bundled server in local mode: the three
//! registration paths headless (sign-in through the real forms, the read tool, the 403 step-up,
//! the write tool), their refusals, and the page driven over HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod fixture;
mod support;

use mcp_auth_conformance::client::{
    browser::{Browser, Credentials, Landing},
    cimd_host::CimdHost,
};
use mcp_auth_server::local::{LocalOptions, LocalServer};

async fn server() -> LocalServer {
    LocalServer::start(LocalOptions::default()).await.unwrap()
}

/// The static client's env file, as `cargo xtask serve` writes it.
fn static_env(server: &LocalServer, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join(".env.client.static.local");
    let r = server.resource.as_str();
    let d = &server.dev_issuer;
    std::fs::write(
        &path,
        format!(
            "MCP_CLIENT_REGISTRATION=static\nMCP_SERVER_URL={r}\nOAUTH_ISSUER={d}\n\
             OAUTH_AUTHORIZATION_ENDPOINT={d}/oauth2/authorize\nOAUTH_TOKEN_ENDPOINT={d}/oauth2/token\n\
             OAUTH_CLIENT_ID={}\nOAUTH_CLIENT_SECRET={}\nOAUTH_REDIRECT_URI={}\n\
             OAUTH_SCOPES=\"openid {r}/mcp:read {r}/mcp:write\"\n",
            server.static_client.id,
            server.static_client.secret.as_deref().unwrap(),
            server.static_client.redirect_uris[0],
        ),
    )
    .unwrap();
    path
}

async fn client(args: Vec<String>, user: Option<(String, String)>) -> support::Run {
    tokio::task::spawn_blocking(move || {
        let mut cmd = support::bare_xtask();
        cmd.env_remove("MCP_CLIENT_USERNAME")
            .env_remove("MCP_CLIENT_PASSWORD");
        if let Some((u, p)) = user {
            cmd.env("MCP_CLIENT_USERNAME", u)
                .env("MCP_CLIENT_PASSWORD", p);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run(cmd, &args)
    })
    .await
    .unwrap()
}

/// Snapshots a transcript with ports, generated ids and times redacted.
fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"(dcr|facade|static)-[A-Za-z0-9_-]+", "$1-[ID]");
    settings.add_filter(r#""(auth_time|exp|iat)":\d+"#, r#""$1":[TIME]"#);
    settings.add_filter(r"\S*\.tmp[A-Za-z0-9]+/", "[TMP]/");
    settings.bind(|| insta::assert_snapshot!(name.to_owned(), text));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_registration_paths_sign_in_read_and_step_up() {
    for mode in ["static", "dcr", "cimd"] {
        let server = server().await;
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "client".to_owned(),
            "--registration".into(),
            mode.into(),
            "--no-browser".into(),
            "--server".into(),
            server.resource.to_string(),
        ];
        if mode == "static" {
            args.extend([
                "--env-file".into(),
                static_env(&server, dir.path()).display().to_string(),
            ]);
        } else {
            args.extend(["--port".into(), "0".into()]);
        }
        let user = Some((server.user.username.clone(), server.user.password.clone()));
        let run = client(args, user).await;
        assert_eq!(run.code, Some(0), "{mode}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("whoami -> ")
                && run.stdout.contains("\"subject\":\"dev-user-0001\""),
            "{mode}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("notes_add -> added note 1"),
            "{mode}: {}",
            run.stdout
        );
        assert!(!run.stdout.contains("FAIL"), "{mode}: {}", run.stdout);
        if mode != "static" {
            // The step-up: 403 with the scopes (those held and the one needed), a second
            // sign-in asking for them, then success.
            assert!(
                run.stdout.contains(
                    "403 insufficient_scope for notes_add: the server asks for mcp:read mcp:write"
                ),
                "{mode}: {}",
                run.stdout
            );
        }
        let secret = server.static_client.secret.clone().unwrap();
        assert!(!run.stdout.contains(&secret) && !run.stdout.contains(&server.user.password));
        snapshot(&format!("headless_{mode}"), &run.stdout);
        server.shutdown().await.unwrap();
    }
}

/// Access tokens that expire within the client's 30 s margin: every call refreshes first, and
/// the rotated refresh token keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_before_a_call() {
    let server = LocalServer::start(LocalOptions {
        token_lifetime: Some(std::time::Duration::from_secs(20)),
        ..Default::default()
    })
    .await
    .unwrap();
    let args = [
        "client",
        "--registration",
        "dcr",
        "--no-browser",
        "--server",
        server.resource.as_str(),
    ]
    .map(str::to_owned)
    .to_vec();
    let user = Some((server.user.username.clone(), server.user.password.clone()));
    let run = client(args, user).await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.matches("ok   refresh").count() >= 2,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("notes_add -> added note 1"),
        "{}",
        run.stdout
    );
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_clear() {
    let server = server().await;
    let base = |mode: &str| {
        vec![
            "client".to_owned(),
            "--registration".into(),
            mode.into(),
            "--no-browser".into(),
            "--server".into(),
            server.resource.to_string(),
            "--port".into(),
            "0".into(),
        ]
    };
    let no_user = client(base("dcr"), None).await;
    assert_eq!(no_user.code, Some(1));
    assert!(
        no_user.stderr.contains("give --username and --password"),
        "{}",
        no_user.stderr
    );

    let wrong = client(
        base("dcr"),
        Some((server.user.username.clone(), "wrong".into())),
    )
    .await;
    assert_eq!(wrong.code, Some(1));
    assert!(
        wrong.stderr.contains("the sign-in did not come back"),
        "{}",
        wrong.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let mut missing = base("static");
    missing.truncate(6);
    missing.extend([
        "--env-file".into(),
        dir.path().join("nope").display().to_string(),
    ]);
    let no_env = client(missing, None).await;
    assert_eq!(no_env.code, Some(1));
    assert!(no_env.stderr.contains("reading"), "{}", no_env.stderr);

    let free = format!("127.0.0.1:{}", support::free_port());
    let mut down = base("dcr");
    down[5] = format!("http://{free}/mcp");
    let nothing = client(down, Some(("u".into(), "p".into()))).await;
    assert_eq!(nothing.code, Some(1));
    assert!(
        nothing
            .stdout
            .contains("FAIL initialize    initialize got no result: connection refused: nothing is listening there"),
        "{}",
        nothing.stdout
    );
    server.shutdown().await.unwrap();
}

/// The page, driven over HTTP as a browser would: Log in, sign in, Fetch MCP Data, the result
/// and the timeline on the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_the_flow_and_the_tool_result() {
    let server = server().await;
    let page_process = support::ClientPage::start("cimd", server.resource.as_str());
    let app = page_process.url.clone();
    let origin = app.origin().ascii_serialization();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A button press: a POST from the page's own origin.
    let press = |path: &str| {
        http.post(app.join(path).unwrap())
            .header("Origin", &origin)
            .send()
    };
    let read_page = async || {
        http.get(app.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let read_json = async |path: &str| -> serde_json::Value {
        let url = app.join(path).unwrap();
        http.get(url).send().await.unwrap().json().await.unwrap()
    };

    let page = read_page().await;
    for button in ["Log in", "Fetch MCP Data", "Call write tool", "Log out"] {
        assert!(page.contains(button), "{page}");
    }
    // Another site's form cannot drive the app.
    let forged = http
        .post(app.join("/login").unwrap())
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let login = press("/login").await.unwrap();
    let browser = Browser::new(
        &server.resource.as_str().parse().unwrap(),
        Some(Credentials {
            username: server.user.username.clone(),
            password: server.user.password.clone(),
        }),
    );
    let callback = app.join("/callback").unwrap();
    // The browser's part: from the page's redirect, through sign-in, back to the page.
    let sign_in = |redirect: reqwest::Response| {
        let (browser, callback, http) = (&browser, &callback, &http);
        async move {
            assert_eq!(redirect.status(), 303);
            let authorize: url::Url = redirect.headers()["location"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let navigation = browser.authorize(&authorize, callback).await;
            let Landing::Callback(response) = &navigation.landing else {
                panic!("{}", navigation.describe());
            };
            let mut back = callback.clone();
            back.query_pairs_mut().extend_pairs(&response.params);
            let done = http.get(back).send().await.unwrap();
            assert_eq!(done.status(), 303);
            authorize
        }
    };
    sign_in(login).await;

    let fetch = press("/fetch").await.unwrap();
    assert_eq!(fetch.status(), 303);
    let page = read_page().await;
    assert!(page.contains("dev-user-0001"), "{page}");
    for step in [
        "401",
        "PRM",
        "AS metadata",
        "registration",
        "authorize",
        "callback",
        "token",
        "initialize",
        "tools/list",
        "tools/call",
    ] {
        assert!(page.contains(&format!("<b>{step}</b>")), "{step}: {page}");
    }
    assert!(!page.contains("class=\"failed\""), "{page}");

    // Call write tool: the 403 sends the browser to sign in again for the scope it names, and
    // the call is made again once the wider token is in.
    let step_up = sign_in(press("/write").await.unwrap()).await;
    assert!(
        step_up
            .query_pairs()
            .any(|(k, v)| k == "scope" && v.split(' ').any(|s| s == "mcp:write")),
        "{step_up}"
    );
    let page = read_page().await;
    assert!(page.contains("403 insufficient_scope"), "{page}");
    assert!(
        page.contains(r#"<pre id="result">added note 1</pre>"#),
        "{page}"
    );
    let steps = read_json("/timeline.json").await;
    assert!(
        steps.as_array().unwrap().iter().all(|s| s["ok"] == true),
        "{steps}"
    );
    // The metadata document the AS fetched names the app's own URL as client_id.
    let doc = read_json("/client-metadata.json").await;
    assert_eq!(
        doc["client_id"],
        app.join("/client-metadata.json").unwrap().as_str()
    );
    drop(page_process);
    server.shutdown().await.unwrap();
}

/// `xtask client --conformance SERVER` with `env` (no harness context unless `env` gives one),
/// its client metadata document published on loopback for the run.
async fn conformance(env: &[(&str, &str)], server: &str) -> support::Run {
    let document = CimdHost::start(
        "mcp-auth-kit conformance client",
        Some("http://127.0.0.1/callback".parse().unwrap()),
    )
    .await
    .unwrap();
    let metadata_url = document.client_id.as_str();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let args = [
        "client",
        "--conformance",
        "--client-metadata-url",
        metadata_url,
        server,
    ]
    .map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut cmd = support::bare_xtask();
        cmd.env_remove("MCP_CONFORMANCE_CONTEXT").envs(env);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::run(cmd, &args)
    })
    .await
    .unwrap()
}

/// `--conformance` against the bundled server, as a harness would run it at the 2026-07-28
/// wire: CIMD (the server advertises it) with a published metadata document, the sign-in
/// through the forms, every tool that takes no argument called (`notes_add` takes one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_mode_signs_in_and_calls_the_servers_tools() {
    let server = server().await;
    let run = conformance(
        &[
            ("MCP_CONFORMANCE_PROTOCOL_VERSION", "2026-07-28"),
            ("MCP_CONFORMANCE_SCENARIO", "by-hand"),
            ("MCP_CLIENT_USERNAME", &server.user.username),
            ("MCP_CLIENT_PASSWORD", &server.user.password),
        ],
        server.resource.as_str(),
    )
    .await;
    assert_eq!(run.code, Some(0), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("scenario by-hand, MCP 2026-07-28"),
        "{}",
        run.stderr
    );
    for line in [
        "ok   server/discover the server answered server/discover with its versions",
        "none: the client_id is the URL of this client's metadata document",
        "tools: notes_add, notes_list, whoami",
        "whoami -> ",
        "notes_list -> ",
    ] {
        assert!(run.stdout.contains(line), "{line}:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("notes_add ->"), "{}", run.stdout);
    server.shutdown().await.unwrap();
}

/// What a harness gives the client is checked before anything is sent.
#[tokio::test]
async fn the_conformance_mode_refuses_a_harness_it_cannot_follow() {
    for (var, value, said) in [
        (
            "MCP_CONFORMANCE_CONTEXT",
            "{not json",
            "MCP_CONFORMANCE_CONTEXT is not JSON",
        ),
        (
            "MCP_CONFORMANCE_PROTOCOL_VERSION",
            "2099-01-01",
            "this client speaks 2025-11-25 and 2026-07-28",
        ),
    ] {
        let run = tokio::task::spawn_blocking(move || {
            let mut cmd = support::bare_xtask();
            cmd.env(var, value);
            support::run(cmd, &["client", "--conformance", "http://127.0.0.1:9/mcp"])
        })
        .await
        .unwrap()
        .failed();
        assert!(run.stderr.contains(said), "{}", run.stderr);
    }
    let without_url = client(vec!["client".into(), "--conformance".into()], None).await;
    assert_eq!(without_url.code, Some(2), "{}", without_url.stderr);
    let both = client(
        [
            "client",
            "--conformance",
            "--registration",
            "dcr",
            "http://127.0.0.1:9/mcp",
        ]
        .map(str::to_owned)
        .to_vec(),
        None,
    )
    .await;
    assert_eq!(both.code, Some(2), "{}", both.stderr);
}

/// A server that refuses every token it is given: each 401 is discovered again, a refresh is
/// tried once, and after three sign-ins for the one request the client gives up, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_every_token_ends_after_three_sign_ins() {
    let target = fixture::start(&[fixture::Fault::Breaks(
        mcp_auth_conformance::catalogue::CheckId::TokenAccepted,
    )])
    .await;
    let run = conformance(
        &[("MCP_CONFORMANCE_PROTOCOL_VERSION", "2025-11-25")],
        target.as_str(),
    )
    .await
    .failed();
    assert!(
        run.stderr
            .contains("signed in 3 times for tools/list and the server still refuses"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout.matches("ok   authorize").count(),
        3,
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("ok   refresh").count(),
        1,
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn the_static_clients_port_is_explained_when_taken_or_moved() {
    let server = server().await;
    let dir = tempfile::tempdir().unwrap();
    // A port something else holds, named by the registered redirect URI.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let env = static_env(&server, dir.path());
    let text = std::fs::read_to_string(&env).unwrap().replace(
        &server.static_client.redirect_uris[0],
        &format!("http://127.0.0.1:{port}/callback"),
    );
    std::fs::write(&env, text).unwrap();
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["client", "--registration", "static", "--env-file"]
            .map(String::from)
            .into();
        a.push(env.display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let busy = client(args(&[]), None).await;
    assert_eq!(busy.code, Some(1), "{}", busy.stderr);
    for says in [
        "registered at the authorization server with this port",
        "--example-callback-urls",
    ] {
        assert!(busy.stderr.contains(says), "{says}: {}", busy.stderr);
    }
    let moved = client(args(&["--port", "1234"]), None).await;
    assert_eq!(moved.code, Some(1), "{}", moved.stderr);
    assert!(
        moved
            .stderr
            .contains("--example-callback-urls http://localhost:1234/callback"),
        "{}",
        moved.stderr
    );
    drop(taken);
    server.shutdown().await.unwrap();
}
