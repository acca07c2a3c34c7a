//! `cargo xtask bench`: throughput and latency of the bundled server, beside a bare axum
//! hello-world on the same runtime and load, and the cost of a token verification on a cache
//! miss. A benchmark: it reports numbers, it asserts nothing.
//!
//! Everything runs on loopback in one process (server and load generator share the cores), with
//! a bounded request count and time. The load comes from hyper's bare HTTP/1.1 client, one
//! keep-alive connection per worker, so the generator takes as little of the shared cores as it
//! can (with reqwest's pool and request building, the same server measured far lower: see
//! docs/performance.md). The hello baseline takes the same requests from the same generator, so
//! the ratio of the two rates says what authorization and MCP cost over HTTP alone, whatever
//! else the machine is doing that hour.

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
    let hello = Hello::start(server.resource.path()).await?;
    let baseline = load(&hello.request(&token)?, &args).await?;
    hello.stop();
    let load = load(&tools_call(&server, &token)?, &args).await?;
    let session = session(&server, &token, &args).await?;
    server.shutdown().await?;
    println!("{}", report(&args, &verify, &load, &baseline, &session));
    let errors = load.errors + session.errors + baseline.errors;
    if errors > 0 {
        bail!("{errors} requests failed; the figures above are not meaningful");
    }
    Ok(())
}

/// The figures, one table.
fn report(
    args: &BenchArgs,
    verify: &Verifications,
    load: &Load,
    baseline: &Load,
    session: &Load,
) -> Table {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let latency = |l: &Load| format!("{:.2} ms / {:.2} ms", l.p50_ms, l.p99_ms);
    let cpu = match (load.cpu_us, baseline.cpu_us) {
        (Some(ours), Some(hello)) => format!("{ours:.1} µs / {hello:.1} µs"),
        _ => "n/a (reads /proc/self/stat)".to_owned(),
    };
    let rows = [
        ("cores", cores.to_string()),
        (
            "cold RS256 verifications/s (one core)",
            format!("{:.0}", verify.cold),
        ),
        (
            "cached verifications/s (one core)",
            format!("{:.0}", verify.cached),
        ),
        ("tools/call requests", load.count.to_string()),
        ("concurrency", args.concurrency.to_string()),
        ("authenticated tools/call/s", format!("{:.0}", load.rate)),
        ("p50 / p99 latency", latency(load)),
        ("errors", load.errors.to_string()),
        (
            "axum hello POST/s (the baseline: same path, headers, body and load)",
            format!("{:.0}", baseline.rate),
        ),
        ("hello p50 / p99 latency", latency(baseline)),
        (
            "tools/call rate ÷ hello rate",
            format!("{:.2}", load.rate / baseline.rate),
        ),
        (
            "CPU per request, tools/call / hello (the process: server and load together)",
            cpu,
        ),
        ("hello errors", baseline.errors.to_string()),
        (
            "2025-11-25 session: sequential tools/call",
            session.count.to_string(),
        ),
        ("session p50 / p99 latency", latency(session)),
        ("session errors", session.errors.to_string()),
    ];
    let mut table = Table::new();
    table.set_header(vec!["measure", "value"]);
    for (measure, value) in rows {
        table.add_row(vec![measure.to_owned(), value]);
    }
    table
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
    /// The process's CPU time per answered request, in µs, where the system tells it.
    cpu_us: Option<f64>,
}

/// The JSON-RPC body of the stateless (2026-07-28) `tools/call whoami` both targets get.
fn whoami_body() -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": "whoami", "arguments": {},
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    }}})
    .to_string()
}

/// The authenticated `tools/call whoami`; an answer counts only when it names the token's user.
fn tools_call(server: &LocalServer, token: &str) -> anyhow::Result<BenchRequest> {
    BenchRequest::new(
        server.addr,
        server.resource.path(),
        token,
        whoami_body(),
        server.user.subject.clone(),
    )
}

/// The baseline: a bare axum route at the MCP path answering a fixed JSON body, served by
/// `axum::serve` on the bench's runtime.
struct Hello {
    addr: std::net::SocketAddr,
    path: String,
    serving: tokio::task::JoinHandle<()>,
}

/// What the hello route answers, about the size of the whoami answer's envelope.
const HELLO: &str =
    r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}"#;

impl Hello {
    async fn start(path: &str) -> anyhow::Result<Self> {
        use axum::serve::ListenerExt;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding the hello baseline")?;
        let addr = listener.local_addr()?;
        // As the server's own accept loop does.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let router = axum::Router::new().route(
            path,
            axum::routing::post(|_body: axum::body::Bytes| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    HELLO,
                )
            }),
        );
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            addr,
            path: path.to_owned(),
            serving,
        })
    }

    /// The same request the server gets (the token goes unread).
    fn request(&self, token: &str) -> anyhow::Result<BenchRequest> {
        BenchRequest::new(
            self.addr,
            &self.path,
            token,
            whoami_body(),
            "hello".to_owned(),
        )
    }

    fn stop(self) {
        self.serving.abort();
    }
}

/// The process's user and system CPU time so far, from `/proc/self/stat` (Linux).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks; Linux reports
    // them at 100 a second on every architecture it runs this on.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// `request` from `concurrency` connections, until `requests` are sent or `max_time` passes.
async fn load(request: &BenchRequest, args: &BenchArgs) -> anyhow::Result<Load> {
    let request = Arc::new(request.clone());
    let sent = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.max_time;
    let started = Instant::now();
    let cpu_before = process_cpu();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (request, sent, errors, addr) =
            (request.clone(), sent.clone(), errors.clone(), request.addr);
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
    let mut load = Load::new(latencies, errors.load(Ordering::Relaxed), started.elapsed());
    load.cpu_us = cpu_before
        .zip(process_cpu())
        .filter(|_| load.count > 0)
        .map(|(before, after)| (after - before).as_secs_f64() * 1e6 / load.count as f64);
    Ok(load)
}

/// The request every worker sends, its parts built once, and what its answer must contain.
#[derive(Clone)]
struct BenchRequest {
    addr: std::net::SocketAddr,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
    expect: Vec<u8>,
}

impl BenchRequest {
    fn new(
        addr: std::net::SocketAddr,
        path: &str,
        token: &str,
        body: String,
        expect: String,
    ) -> anyhow::Result<Self> {
        use axum::http::{HeaderValue, header};
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::HOST, addr.to_string().parse()?);
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
            addr,
            uri: path.parse()?,
            headers,
            body: body.into(),
            expect: expect.into_bytes(),
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

    /// Sends the request; whether a 2xx answer came back whole, with what it must contain.
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
                    .is_ok_and(|body| body.windows(r.expect.len()).any(|w| w == r.expect))
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
            cpu_us: None,
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
