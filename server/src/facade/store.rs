//! Where the façade keeps registrations and short-lived authorization state.
//!
//! Every record has an expiry; a record past it is treated as absent even if the backing store
//! has not swept it yet (DynamoDB's TTL deletes lazily, and the emulator never does). `take`
//! is an atomic read-and-delete, so a code or a pending authorization is used at most once even
//! across server replicas.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use async_trait::async_trait;
use serde::{Serialize, de::DeserializeOwned};

/// The kinds of record, each its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A dynamically registered client.
    Client,
    /// An authorization request waiting for consent.
    Consent,
    /// An authorization waiting for the upstream callback.
    Pending,
    /// A façade authorization code waiting to be redeemed.
    Code,
    /// A façade refresh-token handle.
    Refresh,
    /// A remembered consent (browser + client).
    Approval,
}

impl Kind {
    /// The name used in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Consent => "consent",
            Kind::Pending => "pending",
            Kind::Code => "code",
            Kind::Refresh => "refresh",
            Kind::Approval => "approval",
        }
    }
}

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with that key exists already (conditional write lost).
    #[error("a {0} record with that key exists already")]
    Conflict(&'static str),
    /// The backend failed.
    #[error("the state store failed: {0}")]
    Backend(String),
    /// A record could not be (de)serialized.
    #[error("a stored record is unreadable: {0}")]
    Corrupt(String),
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The raw store: JSON documents by kind and key, with an expiry.
#[async_trait]
pub trait Store: Send + Sync {
    /// Writes a new record; fails with [`StoreError::Conflict`] if a live one has the key.
    async fn insert(
        &self,
        kind: Kind,
        key: &str,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<(), StoreError>;
    /// Writes a record, replacing any.
    async fn put(
        &self,
        kind: Kind,
        key: &str,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<(), StoreError>;
    /// Reads a live record.
    async fn get(&self, kind: Kind, key: &str) -> Result<Option<serde_json::Value>, StoreError>;
    /// Reads and deletes a live record, atomically.
    async fn take(&self, kind: Kind, key: &str) -> Result<Option<serde_json::Value>, StoreError>;
    /// How many live records of a kind there are (for caps).
    async fn count(&self, kind: Kind) -> Result<usize, StoreError>;
}

/// Typed helpers over any store.
pub struct Records<'a>(pub &'a dyn Store);

impl Records<'_> {
    /// Inserts a typed record.
    pub async fn insert<T: Serialize>(
        &self,
        kind: Kind,
        key: &str,
        value: &T,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.0.insert(kind, key, to_json(value)?, expires_at).await
    }
    /// Puts a typed record.
    pub async fn put<T: Serialize>(
        &self,
        kind: Kind,
        key: &str,
        value: &T,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.0.put(kind, key, to_json(value)?, expires_at).await
    }
    /// Gets a typed record.
    pub async fn get<T: DeserializeOwned>(
        &self,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.0.get(kind, key).await?.map(from_json).transpose()
    }
    /// Takes a typed record.
    pub async fn take<T: DeserializeOwned>(
        &self,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.0.take(kind, key).await?.map(from_json).transpose()
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The in-memory store of local mode.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<(Kind, String), (serde_json::Value, u64)>>,
}

impl MemoryStore {
    fn live<R>(
        &self,
        f: impl FnOnce(&mut HashMap<(Kind, String), (serde_json::Value, u64)>, u64) -> R,
    ) -> R {
        let mut records = self.records.lock().expect("store lock");
        let now = now_secs();
        // Sweeping on every call keeps memory bounded by what is live; local mode is small.
        if records.len() > 1024 {
            records.retain(|_, (_, exp)| *exp > now);
        }
        f(&mut records, now)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert(
        &self,
        kind: Kind,
        key: &str,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.live(|r, now| {
            let k = (kind, key.to_owned());
            if r.get(&k).is_some_and(|(_, exp)| *exp > now) {
                return Err(StoreError::Conflict(kind.as_str()));
            }
            r.insert(k, (value, expires_at));
            Ok(())
        })
    }

    async fn put(
        &self,
        kind: Kind,
        key: &str,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.live(|r, _| {
            r.insert((kind, key.to_owned()), (value, expires_at));
            Ok(())
        })
    }

    async fn get(&self, kind: Kind, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.live(|r, now| {
            Ok(r.get(&(kind, key.to_owned()))
                .filter(|(_, exp)| *exp > now)
                .map(|(v, _)| v.clone()))
        })
    }

    async fn take(&self, kind: Kind, key: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.live(|r, now| {
            Ok(r.remove(&(kind, key.to_owned()))
                .filter(|(_, exp)| *exp > now)
                .map(|(v, _)| v))
        })
    }

    async fn count(&self, kind: Kind) -> Result<usize, StoreError> {
        self.live(|r, now| {
            Ok(r.iter()
                .filter(|((k, _), (_, exp))| *k == kind && *exp > now)
                .count())
        })
    }
}
