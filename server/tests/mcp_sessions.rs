//! 2025-11-25 MCP sessions attacked: one token opening sessions without end, one user holding
//! event streams open, and a session id used, streamed from or ended with someone else's token.
//! Each was a defect once (issue 21: 29,572 sessions from one read-only token in 40 s, RSS 47 MiB
//! to 2,973 MiB; any token could use any session id).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use mcp_auth_server::{local::LocalServer, mcp::sessions::SessionLimits};
use reqwest::{StatusCode, header};
use serde_json::json;
use support::facade::{discover, signed_in};

const ACCEPT: &str = "application/json, text/event-stream";

fn post(
    server: &LocalServer,
    token: &str,
    session: Option<&str>,
    body: serde_json::Value,
) -> reqwest::RequestBuilder {
    let mut r = support::http()
        .post(server.resource.as_str())
        .header(header::ACCEPT, ACCEPT)
        .header("MCP-Protocol-Version", "2025-11-25")
        .bearer_auth(token)
        .json(&body);
    if let Some(s) = session {
        r = r.header("Mcp-Session-Id", s);
    }
    r
}

/// A read-only token of the static client.
async fn read_token(server: &LocalServer) -> String {
    let scope = format!("openid {}/mcp:read", server.resource);
    server.static_client_token(&scope).await.unwrap()
}

/// Opens a session with `token`: its id.
async fn open(server: &LocalServer, token: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let r = post(server, token, None, init).send().await.unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let id = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let ack = post(
        server,
        token,
        Some(&id),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    assert_eq!(ack.send().await.unwrap().status(), 202);
    id
}

/// Opens the session's event stream (GET) with `token`.
async fn stream(server: &LocalServer, token: &str, session: &str) -> reqwest::Response {
    support::http()
        .get(server.resource.as_str())
        .header(header::ACCEPT, "text/event-stream")
        .header("MCP-Protocol-Version", "2025-11-25")
        .header("Mcp-Session-Id", session)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Ends the session (DELETE) with `token`.
async fn end(server: &LocalServer, token: &str, session: &str) -> reqwest::Response {
    support::http()
        .delete(server.resource.as_str())
        .header("MCP-Protocol-Version", "2025-11-25")
        .header("Mcp-Session-Id", session)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn list(server: &LocalServer, token: &str, session: &str) -> (StatusCode, String) {
    let r = post(
        server,
        token,
        Some(session),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .send()
    .await
    .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn one_token_cannot_open_sessions_without_end() {
    let server = support::auto_approving_server().await;
    let token = read_token(&server).await;
    let cap = SessionLimits::default().per_subject;
    let first = open(&server, &token).await;
    let mut last = first.clone();
    let flood = 4 * cap;
    for _ in 1..flood {
        last = open(&server, &token).await;
    }
    // The oldest sessions were ended to make room; the newest works; the client of an ended
    // one gets the 404 that tells it to initialize again.
    assert_eq!(list(&server, &token, &first).await.0, StatusCode::NOT_FOUND);
    assert_eq!(list(&server, &token, &last).await.0, StatusCode::OK);
    println!(
        "{flood} initialize requests with one token: the newest {cap} sessions are open, the rest ended"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_session_answers_only_the_user_and_client_that_opened_it() {
    let server = support::auto_approving_server().await;
    let metadata = discover(&server).await;
    // Two clients of the same user: the static client, and one registered through the façade.
    let owner = read_token(&server).await;
    let (_, issued) = signed_in(&server, &metadata, "mcp:read").await;
    let other = issued["access_token"].as_str().unwrap().to_owned();
    let session = open(&server, &owner).await;
    let made_up = list(&server, &other, "no-such-session").await;
    assert_eq!(made_up.0, StatusCode::NOT_FOUND);
    // Someone else's session: answered exactly as a made-up one, so it tells nothing.
    assert_eq!(list(&server, &other, &session).await, made_up);
    assert_eq!(
        stream(&server, &other, &session).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        end(&server, &other, &session).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        list(&server, &owner, &session).await.0,
        StatusCode::OK,
        "still the owner's"
    );
    // The owner ends it; then it is gone for the owner too.
    let delete = end(&server, &owner, &session).await;
    assert!(delete.status().is_success(), "{}", delete.status());
    assert_eq!(
        list(&server, &owner, &session).await.0,
        StatusCode::NOT_FOUND
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_user_holds_a_bounded_number_of_event_streams() {
    let server = support::auto_approving_server().await;
    let token = read_token(&server).await;
    let cap = SessionLimits::default().streams_per_subject;
    let mut held = Vec::new();
    let mut refused = None;
    for _ in 0..=cap {
        let session = open(&server, &token).await;
        let r = stream(&server, &token, &session).await;
        if r.status() == StatusCode::OK {
            held.push(r);
        } else {
            refused = Some(r);
        }
    }
    let refused = refused.expect("the stream past the cap is refused");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(held.len(), cap);
    // Closing one stream gives its place back.
    // The server sees the close when its next write fails or the connection ends: asked again
    // until then, a bounded number of times.
    drop(held.pop());
    let session = open(&server, &token).await;
    let mut again = stream(&server, &token, &session).await.status();
    for _ in 0..50 {
        if again == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        again = stream(&server, &token, &session).await.status();
    }
    assert_eq!(again, StatusCode::OK);
    println!("one user: {cap} event streams open, the next refused with 429 until one closes");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_body_that_is_not_one_json_rpc_message_is_a_json_rpc_error() {
    let server = support::auto_approving_server().await;
    let token = read_token(&server).await;
    let send = |body: &'static str| {
        support::http()
            .post(server.resource.as_str())
            .header(header::ACCEPT, ACCEPT)
            .header(header::CONTENT_TYPE, "application/json")
            .header("MCP-Protocol-Version", "2025-11-25")
            .bearer_auth(&token)
            .body(body)
            .send()
    };
    for (body, code) in [
        ("{not json", -32700),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]"#,
            -32600,
        ),
        // A read-only token naming two tools: never decided on one and run as the other.
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_list","name":"notes_add","arguments":{"text":"x"}}}"#,
            -32600,
        ),
    ] {
        let r = send(body).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: serde_json::Value = r.json().await.unwrap();
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert_eq!(answer["id"], serde_json::Value::Null);
    }
    server.shutdown().await.unwrap();
}
