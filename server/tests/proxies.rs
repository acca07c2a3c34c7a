//! Behind a reverse proxy: the per-address limits key on the client the trusted proxy names,
//! and on nobody's word otherwise. Registration (20 per address per 10 minutes) is the limit
//! these tests spend, over real HTTP through the server's own accept loop.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use mcp_auth_server::{
    client_address::{ForwardedHeader, TrustedProxies},
    local::{LocalOptions, LocalServer},
};
use serde_json::json;

/// More than one address's allowance of registrations.
const ATTEMPTS: usize = 25;
const ALLOWANCE: usize = 20;

async fn server_trusting(proxies: &[&str], header: ForwardedHeader) -> LocalServer {
    LocalServer::start(LocalOptions {
        trusted_proxies: TrustedProxies::parse(proxies, header).unwrap(),
        ..LocalOptions::default()
    })
    .await
    .unwrap()
}

/// Registers once with `header: value` (if any); the status.
async fn register(server: &LocalServer, header: Option<(&str, String)>) -> u16 {
    let body = json!({
        "redirect_uris": ["http://127.0.0.1:9/cb"],
        "token_endpoint_auth_method": "none"
    });
    let mut request = reqwest::Client::new()
        .post(format!("{}/register", server.issuer))
        .json(&body);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

fn created(statuses: &[u16]) -> usize {
    statuses.iter().filter(|s| **s == 201).count()
}

#[tokio::test]
async fn forwarded_addresses_from_an_untrusted_peer_change_nothing() {
    let server = LocalServer::start(LocalOptions::default()).await.unwrap();
    let mut statuses = Vec::new();
    for i in 0..ATTEMPTS {
        // A client posing as a new address every time, in both headers.
        let xff = Some(("x-forwarded-for", format!("203.0.113.{i}")));
        statuses.push(register(&server, xff).await);
        let forwarded = Some(("forwarded", format!("for=198.51.100.{i}")));
        statuses.push(register(&server, forwarded).await);
    }
    println!(
        "spoofed forwarding headers: {} of {} registered",
        created(&statuses),
        statuses.len()
    );
    assert_eq!(created(&statuses), ALLOWANCE, "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_allowance() {
    let server = server_trusting(&["127.0.0.0/8"], ForwardedHeader::XForwardedFor).await;
    // Many users behind the proxy: none of them is refused because of the others.
    let mut statuses = Vec::new();
    for i in 0..ATTEMPTS {
        let chain = format!("203.0.113.{i}, 127.0.0.5");
        statuses.push(register(&server, Some(("x-forwarded-for", chain))).await);
    }
    assert_eq!(created(&statuses), ATTEMPTS, "{statuses:?}");
    // One user behind the proxy still has one allowance, whatever it writes left of its hop.
    let mut statuses = Vec::new();
    for i in 0..ATTEMPTS {
        let chain = format!("10.{i}.0.1, 198.51.100.7");
        statuses.push(register(&server, Some(("x-forwarded-for", chain))).await);
    }
    assert_eq!(created(&statuses), ALLOWANCE, "{statuses:?}");
    // IPv6 clients count per /64: a host's other addresses are the same host.
    let mut statuses = Vec::new();
    for i in 0..ATTEMPTS {
        let chain = format!("2001:db8:5:6::{i:x}");
        statuses.push(register(&server, Some(("x-forwarded-for", chain))).await);
    }
    assert_eq!(created(&statuses), ALLOWANCE, "{statuses:?}");
    let other_network = Some(("x-forwarded-for", "2001:db8:5:7::1".to_owned()));
    assert_eq!(register(&server, other_network).await, 201);
    // A /56 spread over 90 of its /64s gets 4 hosts' allowance between them, not 90.
    let mut statuses = Vec::new();
    for n in 0..90 {
        let chain = format!("2001:db8:6:{n:x}::1");
        statuses.push(register(&server, Some(("x-forwarded-for", chain))).await);
    }
    assert_eq!(created(&statuses), 4 * ALLOWANCE, "{statuses:?}");
    // The header the proxy does not write is ignored.
    let mut statuses = Vec::new();
    for i in 0..ATTEMPTS {
        statuses.push(register(&server, Some(("forwarded", format!("for=192.0.2.{i}")))).await);
    }
    assert_eq!(
        created(&statuses),
        ALLOWANCE,
        "{statuses:?}: all as the proxy itself"
    );
    server.shutdown().await.unwrap();
}
