//! `cargo xtask serve` as a person runs it: the first line says which mode and why, `--local`
//! ignores a deployment, `--port 0` names the bound port everywhere, and two servers in one
//! checkout keep their own static client settings.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Stdio},
};

use serde_json::Value;
use support::{bare_xtask, env_value, free_port, read_env, run, xtask};

/// A `serve` process, started and read up to "Press Ctrl-C to stop.".
struct Serve {
    child: Child,
    /// Its first line of stdout: the MCP URL.
    url: String,
    /// What it said on stderr before it was ready.
    said: Vec<String>,
}

impl Serve {
    fn start(mut cmd: std::process::Command, dir: &Path, args: &[&str]) -> Self {
        let mut child = cmd
            .args(["serve", "--env-dir", dir.to_str().unwrap()])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start xtask serve");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = Vec::new();
        loop {
            let mut line = String::new();
            let read = stderr.read_line(&mut line).unwrap();
            assert!(
                read > 0,
                "serve ended before it was ready:\n{}",
                said.join("")
            );
            said.push(line.clone());
            if line.starts_with("Press Ctrl-C to stop.") {
                break;
            }
        }
        // Drained for as long as it runs, so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in stderr.lines() {});
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        Self {
            child,
            url: url.trim().to_owned(),
            said: said.iter().map(|l| l.trim_end().to_owned()).collect(),
        }
    }

    fn port(&self) -> u16 {
        url::Url::parse(&self.url).unwrap().port().unwrap()
    }

    /// The value after `label` on the line that has it.
    fn value_after(&self, label: &str) -> String {
        let line = self
            .said
            .iter()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("no {label:?} in {:#?}", self.said));
        let rest = &line[line.find(label).unwrap() + label.len()..];
        rest.split_whitespace().next().unwrap().to_owned()
    }

    /// Stops it as Ctrl-C would (SIGTERM) and requires a clean exit.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve exited with {status}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_mode_says_so_first_and_every_url_names_the_bound_port() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(bare_xtask(), dir.path(), &["--port", "0"]);
    assert_eq!(
        serve.said[0],
        format!(
            "mode: local (no {}; the embedded development AS signs users in)",
            dir.path().join("server/.env").display()
        )
    );
    let port = serve.port();
    assert_ne!(port, 0);
    let origin = format!("http://127.0.0.1:{port}");
    assert_eq!(serve.url, format!("{origin}/mcp"));
    for line in serve.said.iter().filter(|l| l.contains("http://")) {
        for url in line.split_whitespace().filter(|w| w.starts_with("http://")) {
            // The static client's own redirect URI is its page's, on port 3000.
            assert!(
                url.starts_with(&origin) || url.contains(":3000/"),
                "{url} in {line:?}"
            );
        }
    }
    let prm = json(&format!(
        "{origin}/.well-known/oauth-protected-resource/mcp"
    ))
    .await;
    assert_eq!(prm["resource"], serve.url.as_str());
    assert_eq!(prm["authorization_servers"][0], origin.as_str());
    let issuer = json(&format!("{origin}/.well-known/oauth-authorization-server")).await;
    assert_eq!(issuer["issuer"], origin.as_str());

    let settings = dir.path().join(format!(".env.client.static.local.{port}"));
    assert_eq!(
        env_value(&read_env(&settings), "MCP_SERVER_URL"),
        serve.url.as_str()
    );
    assert!(!dir.path().join(".env.client.static.local").exists());
    serve.stop();
    assert!(!settings.exists(), "removed when the server stops");
}

#[test]
fn an_unusable_deployment_file_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("server")).unwrap();
    std::fs::write(dir.path().join("server/.env"), "MCP_AUTH_MODE=cognito\n").unwrap();
    let env_dir = dir.path().to_str().unwrap();
    let broken = run(bare_xtask(), &["serve", "--env-dir", env_dir]).failed();
    assert!(
        broken
            .stderr
            .contains("so `serve` runs in Cognito mode, but it cannot be used")
            && broken
                .stderr
                .contains("`cargo xtask serve --local` ignores it")
            && broken.stderr.contains("MCP_RESOURCE_URI is missing")
            && !broken.stderr.contains("  "),
        "{}",
        broken.stderr
    );
    let missing = dir.path().join("nope.env");
    let named = run(
        bare_xtask(),
        &["serve", "--env-file", missing.to_str().unwrap()],
    )
    .failed();
    assert!(
        named
            .stderr
            .contains("does not exist: run `cargo xtask deploy` first"),
        "{}",
        named.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let listen = run(
        bare_xtask(),
        &[
            "serve",
            "--env-dir",
            empty.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
    )
    .failed();
    assert!(
        listen
            .stderr
            .contains("--listen 127.0.0.1:0 is for Cognito mode")
            && listen.stderr.contains("use --port"),
        "{}",
        listen.stderr
    );
    // A trusted proxy that is every address would let anyone forge its address: refused, with
    // what to write instead, before anything listens.
    for (value, says) in [
        ("0.0.0.0/0", "trusts every address"),
        ("proxy.internal", "10.0.0.0/8"),
    ] {
        let proxy = run(
            bare_xtask(),
            &[
                "serve",
                "--env-dir",
                empty.path().to_str().unwrap(),
                "--port",
                "0",
                "--trusted-proxy",
                value,
            ],
        )
        .failed();
        assert!(proxy.stderr.contains(says), "{}", proxy.stderr);
    }
}

/// After a deploy: Cognito mode by default, named with its stack and pool; `--port` cannot move
/// a loopback resource URI Cognito has registered; `--listen` can, behind a proxy; `--local`
/// ignores the deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_deploy_serve_names_it_and_local_ignores_it() {
    let dir = tempfile::tempdir().unwrap();
    let env_dir = dir.path().to_str().unwrap();
    let port = free_port();
    run(
        xtask(),
        &[
            "deploy",
            "--stack-name",
            "serve-mode",
            "--env-dir",
            env_dir,
            "--resource-uri",
            &format!("http://localhost:{port}/mcp"),
            "--callback-url",
            &format!("http://localhost:{port}/oauth/callback"),
        ],
    )
    .ok();
    let pool = env_value(
        &read_env(&dir.path().join("server/.env")),
        "COGNITO_USER_POOL_ID",
    )
    .to_owned();

    let moved = run(xtask(), &["serve", "--env-dir", env_dir, "--port", "0"]).failed();
    assert!(
        moved.stderr.starts_with(&format!(
            "mode: Cognito ({}/server/.env from deploy of stack \"serve-mode\" names user pool \
             {pool}; `--local` ignores it)\n",
            env_dir
        )),
        "{}",
        moved.stderr
    );
    assert!(
        moved.stderr.contains(&format!(
            "--port 0 is not the port of the deployment's resource URI http://localhost:{port}/mcp"
        )) && moved.stderr.contains("--local --port 0")
            && moved.stderr.contains("--listen 127.0.0.1:PORT"),
        "{}",
        moved.stderr
    );

    // A development CA is for loopback documents, which only local mode fetches.
    let ca = run(
        xtask(),
        &["serve", "--env-dir", env_dir, "--dev-ca", "ca.pem"],
    )
    .failed();
    assert!(
        ca.stderr.contains("--dev-ca ca.pem is for local mode only")
            && ca.stderr.contains("add --local"),
        "{}",
        ca.stderr
    );

    let proxied = Serve::start(xtask(), dir.path(), &["--listen", "127.0.0.1:0"]);
    assert!(
        proxied.said[0].starts_with("mode: Cognito ("),
        "{:?}",
        proxied.said
    );
    assert_eq!(proxied.url, format!("http://localhost:{port}/mcp"));
    let listening = proxied.value_after("Listening on ");
    assert!(
        proxied
            .said
            .iter()
            .any(|l| l.contains(&format!("The resource URI names port {port}"))),
        "{:#?}",
        proxied.said
    );
    // What it advertises is the deployment's URI, which Cognito binds tokens to.
    let prm = json(&format!(
        "http://{listening}/.well-known/oauth-protected-resource/mcp"
    ))
    .await;
    assert_eq!(prm["resource"], proxied.url.as_str());
    proxied.stop();

    let local = Serve::start(xtask(), dir.path(), &["--local", "--port", "0"]);
    assert_eq!(
        local.said[0],
        format!(
            "mode: local (--local given; {env_dir}/server/.env ignored; the embedded development \
             AS signs users in)"
        )
    );
    let origin = format!("http://127.0.0.1:{}", local.port());
    let prm = json(&format!(
        "{origin}/.well-known/oauth-protected-resource/mcp"
    ))
    .await;
    assert_eq!(prm["authorization_servers"][0], origin.as_str());
    assert!(local.said.iter().any(|l| l.contains("Dev user:")));
    local.stop();
    assert!(dir.path().join("server/.env").exists(), "left as it was");

    let mut cleanup = xtask();
    cleanup.current_dir(dir.path());
    run(
        cleanup,
        &[
            "cleanup",
            "--stack-name",
            "serve-mode",
            "--env-dir",
            env_dir,
            "--yes",
        ],
    )
    .ok();
}

/// Two local servers in one checkout: each writes the static client's settings for its own
/// port, and stopping one leaves the other's intact and usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_keep_their_own_static_client_settings() {
    let dir = tempfile::tempdir().unwrap();
    let first = Serve::start(bare_xtask(), dir.path(), &["--port", "0"]);
    let second = Serve::start(bare_xtask(), dir.path(), &["--port", "0"]);
    let file = |s: &Serve| {
        dir.path()
            .join(format!(".env.client.static.local.{}", s.port()))
    };
    let (first_file, second_file) = (file(&first), file(&second));
    let second_text = std::fs::read_to_string(&second_file).unwrap();
    assert_eq!(
        env_value(&read_env(&first_file), "MCP_SERVER_URL"),
        first.url.as_str()
    );
    assert_eq!(
        env_value(&read_env(&second_file), "MCP_SERVER_URL"),
        second.url.as_str()
    );

    first.stop();
    assert!(!first_file.exists());
    assert_eq!(std::fs::read_to_string(&second_file).unwrap(), second_text);

    let user = second.value_after("Dev user:");
    let password = second.value_after("password:");
    let client = run(
        bare_xtask(),
        &[
            "client",
            "--registration",
            "static",
            "--no-browser",
            "--server",
            &second.url,
            "--env-file",
            second_file.to_str().unwrap(),
            "--username",
            &user,
            "--password",
            &password,
        ],
    );
    assert_eq!(client.code, Some(0), "{}\n{}", client.stdout, client.stderr);
    assert!(
        client.stdout.contains("notes_add -> added note 1"),
        "{}",
        client.stdout
    );
    second.stop();
    assert!(!second_file.exists());
}

/// The resident memory of a process, from /proc.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// Request bodies dripped a byte at a time over many connections (unauthenticated, to
/// `/register`): the server's memory follows the bytes received, not the number of writes (it
/// grew by about 3 KB a byte when each piece was kept), and a body that has not arrived within
/// 10 s is answered 408.
#[test]
fn dripped_request_bodies_cost_what_they_send_and_time_out() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(xtask(), dir.path(), &["--local", "--port", "0"]);
    let addr = format!("127.0.0.1:{}", server.port());
    let before = resident_bytes(server.child.id());
    let mut connections: Vec<std::net::TcpStream> = (0..100)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            c.set_nodelay(true).unwrap();
            write!(
                c,
                "POST /register HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: 100000\r\n\r\n"
            )
            .unwrap();
            c
        })
        .collect();
    // 100 connections x 1,500 one-byte writes: 150 KB sent.
    for _ in 0..1_500 {
        for c in &mut connections {
            c.write_all(b" ").unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let grown = resident_bytes(server.child.id()).saturating_sub(before);
    eprintln!(
        "dripped bodies: resident memory grew by {} KiB",
        grown / 1024
    );
    assert!(
        grown < 64 * 1024 * 1024,
        "150 KB of dripped bodies grew the server by {} MiB",
        grown / (1024 * 1024)
    );
    // Nothing more is sent: each is answered 408 once its 10 s are up (well before the 30 s
    // limit of every request, which this read would not wait for).
    let c = &mut connections[0];
    c.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut answer = [0u8; 64];
    let n = c.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    server.stop();
}

/// An access token from the development AS of a `serve --local --auto-approve` process, for its
/// static client.
async fn static_client_token(server: &Serve) -> String {
    let dev = server.value_after("Development upstream (not for production):");
    let (id, secret) = (server.value_after("id"), server.value_after("secret"));
    mcp_auth_server::local::auto_approved_token(
        &dev,
        &id,
        Some(&secret),
        &server.value_after("redirect"),
        &format!("openid {}/mcp:read", server.url),
        &server.url,
    )
    .await
    .unwrap()
}

/// Issue 21's high finding, measured on the process itself: one read-only token opening
/// sessions as fast as it can (29,572 in 40 s once took the server from 47 MiB to 2,973 MiB).
/// Now the subject keeps at most 32 sessions, so its memory stays bounded whatever its rate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_opening_sessions_cannot_grow_the_server_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(
        xtask(),
        dir.path(),
        &["--local", "--port", "0", "--auto-approve"],
    );
    let token = static_client_token(&server).await;
    let http = reqwest::Client::new();
    let initialize = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "flood", "version": "1"}}
    });
    let open = |n: usize| {
        let (http, token, url, body) = (
            http.clone(),
            token.clone(),
            server.url.clone(),
            initialize.clone(),
        );
        async move {
            for _ in 0..n {
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("accept", "application/json, text/event-stream")
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                assert!(r.headers().contains_key("mcp-session-id"));
            }
        }
    };
    let pid = server.child.id();
    let before = resident_bytes(pid);
    // Up to the cap: what sessions cost.
    open(32).await;
    let at_cap = resident_bytes(pid);
    // Then forty times as many, four at a time: the oldest are ended, the memory stays.
    let floods: Vec<_> = (0..4).map(|_| tokio::spawn(open(320))).collect();
    for flood in floods {
        flood.await.unwrap();
    }
    let after = resident_bytes(pid);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "sessions of one user: {:.1} MiB at start, {:.1} MiB with 32 sessions ({:.0} KiB each), \
         {:.1} MiB after 1,312 initialize",
        mib(before),
        mib(at_cap),
        at_cap.saturating_sub(before) as f64 / 32.0 / 1024.0,
        mib(after)
    );
    assert!(
        after.saturating_sub(before) < 48 * 1024 * 1024,
        "one user grew the server by {:.1} MiB",
        mib(after.saturating_sub(before))
    );
    server.stop();
}
