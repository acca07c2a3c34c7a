//! Slow, silent and idle connections, as an attacker holds them: the server closes them at the
//! header deadline, serves a bounded number at once without refusing the ones it serves, and
//! still drains in-flight requests on shutdown. Every wait here is bounded; the bounds say "it
//! was closed" or "it was answered", never how fast.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails by panicking: an unwrap is an assertion"
)]

mod support;

use std::{net::SocketAddr, time::Duration};

use axum::{Router, routing::get};
use mcp_auth_server::{
    client_address::TrustedProxies,
    connections::{self, ConnectionLimits},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// Longer than the server's 10 s header deadline, with room for a loaded machine.
const CLOSED_WITHIN: Duration = Duration::from_secs(25);
const GET_HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Everything the peer sends until it closes, or `None` if it is still open after `bound`.
async fn read_until_closed(stream: &mut TcpStream, bound: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.is_ok().then_some(received)
}

/// Reads one whole HTTP/1.1 response of a `/healthz`-like route (short body, Content-Length).
async fn read_response(stream: &mut TcpStream, bound: Duration) -> Option<String> {
    let mut received = Vec::new();
    tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.ok()?;
            if n == 0 {
                return None;
            }
            received.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    return Some(text.into_owned());
                }
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Headers trickled one line a second, never finished: the connection must be cut, unanswered.
async fn trickle(addr: SocketAddr) -> Result<(), String> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let reader = tokio::spawn(async move {
        let mut received = Vec::new();
        let _ = read.read_to_end(&mut received).await;
        received
    });
    write.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    for line in 0..CLOSED_WITHIN.as_secs() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if reader.is_finished() {
            break;
        }
        if write
            .write_all(format!("X-Slow-{line}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            break;
        }
    }
    let received = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .map_err(|_| format!("still open after {CLOSED_WITHIN:?} of trickled headers"))?
        .unwrap();
    if received.starts_with(b"HTTP/1.1 200") {
        return Err("the trickled request was served".into());
    }
    Ok(())
}

async fn silent(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    read_until_closed(&mut stream, CLOSED_WITHIN)
        .await
        .map(drop)
        .ok_or_else(|| format!("a silent connection was still open after {CLOSED_WITHIN:?}"))
}

async fn idle_keep_alive(addr: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(GET_HEALTHZ).await.unwrap();
    let answer = read_response(&mut stream, Duration::from_secs(10))
        .await
        .ok_or("no answer to a plain request")?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected answer {answer}"));
    }
    read_until_closed(&mut stream, CLOSED_WITHIN)
        .await
        .map(drop)
        .ok_or_else(|| format!("an idle keep-alive was still open after {CLOSED_WITHIN:?}"))
}

#[tokio::test]
async fn slow_silent_and_idle_connections_are_closed_at_the_header_deadline() {
    let server = support::auto_approving_server().await;
    let (trickled, silent, idle) = tokio::join!(
        trickle(server.addr),
        silent(server.addr),
        idle_keep_alive(server.addr)
    );
    let failures: Vec<String> = [trickled, silent, idle]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    // The server itself is unharmed.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(GET_HEALTHZ).await.unwrap();
    let answer = read_response(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_not_served() {
    let server = support::auto_approving_server().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let received = read_until_closed(&mut stream, CLOSED_WITHIN)
        .await
        .expect("the connection is closed");
    // An HTTP/2 server would answer with a SETTINGS frame (type 4 in the frame's 4th byte).
    assert!(
        received.get(3) != Some(&4),
        "answered in HTTP/2: {received:?}"
    );
    server.shutdown().await.unwrap();
}

struct TestServer {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

/// Limits whose header deadline is long enough that nothing in these tests reaches it.
fn patient(max_connections: usize, drain_timeout: Duration) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_secs(60),
        max_connections,
        drain_timeout,
        per_address: max_connections,
        max_requests: 1_000,
        max_age: Duration::from_secs(600),
    }
}

/// A small app behind the accept loop, with the given limits.
async fn serve(limits: ConnectionLimits) -> TestServer {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "slow"
            }),
        )
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(connections::serve(
        listener,
        router,
        limits,
        TrustedProxies::none(),
        shutdown.clone(),
    ));
    TestServer {
        addr,
        shutdown,
        task,
    }
}

/// Sends `/healthz` on an open connection and requires its 200.
async fn assert_healthy(stream: &mut TcpStream) {
    stream.write_all(GET_HEALTHZ).await.unwrap();
    let answer = read_response(stream, Duration::from_secs(10))
        .await
        .expect("served");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

impl TestServer {
    /// Stops it and requires the accept loop to finish (drained or cut short).
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("shutdown finished")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn beyond_the_cap_newcomers_wait_and_the_connections_served_keep_working() {
    // Slots free only when a client leaves.
    let server = serve(patient(3, Duration::from_secs(5))).await;
    let mut existing = TcpStream::connect(server.addr).await.unwrap();
    assert_healthy(&mut existing).await;
    // Two slow connections take the other two slots.
    let mut slow = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        slow.push(s);
    }
    // A newcomer connects (the kernel's backlog takes it) but waits for a slot.
    let mut newcomer = TcpStream::connect(server.addr).await.unwrap();
    newcomer.write_all(GET_HEALTHZ).await.unwrap();
    let early = read_response(&mut newcomer, Duration::from_secs(1)).await;
    assert!(early.is_none(), "served beyond the cap: {early:?}");
    // The connection already served is not starved by the slow ones.
    for _ in 0..3 {
        assert_healthy(&mut existing).await;
    }
    // One slow client leaves: the newcomer gets its answer.
    drop(slow.pop());
    let answer = read_response(&mut newcomer, Duration::from_secs(10))
        .await
        .expect("the newcomer is served once a slot frees");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_answers_requests_in_flight_and_closes_idle_connections() {
    let server = serve(patient(16, Duration::from_secs(10))).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert_healthy(&mut idle).await;
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    // Let the slow request reach its handler, then stop the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let addr = server.addr;
    let stopping = tokio::spawn(server.stop());
    let answer = read_response(&mut busy, Duration::from_secs(10))
        .await
        .expect("the request in flight is answered");
    assert!(answer.ends_with("slow"), "{answer}");
    assert!(
        read_until_closed(&mut idle, Duration::from_secs(10))
            .await
            .is_some(),
        "the idle connection is closed"
    );
    stopping.await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_drain_that_outlasts_its_time_is_cut_short() {
    let server = serve(patient(16, Duration::from_millis(200))).await;
    // A request whose body never comes keeps its connection busy.
    let mut stuck = TcpStream::connect(server.addr).await.unwrap();
    stuck
        .write_all(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Finishes although the client never sends its body.
    server.stop().await;
    assert!(
        read_until_closed(&mut stuck, Duration::from_secs(10))
            .await
            .is_some()
    );
}

/// A connection from `source` (any 127.0.0.0/8 address is this machine's on Linux).
async fn connect_from(source: [u8; 4], addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("127.0.0.0/8 is loopback");
    socket.connect(addr).await.unwrap()
}

#[tokio::test]
async fn one_address_cannot_hold_every_slot() {
    // The figure scaled down: 768 slots and a share of 192 become 64 and 16.
    let total = 64;
    let share = connections::per_address_cap(total);
    assert_eq!(share, 16);
    let limits = ConnectionLimits {
        per_address: share,
        ..patient(total, Duration::from_secs(5))
    };
    let server = serve(limits).await;
    // The attacker opens keep-alive connections and keeps each one served.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..(total + 8) {
        let mut s = connect_from([127, 0, 0, 1], server.addr).await;
        s.write_all(GET_HEALTHZ).await.unwrap();
        match read_response(&mut s, Duration::from_secs(10)).await {
            Some(answer) if answer.starts_with("HTTP/1.1 200") => held.push(s),
            Some(answer) => {
                assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
                assert!(answer.contains("Retry-After: 10"), "{answer}");
                assert!(answer.contains("too many connections from one address"));
                assert!(
                    read_until_closed(&mut s, Duration::from_secs(5))
                        .await
                        .is_some(),
                    "a refused connection is closed"
                );
                refused += 1;
            }
            None => panic!("a connection beyond the share was neither served nor refused"),
        }
    }
    println!(
        "one address: {} connections held, {refused} refused, of {total} slots",
        held.len()
    );
    assert_eq!(held.len(), share);
    // Everyone else still gets in, at once: the slots are not all taken.
    for source in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        let mut other = connect_from(source, server.addr).await;
        assert_healthy(&mut other).await;
    }
    // The attacker's held connections keep working, and a freed one can be taken again.
    assert_healthy(&mut held[0]).await;
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        let mut s = connect_from([127, 0, 0, 1], server.addr).await;
        s.write_all(GET_HEALTHZ).await.unwrap();
        let answer = read_response(&mut s, Duration::from_secs(10)).await;
        if answer
            .as_deref()
            .is_some_and(|a| a.starts_with("HTTP/1.1 200"))
        {
            again = Some(s);
            break;
        }
        // The server may not have seen the close yet: ask again, bounded.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(again.is_some(), "a freed place in the share is taken again");
    server.stop().await;
}

/// Reads answers on one keep-alive connection until the server closes it; returns how many.
async fn answers_until_closed(stream: &mut TcpStream, up_to: usize) -> (usize, String) {
    let mut last = String::new();
    for n in 1..=up_to {
        stream.write_all(GET_HEALTHZ).await.unwrap();
        last = read_response(stream, Duration::from_secs(10))
            .await
            .expect("answered");
        if last.to_ascii_lowercase().contains("connection: close") {
            assert!(
                read_until_closed(stream, Duration::from_secs(5))
                    .await
                    .is_some(),
                "closed after the answer that said so"
            );
            return (n, last);
        }
    }
    (up_to + 1, last)
}

#[tokio::test]
async fn a_connection_is_closed_after_its_requests_or_its_age() {
    let server = serve(ConnectionLimits {
        max_requests: 3,
        ..patient(16, Duration::from_secs(5))
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let (answered, last) = answers_until_closed(&mut s, 10).await;
    assert_eq!(answered, 3, "{last}");
    assert!(
        last.starts_with("HTTP/1.1 200"),
        "the last one is answered: {last}"
    );
    server.stop().await;

    let server = serve(ConnectionLimits {
        max_age: Duration::from_millis(300),
        ..patient(16, Duration::from_secs(5))
    })
    .await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(
        answers_until_closed(&mut s, 1).await.0,
        2,
        "young: kept open"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(answers_until_closed(&mut s, 1).await.0, 1, "old: closed");
    server.stop().await;
}
