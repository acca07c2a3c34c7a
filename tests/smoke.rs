//! `cargo xtask smoke` against a stack deployed to the AWS emulator, up to the point where a
//! person signs in: the checks of the stack pass, the server starts in Cognito mode, the
//! conformance tester opens sign-ins, and each one leads (through the façade's consent) to
//! Cognito's managed login with the façade's client, PKCE and the resource. The emulator has no
//! managed login, so no token comes back, and the report says so.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
};

use reqwest::header;
use support::{env_value, free_port, read_env, run, xtask};

/// Plays the person's browser up to Cognito's sign-in page: returns that page's URL, or None
/// when the sign-in ended without it (an error sent back to the tester, which is delivered).
async fn browse(http: &reqwest::Client, url: &str) -> Option<url::Url> {
    let mut next = url.to_owned();
    let mut cookie = None;
    for _ in 0..6 {
        let mut request = http.get(&next);
        if let Some(c) = &cookie {
            request = request.header(header::COOKIE, c);
        }
        let page = request.send().await.ok()?;
        if let Some(set) = page.headers().get(header::SET_COOKIE) {
            cookie = Some(set.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        if let Some(location) = page.headers().get(header::LOCATION) {
            let location = url::Url::parse(location.to_str().unwrap()).unwrap();
            if location
                .host_str()
                .is_some_and(|h| h.ends_with(".amazoncognito.com"))
            {
                return Some(location);
            }
            next = location.to_string();
            continue;
        }
        let base = url::Url::parse(&next).unwrap();
        let html = page.text().await.unwrap_or_default();
        let hidden = |name: &str| {
            html.split(&format!("name=\"{name}\" value=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        };
        let (Some(consent_id), Some(csrf)) = (hidden("consent_id"), hidden("csrf")) else {
            return None;
        };
        let approved = http
            .post(base.join("/consent").unwrap())
            .header(header::COOKIE, cookie.clone().unwrap_or_default())
            .form(&[
                ("consent_id", consent_id),
                ("csrf", csrf),
                ("decision", "approve".into()),
            ])
            .send()
            .await
            .ok()?;
        next = approved
            .headers()
            .get(header::LOCATION)?
            .to_str()
            .ok()?
            .to_owned();
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_runs_up_to_the_persons_sign_in_and_reports_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let resource = format!("http://localhost:{port}/mcp");
    let env_dir = dir.path().to_str().unwrap();
    run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "smoke",
            "--env-dir",
            env_dir,
            "--resource-uri",
            &resource,
            "--callback-url",
            &format!("http://localhost:{port}/oauth/callback"),
        ],
    )
    .ok();
    let server_env = read_env(&dir.path().join("server/.env"));
    let secret = env_value(&server_env, "COGNITO_UPSTREAM_CLIENT_SECRET").to_owned();
    let upstream_id = env_value(&server_env, "COGNITO_UPSTREAM_CLIENT_ID").to_owned();
    let domain = env_value(&server_env, "COGNITO_DOMAIN_URL").to_owned();
    let report_path = dir.path().join("report.md");

    let mut smoke = xtask();
    smoke
        .args([
            "smoke",
            "--stack-name",
            "smoke",
            "--env-file",
            dir.path().join("server/.env").to_str().unwrap(),
            "--interactive-timeout",
            "2",
            "--report",
            report_path.to_str().unwrap(),
        ])
        // The "browser" the tester opens does nothing; this test plays the person instead.
        .env("BROWSER", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = smoke.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (urls, mut opened) = tokio::sync::mpsc::unbounded_channel::<String>();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut next_is_url = false;
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if next_is_url {
                let _ = urls.send(line.trim().to_owned());
            }
            next_is_url = line.starts_with("Sign in in your browser");
            lines.push(line);
        }
        lines.join("\n")
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut sign_ins = Vec::new();
    while let Some(url) = opened.recv().await {
        if let Some(cognito) = browse(&http, &url).await {
            sign_ins.push(cognito);
        }
    }
    let status = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = log.join().unwrap();

    assert!(
        !sign_ins.is_empty(),
        "no sign-in reached Cognito's managed login:\n{stderr}"
    );
    for page in &sign_ins {
        assert_eq!(
            page.as_str().split('?').next().unwrap(),
            format!("{domain}/oauth2/authorize"),
            "the browser is sent to the stack's real managed login domain"
        );
        let q: std::collections::HashMap<_, _> = page.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], upstream_id);
        assert_eq!(q["resource"], resource, "resource binding is asked for");
        assert_eq!(q["code_challenge_method"], "S256");
        assert!(q["scope"].contains(&format!("{resource}/mcp:")), "{q:?}");
    }

    assert_eq!(
        status.status.code(),
        Some(1),
        "no token, so the run fails:\n{stderr}"
    );
    let report = std::fs::read_to_string(&report_path).unwrap();
    for line in [
        "Result: **FAIL**",
        "| stack | Pass |",
        "| resource server | Pass |",
        "| upstream client | Pass |",
        "| user pool tier | Pass |",
        "| deletion protection | Pass |",
        "| table | Pass |",
        "| token | Fail | Cognito issued no access token: the sign-in was not completed |",
        "AWS endpoint override",
        "## Conformance of the server in Cognito mode",
    ] {
        assert!(
            report.contains(line),
            "{line:?} not in the report:\n{report}"
        );
    }
    assert!(
        !report.contains(&secret),
        "the client secret leaked into the report"
    );
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        report.trim(),
        "the report is printed too"
    );

    run(
        xtask(),
        &[
            "cleanup",
            "--yes",
            "--stack-name",
            "smoke",
            "--env-dir",
            env_dir,
        ],
    )
    .ok();
}
