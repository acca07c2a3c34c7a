//! The example client as a small web app on loopback: a page with the flow's timeline and the
//! buttons "Log in", "Fetch MCP Data", "Call write tool", "Log out".

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use mcp_auth_conformance::client::{authorization::AuthorizationResponse, cimd_host};
use tokio::sync::Mutex;

use super::{
    session::{Session, ToolOutcome, cimd_url},
    settings::Registration,
    timeline::Step,
};

/// The tool "Fetch MCP Data" calls.
pub const READ_TOOL: &str = "whoami";
/// The tool "Call write tool" calls (it needs the write scope: the step-up).
pub const WRITE_TOOL: &str = "notes_add";

struct App {
    /// The app's own origin, which its forms post from.
    origin: String,
    session: Mutex<Session>,
    /// The last tool result, shown on the page.
    result: Mutex<Option<String>>,
    /// Whether a step-up sign-in should retry the write tool when it completes.
    retry_write: Mutex<bool>,
}

/// The app's routes.
pub fn router(session: Session) -> Router {
    let app = Arc::new(App {
        origin: session.settings().base().origin().ascii_serialization(),
        session: Mutex::new(session),
        result: Mutex::new(None),
        retry_write: Mutex::new(false),
    });
    Router::new()
        .route("/", get(page))
        .route("/login", post(login))
        .route("/callback", get(callback))
        .route("/fetch", post(fetch))
        .route("/write", post(write))
        .route("/logout", post(logout))
        .route("/timeline.json", get(timeline))
        .route(cimd_host::DOCUMENT_PATH, get(metadata_document))
        .with_state(app)
}

/// The app's own POSTs come from its own page: another site's form cannot drive it.
fn guard(app: &App, headers: &HeaderMap) -> Option<Response> {
    let same_origin = match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => {
            origin == app.origin || origin.replace("localhost", "127.0.0.1") == app.origin
        }
        None => true,
    };
    (!same_origin).then(|| (StatusCode::FORBIDDEN, "cross-origin request refused").into_response())
}

async fn login(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(refused) = guard(&app, &headers) {
        return refused;
    }
    let mut session = app.session.lock().await;
    match session.begin_login(None).await {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(_) => Redirect::to("/").into_response(),
    }
}

async fn callback(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    let params = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let response = AuthorizationResponse { params };
    let mut session = app.session.lock().await;
    let signed_in = session.complete(&response).await.is_ok();
    let retry = std::mem::take(&mut *app.retry_write.lock().await);
    if signed_in && retry {
        let outcome = session.call_tool(WRITE_TOOL, write_arguments()).await;
        *app.result.lock().await = describe(outcome);
    }
    Redirect::to("/").into_response()
}

async fn fetch(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(refused) = guard(&app, &headers) {
        return refused;
    }
    let outcome = app
        .session
        .lock()
        .await
        .call_tool(READ_TOOL, serde_json::json!({}))
        .await;
    *app.result.lock().await = describe(outcome);
    Redirect::to("/").into_response()
}

async fn write(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(refused) = guard(&app, &headers) {
        return refused;
    }
    let mut session = app.session.lock().await;
    match session.call_tool(WRITE_TOOL, write_arguments()).await {
        Ok(ToolOutcome::NeedsScope(scope)) => match session.begin_login(Some(&scope)).await {
            Ok(url) => {
                *app.retry_write.lock().await = true;
                Redirect::to(url.as_str()).into_response()
            }
            Err(_) => Redirect::to("/").into_response(),
        },
        outcome => {
            *app.result.lock().await = describe(outcome);
            Redirect::to("/").into_response()
        }
    }
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(refused) = guard(&app, &headers) {
        return refused;
    }
    app.session.lock().await.logout();
    *app.result.lock().await = None;
    Redirect::to("/").into_response()
}

async fn timeline(State(app): State<Arc<App>>) -> Json<Vec<Step>> {
    Json(app.session.lock().await.timeline.clone())
}

async fn metadata_document(State(app): State<Arc<App>>) -> Response {
    let session = app.session.lock().await;
    let settings = session.settings();
    if settings.registration != Registration::Cimd {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(cimd_host::document(
        &cimd_url(settings),
        "mcp-auth-kit example (CIMD)",
        &[settings.redirect_uri()],
    ))
    .into_response()
}

/// The note the write tool adds.
pub fn write_arguments() -> serde_json::Value {
    serde_json::json!({"text": "Hello from the mcp-auth-kit example client"})
}

/// A tool outcome as the page shows it.
pub fn describe(outcome: Result<ToolOutcome, super::session::Stopped>) -> Option<String> {
    match outcome {
        Ok(ToolOutcome::Result(r)) => Some(
            r["content"][0]["text"]
                .as_str()
                .map_or_else(|| r.to_string(), str::to_owned),
        ),
        Ok(ToolOutcome::NeedsScope(s)) => Some(format!("the server asks for the scope {s}")),
        Err(e) => Some(format!("stopped: {e}")),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn page(State(app): State<Arc<App>>) -> Response {
    let session = app.session.lock().await;
    let settings = session.settings();
    let steps: String = session
        .timeline
        .iter()
        .enumerate()
        .map(|(i, s)| render_step(i, s))
        .collect();
    let result = app
        .result
        .lock()
        .await
        .as_deref()
        .map(|r| {
            format!(
                r#"<h2>Tool result</h2><pre id="result">{}</pre>"#,
                escape(r)
            )
        })
        .unwrap_or_default();
    let state = if session.signed_in() {
        "Signed in (tokens in this process's memory only)"
    } else {
        "Not signed in"
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCP client: {mode}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}}
form{{display:inline}}button{{margin:0 .5rem .5rem 0;padding:.5rem 1rem;font-size:1rem}}
ol{{padding-left:1.5rem}}li{{margin:.4rem 0}}.ok b{{color:#0a6b2b}}.failed{{color:#b00020}}
.failed b{{color:#b00020}}pre{{background:#f5f5f5;padding:.5rem;overflow-x:auto;white-space:pre-wrap}}
code{{font-size:.9em}}small{{color:#555}}
</style></head><body>
<h1>MCP client ({mode} registration)</h1>
<p>MCP server <code>{server}</code> · settings from <code>{source}</code> · <span id="state">{state}</span></p>
<form method="post" action="/login"><button id="login">Log in</button></form>
<form method="post" action="/fetch"><button id="fetch">Fetch MCP Data</button></form>
<form method="post" action="/write"><button id="write">Call write tool</button></form>
<form method="post" action="/logout"><button id="logout">Log out</button></form>
{result}
<h2>The flow, step by step</h2>
<ol id="timeline">{steps}</ol>
</body></html>"#,
        mode = settings.registration.as_str(),
        server = escape(settings.server.as_str()),
        source = escape(&settings.source),
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(html),
    )
        .into_response()
}

fn render_step(i: usize, s: &Step) -> String {
    let class = if s.ok { "ok" } else { "failed" };
    let mut details = String::new();
    for e in &s.exchanges {
        let json = serde_json::to_string_pretty(e).unwrap_or_default();
        details.push_str(&format!("<pre>{}</pre>", escape(&json)));
    }
    if let Some(c) = &s.claims {
        details.push_str(&format!(
            "<p><small>access token claims (decoded, not verified)</small></p><pre>{}</pre>",
            escape(&serde_json::to_string_pretty(c).unwrap_or_default())
        ));
    }
    let details = if details.is_empty() {
        String::new()
    } else {
        format!("<details><summary>request and response</summary>{details}</details>")
    };
    format!(
        r#"<li class="{class}" id="step-{i}"><b>{name}</b> {mark} {summary}{details}</li>"#,
        name = escape(s.name),
        mark = if s.ok { "✓" } else { "✗" },
        summary = escape(&s.summary),
    )
}
