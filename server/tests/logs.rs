//! What the server writes to its logs under attack, at the most verbose level: no token, code or
//! state, and a flood of refused tokens summarised in a line, not written a line each.
//!
//! One test in this binary: it installs the process-wide log subscriber.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use tracing_subscriber::fmt::MakeWriter;

/// Everything logged, in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const FLOOD: usize = 300;

#[tokio::test]
async fn refusals_are_summarised_and_no_token_code_or_state_is_logged() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(logs.clone())
        .init();
    let server = support::auto_approving_server().await;
    let http = support::http();
    let token = server
        .static_client_token(&format!("openid {}/mcp:read", server.resource))
        .await
        .unwrap();
    let mcp = |bearer: &str| whoami(&http, server.resource.as_str(), bearer);
    assert_eq!(mcp(&token).send().await.unwrap().status(), 200);
    let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, "c2lnbmF0dXJl");
    assert_eq!(mcp(&forged).send().await.unwrap().status(), 401);
    for n in 0..FLOOD {
        let refused = mcp(&format!("flood-token-{n}-SECRET"))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    // The upstream's code and state on the callback, a client's state on /authorize.
    let base = &server.issuer;
    http.get(format!(
        "{base}/oauth/callback?code=UPSTREAM-CODE-SECRET&state=UPSTREAM-STATE-SECRET"
    ))
    .send()
    .await
    .unwrap();
    http.get(format!(
        "{base}/authorize?response_type=code&client_id={}&state=CLIENT-STATE-SECRET",
        server.static_client.id
    ))
    .send()
    .await
    .unwrap();
    server.shutdown().await.unwrap();

    assert_logged_without_secrets(&logs.text(), &token, &forged);
}

/// A stateless `tools/call whoami` with `bearer`, to send.
fn whoami(http: &reqwest::Client, url: &str, bearer: &str) -> reqwest::RequestBuilder {
    http.post(url)
        .header("Accept", "application/json, text/event-stream")
        .header("Content-Type", "application/json")
        .header("MCP-Protocol-Version", "2026-07-28")
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "whoami")
        .bearer_auth(bearer)
        .body(
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string(),
        )
}

/// The log has the requests, none of the secrets, and the refusals in one counted summary.
fn assert_logged_without_secrets(text: &str, token: &str, forged: &str) {
    assert!(
        text.contains("/oauth/callback"),
        "the requests were logged at all (the capture works):\n{text}"
    );
    for secret in [
        token,
        forged,
        "SECRET",
        "UPSTREAM-CODE",
        "UPSTREAM-STATE",
        "CLIENT-STATE",
    ] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
    let refusal_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains("refused"))
        .collect();
    assert!(
        refusal_lines.len() <= 2,
        "{} refused tokens took {} log lines",
        FLOOD + 1,
        refusal_lines.len()
    );
    let total = format!("total={}", FLOOD + 1);
    assert!(
        refusal_lines.iter().any(|l| l.contains(&total)),
        "the refusals are counted: {refusal_lines:#?}"
    );
}
