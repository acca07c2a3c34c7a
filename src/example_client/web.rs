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
use maud::{DOCTYPE, Markup, html};
use mcp_auth_conformance::client::{authorization::AuthorizationResponse, cimd_host};
use tokio::sync::Mutex;

use super::{
    session::{Session, ToolOutcome},
    settings::Registration,
    settings::cimd_url,
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

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;\
                     padding:0 1rem;color:#222}form{display:inline}button{margin:0 .5rem .5rem 0;\
                     padding:.5rem 1rem;font-size:1rem}ol{padding-left:1.5rem}li{margin:.4rem 0}\
                     .ok b{color:#0a6b2b}.failed{color:#b00020}.failed b{color:#b00020}\
                     pre{background:#f5f5f5;padding:.5rem;overflow-x:auto;white-space:pre-wrap}\
                     code{font-size:.9em}small{color:#555}";

async fn page(State(app): State<Arc<App>>) -> Response {
    let session = app.session.lock().await;
    let settings = session.settings();
    let result = app.result.lock().await.clone();
    let state = if session.signed_in() {
        "Signed in (tokens in this process's memory only)"
    } else {
        "Not signed in"
    };
    let mode = settings.registration.as_str();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "MCP client: " (mode) }
                style { (STYLE) }
            }
            body {
                h1 { "MCP client (" (mode) " registration)" }
                p {
                    "MCP server " code { (settings.server) } " · settings from "
                    code { (settings.source) } " · " span id="state" { (state) }
                }
                form method="post" action="/login" { button id="login" { "Log in" } }
                form method="post" action="/fetch" { button id="fetch" { "Fetch MCP Data" } }
                form method="post" action="/write" { button id="write" { "Call write tool" } }
                form method="post" action="/logout" { button id="logout" { "Log out" } }
                @if let Some(result) = result {
                    h2 { "Tool result" }
                    pre id="result" { (result) }
                }
                h2 { "The flow, step by step" }
                ol id="timeline" {
                    @for (i, step) in session.timeline.iter().enumerate() { (render_step(i, step)) }
                }
            }
        }
    };
    (
        [
            // Log in posts here and redirects to whichever authorization server the client uses.
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(page.into_string()),
    )
        .into_response()
}

/// JSON evidence as the page shows it.
fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn render_step(i: usize, s: &Step) -> Markup {
    html! {
        li class=(if s.ok { "ok" } else { "failed" }) id={ "step-" (i) } {
            b { (s.name) } " " (if s.ok { "✓" } else { "✗" }) " " (s.summary)
            @if !s.exchanges.is_empty() || s.claims.is_some() {
                details {
                    summary { "request and response" }
                    @for exchange in &s.exchanges { pre { (pretty(exchange)) } }
                    @if let Some(claims) = &s.claims {
                        p { small { "access token claims (decoded, not verified)" } }
                        pre { (pretty(claims)) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_servers_send_is_shown_as_text() {
        let step = Step {
            name: "token",
            ok: false,
            summary: r#"refused: <img src=x onerror="alert(1)">"#.into(),
            exchanges: vec![],
            claims: Some(serde_json::json!({"sub": "</pre><script>alert(1)</script>"})),
        };
        let html = render_step(3, &step).into_string();
        assert!(html.starts_with(r#"<li class="failed" id="step-3"><b>token</b> ✗ refused: "#));
        assert!(
            !html.contains("<img") && !html.contains("<script>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;"), "{html}");
    }
}
