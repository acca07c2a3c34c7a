//! Accepting and serving HTTP connections with bounds a hostile peer cannot stretch: a deadline
//! for every request head (which also closes silent new connections and idle keep-alives), a cap
//! on concurrent connections derived from the file-descriptor limit, a share of that cap per
//! address (so one host cannot hold every slot with keep-alives it feeds just in time), a
//! bounded lifetime and request count per connection, and a graceful shutdown that drains
//! in-flight requests for a bounded time.
//!
//! HTTP/1.1 only: MCP's Streamable HTTP needs nothing more, and hyper's HTTP/2 server has no
//! timer for a connection that opens streams slowly or sits idle, so h2c would reopen the hole
//! the header deadline closes. A client speaking HTTP/2 with prior knowledge is refused by hyper.

use std::{
    collections::HashMap,
    convert::Infallible,
    io,
    net::{IpAddr, SocketAddr},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::ConnectInfo,
    http::{HeaderValue, header},
};
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower::ServiceExt;

use crate::client_address::{AddressKey, Breadth, TrustedProxies};

/// How long a client has to send a whole request head, from the moment the server is ready to
/// read one: on a new connection, and again after each response on a keep-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most concurrent connections, whatever the file-descriptor limit allows.
pub const MAX_CONNECTIONS: usize = 16_384;
/// Most concurrent connections from one address (an IPv6 /64), whatever the total: a quarter of
/// the total at most, so four hosts are needed to fill the server, and 256 whatever the total,
/// far more than a browser (6) or an MCP client (a few) opens.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// Requests served on one connection before it is closed (`Connection: close` on the last
/// answer); the client reconnects, and takes its place under the caps again.
pub const MAX_REQUESTS_PER_CONNECTION: u32 = 1_000;
/// A connection's age after which its next answer closes it.
pub const MAX_CONNECTION_AGE: Duration = Duration::from_secs(600);
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
    /// Most connections from one address at once, and from one IPv6 /64, /56 or /48 between
    /// all its addresses (a customer holding a /48 is one peer, not 65,536); beyond it a new
    /// connection is answered 503 and closed. Trusted proxies are exempt: their connections
    /// carry many clients.
    pub per_address: usize,
    /// Requests on one connection before its answer closes it.
    pub max_requests: u32,
    /// Age of a connection after which its next answer closes it.
    pub max_age: Duration,
}

impl ConnectionLimits {
    /// The defaults, with the connection cap derived from this process's file-descriptor limit.
    pub fn from_fd_limit() -> Self {
        let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _hard)| soft)
            .unwrap_or(1024);
        let max_connections = connection_cap(soft);
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections,
            drain_timeout: DRAIN_TIMEOUT,
            per_address: per_address_cap(max_connections),
            max_requests: MAX_REQUESTS_PER_CONNECTION,
            max_age: MAX_CONNECTION_AGE,
        }
    }
}

/// One address's share of `max_connections`.
pub fn per_address_cap(max_connections: usize) -> usize {
    (max_connections / 4).clamp(1, MAX_CONNECTIONS_PER_ADDRESS)
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
/// is accepted, idle ones close, in-flight requests get up to `limits.drain_timeout`. Requests
/// carry their peer (`ConnectInfo<SocketAddr>`) and their [`ClientAddress`](crate::client_address::ClientAddress)
/// as `proxies` resolve it.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    proxies: TrustedProxies,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = AddressSlots::new(limits.per_address);
    let lingering = Arc::new(Semaphore::new(REFUSALS_LINGERING));
    let proxies = Arc::new(proxies);
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
        let address_slot = if proxies.trusts(peer.ip()) {
            None
        } else {
            match per_address.take(peer.ip()) {
                Some(held) => Some(held),
                None => {
                    refuse_over_share(tcp, peer, &lingering, &connections);
                    continue;
                }
            }
        };
        let connection = Connection {
            tcp,
            peer,
            slot,
            address_slot,
            shutdown: shutdown.clone(),
            abandon: abandon.clone(),
        };
        let requests = RequestBounds {
            peer,
            proxies: proxies.clone(),
            opened: Instant::now(),
            served: AtomicU32::new(0),
            max_requests: limits.max_requests,
            max_age: limits.max_age,
        };
        connections.spawn(connection.serve(http.clone(), router.clone(), requests));
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

/// The answer to a connection beyond its address's share.
const OVER_SHARE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\n\
Content-Type: text/plain\r\nContent-Length: 58\r\nConnection: close\r\n\r\n\
too many connections from one address; close some and retry";
/// Refused connections given a moment to read their answer, at once; beyond, they are closed
/// with only what the socket takes at once.
const REFUSALS_LINGERING: usize = 64;
/// How long a refused connection may linger.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);

/// Answers 503 to a connection beyond its address's share. Closing a socket whose request is
/// still unread sends a reset, which can destroy the answer before the client reads it, so the
/// request is read (and dropped) for a moment first; how many linger at once is bounded.
fn refuse_over_share(
    mut tcp: TcpStream,
    peer: SocketAddr,
    lingering: &Arc<Semaphore>,
    tasks: &TaskTracker,
) {
    tracing::debug!(peer = %AddressKey::of(peer.ip()), "connection beyond the address's share refused");
    let Ok(permit) = lingering.clone().try_acquire_owned() else {
        let _ = tcp.try_write(OVER_SHARE);
        return;
    };
    tasks.spawn(async move {
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            tcp.write_all(OVER_SHARE).await?;
            tcp.shutdown().await?;
            let mut sink = [0u8; 4096];
            while tcp.read(&mut sink).await? > 0 {}
            io::Result::Ok(())
        })
        .await;
        drop(permit);
    });
}

/// Open connections per address and per network an address counts in, each connection held
/// by an [`AddressSlot`].
#[derive(Clone)]
struct AddressSlots {
    open: Arc<Mutex<HashMap<AddressKey, usize>>>,
    cap: usize,
}

/// One connection's place in its address's share and its networks'; given back when dropped.
struct AddressSlot {
    slots: AddressSlots,
    peer: IpAddr,
}

impl AddressSlots {
    fn new(cap: usize) -> Self {
        Self {
            open: Arc::default(),
            cap: cap.max(1),
        }
    }

    /// A place for one more connection from `peer`, unless it or a network it is in holds its
    /// whole share. A /56 and a /48 get twice one address's share (half of every slot at most):
    /// enough that one host cannot shut out its network's other hosts, too little for one
    /// customer to fill the server.
    fn take(&self, peer: IpAddr) -> Option<AddressSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let full = AddressKey::counted_in(peer).any(|(breadth, key)| {
            let cap = match breadth {
                Breadth::Host => self.cap,
                Breadth::Home | Breadth::Site => self.cap * 2,
            };
            open.get(&key).is_some_and(|count| *count >= cap)
        });
        if full {
            return None;
        }
        for (_, key) in AddressKey::counted_in(peer) {
            *open.entry(key).or_default() += 1;
        }
        Some(AddressSlot {
            slots: self.clone(),
            peer,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        for (_, key) in AddressKey::counted_in(self.peer) {
            if let Some(count) = open.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    // A network with nothing open leaves no trace: the map holds open ones only.
                    open.remove(&key);
                }
            }
        }
    }
}

/// One accepted connection and what ends it.
struct Connection {
    tcp: TcpStream,
    peer: SocketAddr,
    /// Held while the connection lives: its place under the cap.
    slot: OwnedSemaphorePermit,
    /// Its place in its address's share (none for a trusted proxy).
    address_slot: Option<AddressSlot>,
    shutdown: CancellationToken,
    abandon: CancellationToken,
}

/// What each request on a connection is given and counted against.
struct RequestBounds {
    peer: SocketAddr,
    proxies: Arc<TrustedProxies>,
    opened: Instant,
    served: AtomicU32,
    max_requests: u32,
    max_age: Duration,
}

impl RequestBounds {
    /// Serves one request; the answer that reaches the connection's request count or age says
    /// `Connection: close`, so hyper closes the connection once it is written.
    async fn serve(
        &self,
        router: Router,
        mut request: axum::extract::Request<hyper::body::Incoming>,
    ) -> Result<axum::response::Response, Infallible> {
        let client = self.proxies.client_of(self.peer.ip(), request.headers());
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(client);
        let served = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        let last = served >= self.max_requests || self.opened.elapsed() >= self.max_age;
        let mut response = router.oneshot(request).await?;
        if last {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    }
}

impl Connection {
    async fn serve(self, http: http1::Builder, router: Router, requests: RequestBounds) {
        // An MCP answer on a 2025-11-25 session is an SSE stream written in several small
        // pieces; with Nagle's algorithm each piece after the first waited for the client's
        // delayed ACK (40 ms a request on Linux).
        if let Err(e) = self.tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let requests = Arc::new(requests);
        let service = tower::service_fn(move |request| {
            let router = router.clone();
            let requests = requests.clone();
            async move { requests.serve(router, request).await }
        });
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
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
        drop(self.address_slot);
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
    fn one_address_gets_a_quarter_of_the_slots_and_at_most_256() {
        assert_eq!(per_address_cap(768), 192);
        assert_eq!(
            per_address_cap(MAX_CONNECTIONS),
            MAX_CONNECTIONS_PER_ADDRESS
        );
        assert_eq!(per_address_cap(3), 1);
        let limits = ConnectionLimits::from_fd_limit();
        assert!(limits.per_address <= MAX_CONNECTIONS_PER_ADDRESS);
        assert!(limits.per_address <= limits.max_connections / 4 || limits.per_address == 1);
    }

    #[test]
    fn an_address_slot_is_given_back_and_leaves_no_trace() {
        let slots = AddressSlots::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert!(slots.take(a).is_none());
        assert!(slots.take(b).is_some(), "another address has its own share");
        drop(first);
        assert!(slots.take(a).is_some());
        drop(_second);
        assert!(slots.open.lock().unwrap().is_empty());
    }

    #[test]
    fn a_site_holds_one_share_however_many_64s_it_spreads_over() {
        let slots = AddressSlots::new(3);
        let in_site = |n: u16| -> IpAddr { format!("2001:db8:5:{n:x}::1").parse().unwrap() };
        let held: Vec<AddressSlot> = (0..100)
            .filter_map(|n| slots.take(in_site(n << 8)))
            .collect();
        assert_eq!(
            held.len(),
            6,
            "one per /64, each in its own /56, until the /48 is full"
        );
        assert!(
            slots.take("2001:db8:6::1".parse().unwrap()).is_some(),
            "another /48"
        );
        drop(held);
        assert!(
            slots.take(in_site(0x4200)).is_some(),
            "given back to every network"
        );
        // One host filling its own share leaves its /48's other hosts room.
        let one_host: Vec<AddressSlot> = (0..5).filter_map(|_| slots.take(in_site(1))).collect();
        assert_eq!(one_host.len(), 3);
        assert!(
            slots.take(in_site(2)).is_some(),
            "a neighbour in the same /48 and /56"
        );
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
