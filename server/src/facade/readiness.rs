//! `GET /readyz`: whether the server can sign users in now, for load balancers and probes.
//! `/healthz` says the process answers; this one also reads the state store, because a server
//! whose store is down verifies tokens fine but fails every sign-in and refresh.
//!
//! Anyone may ask, so the answer is reused for a few seconds and one probe runs at a time: a
//! flood of cheap requests makes at most one store read per [`REUSE`], whatever its rate.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    Facade, RETRY_AFTER_SECS,
    store::{Kind, Store},
};

/// How long one probe's answer is reused.
pub const REUSE: Duration = Duration::from_secs(5);
/// The key read to probe the store (a read of a record that never exists).
const PROBE_KEY: &str = "readiness-probe";

/// The last probe's outcome, and when it ran.
#[derive(Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    /// Whether the store answered, from a probe at most [`REUSE`] old.
    async fn store_answers(&self, store: &dyn Store) -> bool {
        // Held across the probe: concurrent askers wait for its answer instead of probing too.
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < REUSE
        {
            return ok;
        }
        let ok = match store.get(Kind::Admissions, PROBE_KEY).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "readiness: the state store does not answer");
                false
            }
        };
        *last = Some((Instant::now(), ok));
        ok
    }
}

/// `GET /readyz`: 200 when ready, 503 with `Retry-After` when the store does not answer; the
/// body names the part, never the backend's error.
pub async fn readyz(State(facade): State<Arc<Facade>>) -> Response {
    let store = facade.readiness.store_answers(facade.store.as_ref()).await;
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
        let store = Counting::default();
        let readiness = Readiness::default();
        for _ in 0..500 {
            assert!(readiness.store_answers(&store).await);
        }
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
    }
}
