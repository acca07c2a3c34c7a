//! Who opened each 2025-11-25 MCP session, and how many sessions and event streams one user and
//! everyone together hold.
//!
//! rmcp keeps a session (about 100 KiB) for every `initialize` until it has been idle for
//! [`IDLE`], whoever sends it; nothing in rmcp knows who the caller is. This table does: a session
//! is usable only with a token of the subject and client that opened it (anyone else is answered
//! exactly as for an unknown session, so it tells nothing), a subject holds at most
//! [`SessionLimits::per_subject`] sessions (a new one ends that subject's least recently used one:
//! the transport lets a server end a session, and the client re-initializes on the 404), and the
//! server at most [`SessionLimits::total`] (beyond that a new session is refused with 503 and
//! `Retry-After`, so one flood cannot end other users' sessions).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use rmcp::transport::streamable_http_server::session::{SessionId, SessionManager};

use crate::access_token::Principal;

/// How long a session may go unused before rmcp ends it (and this table forgets it).
pub const IDLE: Duration = Duration::from_secs(300);

/// The caps.
#[derive(Debug, Clone, Copy)]
pub struct SessionLimits {
    /// Open sessions one subject may hold.
    pub per_subject: usize,
    /// Open sessions on the server.
    pub total: usize,
    /// Open event streams (GET) one subject may hold.
    pub streams_per_subject: usize,
    /// Open event streams on the server.
    pub streams_total: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        // 32 sessions of about 100 KiB: one user stays near 3 MiB whatever their rate; 4,096
        // sessions are about 400 MiB for the whole server (docs/security.md).
        Self {
            per_subject: 32,
            total: 4096,
            streams_per_subject: 8,
            streams_total: 1024,
        }
    }
}

/// The subject and client a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    subject: String,
    client_id: Option<String>,
}

impl Owner {
    fn of(principal: &Principal) -> Self {
        Self {
            subject: principal.subject.clone(),
            client_id: principal.client_id.clone(),
        }
    }
}

struct Binding {
    owner: Owner,
    last_used: Instant,
}

#[derive(Default)]
struct Use {
    sessions: usize,
    streams: usize,
}

#[derive(Default)]
struct Table {
    bindings: HashMap<SessionId, Binding>,
    /// Sessions (bound and reserved) and open streams per subject.
    subjects: HashMap<String, Use>,
    sessions: usize,
    streams: usize,
}

impl Table {
    fn release_session(&mut self, subject: &str) {
        self.sessions = self.sessions.saturating_sub(1);
        if let Some(u) = self.subjects.get_mut(subject) {
            u.sessions = u.sessions.saturating_sub(1);
            if u.sessions == 0 && u.streams == 0 {
                self.subjects.remove(subject);
            }
        }
    }

    fn remove(&mut self, id: &SessionId) -> bool {
        let Some(binding) = self.bindings.remove(id) else {
            return false;
        };
        self.release_session(&binding.owner.subject);
        true
    }

    /// Forgets sessions idle past [`IDLE`] (rmcp has ended them); returns their ids.
    fn expire(&mut self, now: Instant, subject: Option<&str>) -> Vec<SessionId> {
        let idle: Vec<SessionId> = self
            .bindings
            .iter()
            .filter(|(_, b)| subject.is_none_or(|s| b.owner.subject == s))
            .filter(|(_, b)| now.duration_since(b.last_used) >= IDLE)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &idle {
            self.remove(id);
        }
        idle
    }

    fn least_recently_used(&self, subject: &str) -> Option<SessionId> {
        self.bindings
            .iter()
            .filter(|(_, b)| b.owner.subject == subject)
            .min_by_key(|(_, b)| b.last_used)
            .map(|(id, _)| id.clone())
    }
}

/// Why a session or stream was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionRefusal {
    /// The server holds as many sessions as it may.
    #[error("the server holds as many MCP sessions as it may; try again later")]
    ServerFull,
    /// The subject holds as many event streams as it may.
    #[error("this user holds as many open event streams as allowed; close one first")]
    TooManyStreams,
    /// The server holds as many event streams as it may.
    #[error("the server holds as many open event streams as it may; try again later")]
    StreamsFull,
}

/// The table, shared by every request of the MCP endpoint.
pub struct McpSessions<M> {
    limits: SessionLimits,
    table: Mutex<Table>,
    manager: Arc<M>,
}

impl<M: SessionManager> McpSessions<M> {
    /// A table in front of rmcp's `manager`.
    pub fn new(limits: SessionLimits, manager: Arc<M>) -> Arc<Self> {
        Arc::new(Self {
            limits,
            table: Mutex::new(Table::default()),
            manager,
        })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves counts that are still counts.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `caller` may use session `id` (and marks it used): `false` for an unknown,
    /// expired, or someone else's session.
    pub fn admit(&self, id: &str, caller: &Principal) -> bool {
        let now = Instant::now();
        let mut table = self.table();
        let id: SessionId = Arc::from(id);
        let Some(binding) = table.bindings.get_mut(&id) else {
            return false;
        };
        if binding.owner != Owner::of(caller) {
            return false;
        }
        if now.duration_since(binding.last_used) >= IDLE {
            table.remove(&id);
            return false;
        }
        binding.last_used = now;
        true
    }

    /// Room for one more session of `caller`: ends the subject's least recently used session
    /// when it holds its cap, refuses when the server holds its own.
    pub async fn reserve(
        self: &Arc<Self>,
        caller: &Principal,
    ) -> Result<Reservation<M>, SessionRefusal> {
        let subject = caller.subject.clone();
        let (ended, admitted) = self.make_room(&subject, Instant::now());
        if !admitted {
            self.end(ended).await;
            return Err(SessionRefusal::ServerFull);
        }
        self.end(ended).await;
        Ok(Reservation {
            sessions: Some(self.clone()),
            owner: Owner::of(caller),
        })
    }

    /// Takes a slot for `subject` if there is room once its least recently used session (at
    /// its cap) and idle ones (at the server's) are gone; returns the sessions that went.
    fn make_room(&self, subject: &str, now: Instant) -> (Vec<SessionId>, bool) {
        let mut ended = Vec::new();
        let mut table = self.table();
        let held = |t: &Table| t.subjects.get(subject).map_or(0, |u| u.sessions);
        if held(&table) >= self.limits.per_subject {
            ended.extend(table.expire(now, Some(subject)));
            if held(&table) >= self.limits.per_subject
                && let Some(oldest) = table.least_recently_used(subject)
            {
                table.remove(&oldest);
                ended.push(oldest);
            }
        }
        if table.sessions >= self.limits.total {
            ended.extend(table.expire(now, None));
        }
        if table.sessions >= self.limits.total {
            return (ended, false);
        }
        table.sessions += 1;
        table
            .subjects
            .entry(subject.to_owned())
            .or_default()
            .sessions += 1;
        (ended, true)
    }

    /// Ends sessions in rmcp that this table no longer holds.
    async fn end(&self, ids: Vec<SessionId>) {
        for id in ids {
            if let Err(e) = self.manager.close_session(&id).await {
                tracing::debug!(error = %e, "ending an evicted MCP session failed");
            }
        }
    }

    /// Forgets session `id` (the client ended it with DELETE).
    pub fn forget(&self, id: &str) {
        self.table().remove(&Arc::from(id));
    }

    /// An open event stream of `caller`, counted until the ticket is dropped.
    pub fn open_stream(
        self: &Arc<Self>,
        caller: &Principal,
    ) -> Result<StreamTicket<M>, SessionRefusal> {
        let mut table = self.table();
        if table.streams >= self.limits.streams_total {
            return Err(SessionRefusal::StreamsFull);
        }
        let entry = table.subjects.entry(caller.subject.clone()).or_default();
        if entry.streams >= self.limits.streams_per_subject {
            return Err(SessionRefusal::TooManyStreams);
        }
        entry.streams += 1;
        table.streams += 1;
        Ok(StreamTicket {
            sessions: self.clone(),
            subject: caller.subject.clone(),
        })
    }

    /// Sessions held now: by `subject`, and on the server.
    pub fn held(&self, subject: &str) -> (usize, usize) {
        let table = self.table();
        (
            table.subjects.get(subject).map_or(0, |u| u.sessions),
            table.sessions,
        )
    }
}

/// A session slot taken before `initialize` reaches rmcp; given back unless bound.
pub struct Reservation<M: SessionManager> {
    sessions: Option<Arc<McpSessions<M>>>,
    owner: Owner,
}

impl<M: SessionManager> Reservation<M> {
    /// Binds the session rmcp created to the reservation's owner.
    pub fn bind(mut self, id: &str) {
        if let Some(sessions) = self.sessions.take() {
            sessions.table().bindings.insert(
                Arc::from(id),
                Binding {
                    owner: self.owner.clone(),
                    last_used: Instant::now(),
                },
            );
        }
    }
}

impl<M: SessionManager> Drop for Reservation<M> {
    fn drop(&mut self) {
        if let Some(sessions) = self.sessions.take() {
            sessions.table().release_session(&self.owner.subject);
        }
    }
}

/// An open event stream, counted while this lives (it rides in the response body).
pub struct StreamTicket<M: SessionManager> {
    sessions: Arc<McpSessions<M>>,
    subject: String,
}

impl<M: SessionManager> Drop for StreamTicket<M> {
    fn drop(&mut self) {
        let mut table = self.sessions.table();
        table.streams = table.streams.saturating_sub(1);
        if let Some(u) = table.subjects.get_mut(&self.subject) {
            u.streams = u.streams.saturating_sub(1);
            if u.sessions == 0 && u.streams == 0 {
                table.subjects.remove(&self.subject);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

    use super::*;
    use crate::scope::ScopeSet;

    fn principal(subject: &str, client: &str) -> Principal {
        Principal {
            subject: subject.into(),
            client_id: Some(client.into()),
            username: None,
            scopes: ScopeSet::parse("mcp:read"),
            expires_at: 0,
        }
    }

    fn limits() -> SessionLimits {
        SessionLimits {
            per_subject: 2,
            total: 3,
            streams_per_subject: 1,
            streams_total: 2,
        }
    }

    #[tokio::test]
    async fn a_session_serves_only_the_subject_and_client_that_opened_it() {
        let table = McpSessions::new(limits(), Arc::new(LocalSessionManager::default()));
        let alice = principal("alice", "c1");
        table.reserve(&alice).await.unwrap().bind("s1");
        assert!(table.admit("s1", &alice));
        assert!(!table.admit("s1", &principal("bob", "c1")), "another user");
        assert!(
            !table.admit("s1", &principal("alice", "c2")),
            "another client"
        );
        assert!(!table.admit("s2", &alice), "unknown");
        table.forget("s1");
        assert!(!table.admit("s1", &alice), "ended");
        assert_eq!(table.held("alice"), (0, 0));
    }

    #[tokio::test]
    async fn a_subject_at_its_cap_loses_its_least_recently_used_session() {
        let table = McpSessions::new(limits(), Arc::new(LocalSessionManager::default()));
        let alice = principal("alice", "c1");
        table.reserve(&alice).await.unwrap().bind("s1");
        table.reserve(&alice).await.unwrap().bind("s2");
        assert!(table.admit("s1", &alice));
        table.reserve(&alice).await.unwrap().bind("s3");
        assert_eq!(table.held("alice"), (2, 2));
        assert!(
            !table.admit("s2", &alice),
            "the least recently used one ended"
        );
        assert!(table.admit("s1", &alice) && table.admit("s3", &alice));
    }

    #[tokio::test]
    async fn a_full_server_refuses_new_sessions_and_keeps_others() {
        let table = McpSessions::new(limits(), Arc::new(LocalSessionManager::default()));
        for (i, who) in ["a", "b", "c"].iter().enumerate() {
            table
                .reserve(&principal(who, "c"))
                .await
                .unwrap()
                .bind(&format!("s{i}"));
        }
        let refused = table.reserve(&principal("d", "c")).await.err();
        assert_eq!(refused, Some(SessionRefusal::ServerFull));
        assert!(
            table.admit("s0", &principal("a", "c")),
            "nobody else's session ended"
        );
        // A reservation that is never bound gives its slot back.
        table.forget("s2");
        drop(table.reserve(&principal("d", "c")).await.unwrap());
        assert_eq!(table.held("d"), (0, 2));
    }

    #[tokio::test]
    async fn streams_are_capped_per_subject_and_in_total() {
        let table = McpSessions::new(limits(), Arc::new(LocalSessionManager::default()));
        let a = table.open_stream(&principal("a", "c")).unwrap();
        assert_eq!(
            table.open_stream(&principal("a", "c")).err(),
            Some(SessionRefusal::TooManyStreams)
        );
        let _b = table.open_stream(&principal("b", "c")).unwrap();
        assert_eq!(
            table.open_stream(&principal("c", "c")).err(),
            Some(SessionRefusal::StreamsFull)
        );
        drop(a);
        assert!(table.open_stream(&principal("a", "c")).is_ok());
    }
}
