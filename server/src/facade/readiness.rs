//! `GET /readyz`: whether the server can sign users in now, for load balancers and probes.
//! `/healthz` says the process answers; this one also reads the state store, because a server
//! whose store is down verifies tokens fine but fails every sign-in and refresh.
//!
//! Anyone may ask, so the answer is reused for a few seconds and one probe runs at a time: a
//! flood of cheap requests makes at most one store read per [`REUSE`], whatever its rate. The
//! probe runs in a task of its own, so an asker that goes away does not abandon it (and let the
//! next asker start another), and nobody waits for it longer than [`WAIT`]: while a probe of a
//! hung store runs, askers get the last answer at once, and a probe that takes too long is
//! answered as unavailable.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    pages::RETRY_AFTER_SECS,
    store::{Kind, Store},
};

/// How long one probe's answer is reused.
pub const REUSE: Duration = Duration::from_secs(5);
/// Longest an asker waits for a probe it started.
pub const WAIT: Duration = Duration::from_secs(2);
/// The key read to probe the store (a read of a record that never exists).
const PROBE_KEY: &str = "readiness-probe";

/// The last probe's outcome and when it ran, and whether a probe is running.
#[derive(Default)]
pub struct Readiness {
    last: Mutex<Option<(Instant, bool)>>,
    probing: AtomicBool,
}

impl Readiness {
    /// Whether the store answered, from a probe at most [`REUSE`] old.
    async fn store_answers(self: &Arc<Self>, store: &Arc<dyn Store>) -> bool {
        let last = *self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, ok)) = last
            && at.elapsed() < REUSE
        {
            return ok;
        }
        if self.probing.swap(true, Ordering::AcqRel) {
            // Another asker's probe is running: its predecessor's answer, or not ready yet.
            return last.is_some_and(|(_, ok)| ok);
        }
        let (readiness, store) = (Arc::clone(self), Arc::clone(store));
        let probe = tokio::spawn(async move {
            // Reset however the probe ends, a panic included: a flag left set would freeze the
            // answer at the last one for good.
            let _done = Probing(&readiness.probing);
            let ok = match store.get(Kind::Admissions, PROBE_KEY).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "readiness: the state store does not answer");
                    false
                }
            };
            *readiness.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), ok));
            ok
        });
        matches!(tokio::time::timeout(WAIT, probe).await, Ok(Ok(true)))
    }
}

/// Clears the probing flag when dropped.
struct Probing<'a>(&'a AtomicBool);

impl Drop for Probing<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Readiness {
    /// `GET /readyz`: 200 when ready, 503 with `Retry-After` when the store does not answer;
    /// the body names the part, never the backend's error.
    pub async fn answer(self: &Arc<Self>, store: &Arc<dyn Store>) -> Response {
        readyz(self.store_answers(store).await)
    }
}

fn readyz(store: bool) -> Response {
    let body = serde_json::json!({
        "status": if store { "ready" } else { "unavailable" },
        "store": if store { "ok" } else { "unavailable" },
    });
    let mut response = if store {
        Json(body).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if !store {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    response
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use serde_json::Value;

    use super::*;
    use crate::facade::store::{MemoryStore, StoreError};

    /// A store that counts reads.
    #[derive(Default)]
    struct Counting {
        inner: MemoryStore,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl Store for Counting {
        async fn insert(&self, k: Kind, key: &str, v: Value, e: u64) -> Result<(), StoreError> {
            self.inner.insert(k, key, v, e).await
        }
        async fn put(&self, k: Kind, key: &str, v: Value, e: u64) -> Result<(), StoreError> {
            self.inner.put(k, key, v, e).await
        }
        async fn get(&self, k: Kind, key: &str) -> Result<Option<Value>, StoreError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.get(k, key).await
        }
        async fn take(&self, k: Kind, key: &str) -> Result<Option<Value>, StoreError> {
            self.inner.take(k, key).await
        }
        async fn replace(
            &self,
            k: Kind,
            key: &str,
            expected: &Value,
            v: Value,
            e: u64,
        ) -> Result<bool, StoreError> {
            self.inner.replace(k, key, expected, v, e).await
        }
    }

    #[tokio::test]
    async fn a_flood_of_probes_reads_the_store_once() {
        let counting = Arc::new(Counting::default());
        let store: Arc<dyn Store> = counting.clone();
        let readiness = Arc::new(Readiness::default());
        for _ in 0..500 {
            assert!(readiness.store_answers(&store).await);
        }
        assert_eq!(counting.reads.load(Ordering::SeqCst), 1);
    }

    /// A store whose reads never end.
    struct Hung;

    #[async_trait]
    impl Store for Hung {
        async fn insert(&self, _: Kind, _: &str, _: Value, _: u64) -> Result<(), StoreError> {
            std::future::pending().await
        }
        async fn put(&self, _: Kind, _: &str, _: Value, _: u64) -> Result<(), StoreError> {
            std::future::pending().await
        }
        async fn get(&self, _: Kind, _: &str) -> Result<Option<Value>, StoreError> {
            std::future::pending().await
        }
        async fn take(&self, _: Kind, _: &str) -> Result<Option<Value>, StoreError> {
            std::future::pending().await
        }
        async fn replace(
            &self,
            _: Kind,
            _: &str,
            _: &Value,
            _: Value,
            _: u64,
        ) -> Result<bool, StoreError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_hung_store_holds_one_asker_for_the_wait_and_the_rest_not_at_all() {
        let store: Arc<dyn Store> = Arc::new(Hung);
        let readiness = Arc::new(Readiness::default());
        let started = Instant::now();
        assert!(!readiness.store_answers(&store).await);
        let waited = started.elapsed();
        assert!(
            waited >= WAIT && waited < WAIT * 2,
            "the first asker waits for the probe, no longer"
        );
        let again = Instant::now();
        for _ in 0..100 {
            assert!(!readiness.store_answers(&store).await);
        }
        // Not a timing claim: 100 askers that waited for the probe would take 100 times WAIT.
        assert!(
            again.elapsed() < WAIT,
            "the probe still runs: nobody waits for it"
        );
    }
}
