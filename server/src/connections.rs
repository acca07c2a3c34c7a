//! Accepting and serving HTTP connections with bounds a hostile peer cannot stretch: a deadline
//! for every request head (which also closes silent new connections and idle keep-alives), a cap
//! on concurrent connections derived from the file-descriptor limit, and a graceful shutdown that
//! drains in-flight requests for a bounded time.
//!
//! HTTP/1.1 only: MCP's Streamable HTTP needs nothing more, and hyper's HTTP/2 server has no
//! timer for a connection that opens streams slowly or sits idle, so h2c would reopen the hole
//! the header deadline closes. A client speaking HTTP/2 with prior knowledge is refused by hyper.

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use axum::{Extension, Router, extract::ConnectInfo};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::Layer;

/// How long a client has to send a whole request head, from the moment the server is ready to
/// read one: on a new connection, and again after each response on a keep-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most concurrent connections, whatever the file-descriptor limit allows.
pub const MAX_CONNECTIONS: usize = 16_384;
/// File descriptors kept for everything but inbound connections (the listener, outbound HTTP to
/// the authorization server, DynamoDB and metadata documents, logs), at most.
const RESERVED_FDS: u64 = 256;
/// How long a graceful shutdown waits for in-flight requests before closing what is left.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection's read and write buffers: twice the largest header block the app accepts, so
/// a slow client cannot make the server hold hyper's default 400 KiB per connection.
const MAX_BUFFER_BYTES: usize = 2 * crate::app::MAX_HEADER_BYTES;

/// The bounds on connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Deadline for a request head (see [`HEADER_READ_TIMEOUT`]).
    pub header_read_timeout: Duration,
    /// Most connections served at once; beyond it, new connections wait in the listen backlog
    /// and the ones being served carry on.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl ConnectionLimits {
    /// The defaults, with the connection cap derived from this process's file-descriptor limit.
    pub fn from_fd_limit() -> Self {
        let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _hard)| soft)
            .unwrap_or(1024);
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: connection_cap(soft),
            drain_timeout: DRAIN_TIMEOUT,
        }
    }
}

/// How many connections fit in `fd_limit` descriptors, leaving room for everything else.
pub fn connection_cap(fd_limit: u64) -> usize {
    let reserve = (fd_limit / 4).min(RESERVED_FDS);
    usize::try_from(fd_limit - reserve)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_CONNECTIONS)
}

/// The most open files [`raise_fd_limit`] asks for: Linux's default ceiling (`nr_open`), far above
/// what the connection cap needs, and a finite number where the hard limit is "unlimited" (which
/// the kernel would refuse as a soft limit).
const FD_LIMIT_WANTED: u64 = 1 << 20;

/// Raises this process's soft limit on open files to its hard limit (at most 2^20), where the
/// system allows; returns the soft limit now in force.
pub fn raise_fd_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(FD_LIMIT_WANTED)
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains: no new connection
/// is accepted, idle ones close, in-flight requests get up to `limits.drain_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    let abandon = CancellationToken::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(MAX_BUFFER_BYTES);
    loop {
        // Backpressure: no slot, no accept; the kernel's backlog holds newcomers meanwhile.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after_accept_error(e).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let connection = Connection {
            tcp,
            peer,
            slot,
            shutdown: shutdown.clone(),
            abandon: abandon.clone(),
        };
        connections.spawn(connection.serve(http.clone(), router.clone()));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(limits.drain_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            still_open = connections.len(),
            "shutdown: closing the connections still busy after the drain time"
        );
        abandon.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// One accepted connection and what ends it.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    /// Held while the connection lives: its place under the cap.
    slot: OwnedSemaphorePermit,
    shutdown: CancellationToken,
    abandon: CancellationToken,
}

impl Connection {
    async fn serve(self, http: http1::Builder, router: Router) {
        // An MCP answer on a 2025-11-25 session is an SSE stream written in several small
        // pieces; with Nagle's algorithm each piece after the first waited for the client's
        // delayed ACK (40 ms a request on Linux).
        if let Err(e) = self.tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let service = Extension(ConnectInfo(self.peer)).layer(router);
        let conn = http.serve_connection(TokioIo::new(self.tcp), TowerToHyperService::new(service));
        tokio::pin!(conn);
        let ended = tokio::select! {
            ended = conn.as_mut() => Some(ended),
            () = self.shutdown.cancelled() => None,
        };
        let ended = match ended {
            Some(ended) => ended,
            None => {
                // Idle connections close now; a request in flight is answered first.
                conn.as_mut().graceful_shutdown();
                tokio::select! {
                    ended = conn => ended,
                    () = self.abandon.cancelled() => Ok(()),
                }
            }
        };
        if let Err(e) = ended {
            // Timeouts, resets and malformed requests are the peer's business: debug only.
            tracing::debug!(error = %e, "connection ended with an error");
        }
        drop(self.slot);
    }
}

/// After a failed `accept`: a peer that gave up is nothing; running out of descriptors or
/// memory is worth a warning and a pause, not a hot loop.
async fn pause_after_accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_other_descriptors() {
        assert_eq!(connection_cap(1024), 768);
        assert_eq!(connection_cap(20_000), 16_384);
        assert_eq!(connection_cap(1 << 20), MAX_CONNECTIONS);
        assert_eq!(connection_cap(64), 48);
        assert_eq!(connection_cap(1), 1);
        assert_eq!(connection_cap(0), 1);
    }

    #[test]
    fn the_open_files_limit_is_raised_to_the_hard_one() {
        use rlimit::Resource;
        let (soft, hard) = Resource::NOFILE.get().unwrap();
        Resource::NOFILE.set(hard.min(256), hard).unwrap();
        let raised = raise_fd_limit().unwrap();
        assert_eq!(raised, hard.min(FD_LIMIT_WANTED));
        assert_eq!(Resource::NOFILE.get().unwrap(), (raised, hard));
        Resource::NOFILE.set(soft, hard).unwrap();
    }
}
