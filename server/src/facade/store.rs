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
///
/// Nothing is stored for a request that nobody approved: a consent page carries its request
/// signed in the form, so only an answered consent (rate-limited per address) writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A dynamically registered client.
    Client,
    /// A consent form already answered (so it is answered once).
    ConsentAnswered,
    /// An authorization waiting for the upstream callback.
    Pending,
    /// A façade authorization code waiting to be redeemed.
    Code,
    /// A redeemed code, kept to recognise a replay and revoke what it issued.
    SpentCode,
    /// A refresh-token family: the upstream's refresh token and the hash of the one live handle.
    Family,
    /// A remembered consent (browser + client).
    Approval,
    /// Admissions counted against a cap (see [`super::admission`]).
    Admissions,
    /// A sign-in a browser completed with a client at a redirect URI: only there are errors
    /// sent back without a page (RFC 9700 section 4.11.2).
    SignedIn,
}

impl Kind {
    /// Every kind, for counting and tests.
    pub const ALL: [Kind; 9] = [
        Kind::Client,
        Kind::ConsentAnswered,
        Kind::Pending,
        Kind::Code,
        Kind::SpentCode,
        Kind::Family,
        Kind::Approval,
        Kind::Admissions,
        Kind::SignedIn,
    ];

    /// The name used in keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::ConsentAnswered => "consent_answered",
            Kind::Pending => "pending",
            Kind::Code => "code",
            Kind::SpentCode => "spent_code",
            Kind::Family => "family",
            Kind::Approval => "approval",
            Kind::Admissions => "admissions",
            Kind::SignedIn => "signed_in",
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
    /// Replaces a live record that still holds `expected`, atomically; `false` if it does not
    /// (another request changed or removed it first).
    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: &serde_json::Value,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<bool, StoreError>;
}

/// A record type and the key space it lives in: through [`Records`], a record is read and
/// written under its own kind only. (The consent-answered mark and the readiness probe use the
/// raw [`Store`], with no record type.)
pub trait Record: Serialize + DeserializeOwned {
    /// Its key space.
    const KIND: Kind;
}

/// Typed records over any store.
pub struct Records<'a>(pub &'a dyn Store);

impl Records<'_> {
    /// Inserts a record; a conflict when one is there.
    pub async fn insert<T: Record>(
        &self,
        key: &str,
        value: &T,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.0
            .insert(T::KIND, key, to_json(value)?, expires_at)
            .await
    }
    /// Puts a record, whatever was there.
    pub async fn put<T: Record>(
        &self,
        key: &str,
        value: &T,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.0.put(T::KIND, key, to_json(value)?, expires_at).await
    }
    /// Gets a record.
    pub async fn get<T: Record>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.0.get(T::KIND, key).await?.map(from_json).transpose()
    }
    /// Takes a record: read and deleted at once.
    pub async fn take<T: Record>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.0.take(T::KIND, key).await?.map(from_json).transpose()
    }
    /// Replaces a record that still equals `expected`.
    pub async fn replace<T: Record>(
        &self,
        key: &str,
        expected: &T,
        value: &T,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.0
            .replace(
                T::KIND,
                key,
                &to_json(expected)?,
                to_json(value)?,
                expires_at,
            )
            .await
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
    /// How many records it holds, expired ones not yet swept included: what it costs in memory.
    pub fn len(&self) -> usize {
        self.records.lock().expect("store lock").len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

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

    async fn replace(
        &self,
        kind: Kind,
        key: &str,
        expected: &serde_json::Value,
        value: serde_json::Value,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        self.live(|r, now| {
            let k = (kind, key.to_owned());
            match r.get(&k) {
                Some((current, exp)) if *exp > now && current == expected => {
                    r.insert(k, (value, expires_at));
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }
}
