//! A size-bounded cache whose entries each expire at their own deadline: the verified-token,
//! introspection and metadata-document caches.
//!
//! It is moka's, with its default TinyLFU policy: when full, a newcomer is admitted only if it
//! has been asked for more often than the entry it would evict. So a flood of keys seen once
//! (made-up metadata URLs, one-shot tokens) cannot push out the entries in use; the price is
//! that a genuinely new key may wait a few requests for its place, which costs a recomputation,
//! never a wrong answer.

use std::{
    hash::Hash,
    time::{Duration, Instant},
};

/// The cache; cheap to share by reference, safe across threads.
pub struct ExpiringCache<K, V> {
    entries: moka::sync::Cache<K, Expiring<V>>,
}

#[derive(Clone)]
struct Expiring<V> {
    value: V,
    until: Instant,
}

/// Each entry lives until its own deadline.
struct UntilDeadline;

impl<K, V> moka::Expiry<K, Expiring<V>> for UntilDeadline {
    fn expire_after_create(&self, _: &K, entry: &Expiring<V>, now: Instant) -> Option<Duration> {
        Some(entry.until.saturating_duration_since(now))
    }
}

impl<K, V> ExpiringCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A cache of at most `capacity` entries (0: nothing is kept).
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilDeadline)
                .build(),
        }
    }

    /// The value under `key`, unless absent or expired (moka checks the deadline on every read).
    pub fn get(&self, key: &K) -> Option<V> {
        self.entries.get(key).map(|e| e.value)
    }

    /// Keeps `value` under `key` for `ttl` (nothing for a zero `ttl`).
    pub fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let until = Instant::now() + ttl;
        self.entries.insert(key, Expiring { value, until });
    }

    /// Applies pending admissions and evictions now (moka does it in batches; tests use this
    /// to look at a settled cache).
    pub fn settle(&self) {
        self.entries.run_pending_tasks();
    }

    /// How many entries are kept, once settled.
    pub fn len(&self) -> u64 {
        self.entries.entry_count()
    }

    /// Whether nothing is kept, once settled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_at_their_own_deadline() {
        let cache = ExpiringCache::new(10);
        cache.insert("short", 1, Duration::from_millis(50));
        cache.insert("long", 2, Duration::from_secs(60));
        cache.insert("never kept", 3, Duration::ZERO);
        assert_eq!(cache.get(&"short"), Some(1));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(cache.get(&"short"), None);
        assert_eq!(cache.get(&"long"), Some(2));
        assert_eq!(cache.get(&"never kept"), None);
    }

    #[test]
    fn a_flood_of_new_keys_neither_empties_it_nor_outgrows_it() {
        let cache = ExpiringCache::new(100);
        for hot in 0..10u32 {
            cache.insert(hot, hot, Duration::from_secs(60));
        }
        // A hundred times the capacity in keys seen once, while ten entries stay in use.
        for flood in 1_000..11_000u32 {
            cache.insert(flood, flood, Duration::from_secs(60));
            let _ = cache.get(&flood);
            if flood % 20 == 0 {
                for hot in 0..10u32 {
                    let _ = cache.get(&hot);
                }
            }
        }
        cache.settle();
        assert!(cache.len() <= 100, "{} entries", cache.len());
        for hot in 0..10u32 {
            assert_eq!(cache.get(&hot), Some(hot), "entry {hot} in use was evicted");
        }
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let cache = ExpiringCache::new(0);
        cache.insert(1, 1, Duration::from_secs(60));
        cache.settle();
        assert_eq!(cache.get(&1), None);
    }
}
