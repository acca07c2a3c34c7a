//! `cargo xtask bench`: throughput and latency of the bundled server, and the cost of a token
//! verification on a cache miss. A benchmark: it reports numbers, it asserts nothing.
//!
//! Everything runs on loopback in one process (server and load generator share the cores), with
//! a bounded request count and time. The load comes from hyper's bare HTTP/1.1 client, one
//! keep-alive connection per worker, so the generator takes as little of the shared cores as it
//! can (with reqwest's pool and request building, the same server measured far lower: see
//! docs/performance.md).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use comfy_table::Table;
use mcp_auth_server::{
    access_token::{TokenPolicy, TokenProfile, TokenVerifier},
    jwks::{JwksCache, RefreshPolicy},
    local::{LocalOptions, LocalServer},
};

use crate::cli::BenchArgs;

/// Runs the benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this is a debug build; for meaningful figures run\n  cargo run --release -p xtask -- bench"
        );
    }
    if args.concurrency == 0 || args.requests == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    let server = LocalServer::start(LocalOptions {
        port: 0,
        auto_approve: true,
        ..Default::default()
    })
    .await
    .context("starting the server")?;
    let token = server
        .static_client_token(&format!("openid {}/mcp:read", server.resource))
        .await
        .map_err(|e| anyhow::anyhow!("getting a token from the development AS: {e}"))?;

    let verify = verifications(&server, &token, args.verifications).await?;
    let load = load(&server, &token, &args).await?;
    let session = session(&server, &token, &args).await?;
    server.shutdown().await?;

    let mut table = Table::new();
    table.set_header(vec!["measure", "value"]);
    table.add_row(vec![
        "cores".to_owned(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .to_string(),
    ]);
    table.add_row(vec![
        "cold RS256 verifications/s (one core)".to_owned(),
        format!("{:.0}", verify.cold),
    ]);
    table.add_row(vec![
        "cached verifications/s (one core)".to_owned(),
        format!("{:.0}", verify.cached),
    ]);
    table.add_row(vec![
        "tools/call requests".to_owned(),
        load.count.to_string(),
    ]);
    table.add_row(vec!["concurrency".to_owned(), args.concurrency.to_string()]);
    table.add_row(vec![
        "authenticated tools/call/s".to_owned(),
        format!("{:.0}", load.rate),
    ]);
    table.add_row(vec![
        "p50 latency".to_owned(),
        format!("{:.2} ms", load.p50_ms),
    ]);
    table.add_row(vec![
        "p99 latency".to_owned(),
        format!("{:.2} ms", load.p99_ms),
    ]);
    table.add_row(vec!["errors".to_owned(), load.errors.to_string()]);
    table.add_row(vec![
        "2025-11-25 session: sequential tools/call".to_owned(),
        session.count.to_string(),
    ]);
    table.add_row(vec![
        "session p50 / p99 latency".to_owned(),
        format!("{:.2} ms / {:.2} ms", session.p50_ms, session.p99_ms),
    ]);
    table.add_row(vec![
        "session errors".to_owned(),
        session.errors.to_string(),
    ]);
    println!("{table}");
    if load.errors + session.errors > 0 {
        bail!(
            "{} requests failed; the figures above are not meaningful",
            load.errors + session.errors
        );
    }
    Ok(())
}

struct Verifications {
    /// Per second with the token cache bypassed (signature, claims, audience).
    cold: f64,
    /// Per second for a token already verified (fingerprint and cache lookup): every
    /// authenticated request's cost.
    cached: f64,
}

/// Token verifications per second, on a cache miss and on a hit.
async fn verifications(server: &LocalServer, token: &str, n: u64) -> anyhow::Result<Verifications> {
    let jwks = JwksCache::new(
        format!("{}/.well-known/jwks.json", server.dev_issuer).parse()?,
        reqwest::Client::new(),
        RefreshPolicy::default(),
    );
    jwks.prime().await?;
    let verifier = TokenVerifier::new(
        TokenPolicy {
            issuer: server.dev_issuer.clone(),
            resource: server.resource.clone(),
            profile: TokenProfile::Cognito,
            leeway_secs: 30,
        },
        jwks,
        10_000,
    );
    verifier
        .verify(token)
        .await
        .context("the benchmark token does not verify")?;
    let started = Instant::now();
    for _ in 0..n {
        verifier.verify_uncached(token).await.ok();
    }
    let cold = n as f64 / started.elapsed().as_secs_f64();
    let hits = n * 20;
    let started = Instant::now();
    for _ in 0..hits {
        verifier.verify(token).await.ok();
    }
    let cached = hits as f64 / started.elapsed().as_secs_f64();
    Ok(Verifications { cold, cached })
}

struct Load {
    count: u64,
    errors: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Stateless (2026-07-28) authenticated `tools/call whoami` from `concurrency` connections.
async fn load(server: &LocalServer, token: &str, args: &BenchArgs) -> anyhow::Result<Load> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": "whoami", "arguments": {},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    }}})
    .to_string();
    let request = Arc::new(BenchRequest::new(server, token, body)?);
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.max_time;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (request, sent, errors, addr) =
            (request.clone(), sent.clone(), errors.clone(), server.addr);
        let limit = args.requests;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let Ok(mut connection) = BenchConnection::open(addr).await else {
                errors.fetch_add(1, Ordering::Relaxed);
                return latencies;
            };
            while sent.fetch_add(1, Ordering::Relaxed) < limit && Instant::now() < deadline {
                let t = Instant::now();
                // The server closes a connection after 1,000 requests (`Connection: close`), as
                // a real client's pool would, the worker opens another; the time counts.
                if connection.closing {
                    match BenchConnection::open(addr).await {
                        Ok(fresh) => connection = fresh,
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    }
                }
                if connection.call(&request).await {
                    latencies.push(t.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::new();
    for w in workers {
        latencies.extend(w.await?);
    }
    Ok(Load::new(
        latencies,
        errors.load(Ordering::Relaxed),
        started.elapsed(),
    ))
}

/// The request every worker sends, its parts built once.
struct BenchRequest {
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
}

impl BenchRequest {
    fn new(server: &LocalServer, token: &str, body: String) -> anyhow::Result<Self> {
        use axum::http::{HeaderValue, header};
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::HOST, server.addr.to_string().parse()?);
        headers.insert(header::AUTHORIZATION, format!("Bearer {token}").parse()?);
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
        headers.insert(
            "mcp-protocol-version",
            HeaderValue::from_static("2026-07-28"),
        );
        headers.insert("mcp-method", HeaderValue::from_static("tools/call"));
        headers.insert("mcp-name", HeaderValue::from_static("whoami"));
        Ok(Self {
            uri: server.resource.path().parse()?,
            headers,
            body: body.into(),
        })
    }

    fn build(&self) -> axum::http::Request<axum::body::Body> {
        let mut request = axum::http::Request::new(axum::body::Body::from(self.body.clone()));
        *request.method_mut() = axum::http::Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// One keep-alive HTTP/1.1 connection to the server.
struct BenchConnection {
    sender: hyper::client::conn::http1::SendRequest<axum::body::Body>,
    /// The server said it closes the connection after the last answer, or it is closed.
    closing: bool,
}

impl BenchConnection {
    async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Self> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp)).await?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            closing: false,
        })
    }

    /// Sends the request; whether a 2xx answer came back whole.
    async fn call(&mut self, r: &BenchRequest) -> bool {
        if self.sender.ready().await.is_err() {
            self.closing = true;
            return false;
        }
        let answer = self.sender.send_request(r.build()).await;
        self.closing = match &answer {
            Ok(response) => response
                .headers()
                .get(axum::http::header::CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close")),
            Err(_) => true,
        };
        match answer {
            Ok(response) if response.status().is_success() => {
                axum::body::to_bytes(axum::body::Body::new(response.into_body()), 1 << 20)
                    .await
                    .is_ok()
            }
            _ => false,
        }
    }
}

impl Load {
    fn new(mut latencies: Vec<Duration>, errors: u64, elapsed: Duration) -> Self {
        latencies.sort_unstable();
        let pct = |p: f64| {
            latencies
                .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0)
        };
        Self {
            count: latencies.len() as u64,
            errors,
            rate: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
        }
    }
}

/// Sequential `tools/call whoami` on one 2025-11-25 session: rmcp's path, each answer an SSE
/// stream written in pieces (where a missing TCP_NODELAY once cost 40 ms a request).
async fn session(server: &LocalServer, token: &str, args: &BenchArgs) -> anyhow::Result<Load> {
    let http = reqwest::Client::new();
    let url = server.resource.to_string();
    let post = |body: serde_json::Value| {
        http.post(&url)
            .header("Accept", "application/json, text/event-stream")
            .header("Content-Type", "application/json")
            .bearer_auth(token)
            .body(body.to_string())
    };
    let initialized = post(
        serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "1"}}}),
    )
    .send()
    .await
    .context("initializing a 2025-11-25 session")?
    .error_for_status()
    .context("initializing a 2025-11-25 session")?;
    let session = initialized
        .headers()
        .get("Mcp-Session-Id")
        .and_then(|v| v.to_str().ok())
        .context("the server opened no session (no Mcp-Session-Id)")?
        .to_owned();
    let in_session = |body| {
        post(body)
            .header("Mcp-Session-Id", &session)
            .header("MCP-Protocol-Version", "2025-11-25")
    };
    in_session(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .send()
        .await?
        .error_for_status()
        .context("notifications/initialized")?;
    let deadline = Instant::now() + args.max_time;
    let started = Instant::now();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for id in 1..=args.session_requests {
        if Instant::now() >= deadline {
            break;
        }
        let t = Instant::now();
        let answered = match in_session(serde_json::json!({"jsonrpc": "2.0", "id": id,
            "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}))
        .send()
        .await
        {
            Ok(r) if r.status().is_success() => r.text().await.is_ok_and(|t| t.contains("result")),
            _ => false,
        };
        if answered {
            latencies.push(t.elapsed());
        } else {
            errors += 1;
        }
    }
    Ok(Load::new(latencies, errors, started.elapsed()))
}
