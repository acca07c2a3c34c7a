//! Exact caps on how many of something all replicas together admit within a span of time (the
//! registrations a flood can create), on any [`Store`]: one record holds the admissions per
//! time bucket, and each admission is a compare-and-swap on it, so two replicas can never both
//! take the last place. A Scan counted and reused for 30 s once let 10,200 registrations past a
//! cap of 10,000.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use serde::{Deserialize, Serialize};

use super::store::{Kind, Record, Records, Store, StoreError, now_secs};

/// Buckets a span is counted in: an admission is forgotten at most a twelfth of the span late.
const BUCKETS: u64 = 12;
/// Compare-and-swap attempts before a contended admission gives up (answered as an outage).
const ATTEMPTS: usize = 16;
/// How long one admission may keep retrying: well inside the 30 s a request may take, however
/// slow the store answers under contention (16 rounds of a read and a write at 1 s each would
/// be 32 s).
const BUDGET: Duration = Duration::from_secs(10);

/// A random pause before retry `attempt` (1, 2, ...): up to 20 ms before the first, doubled each
/// time, at most 320 ms, so replicas that lost the same race do not collide again in lockstep.
fn backoff(attempt: usize) -> Duration {
    let mut byte = [0u8; 2];
    let spread = SystemRandom::new()
        .fill(&mut byte)
        .map_or(u16::MAX / 2, |()| u16::from_be_bytes(byte));
    let ceiling_ms = 10u64 << attempt.min(5);
    Duration::from_millis(ceiling_ms * u64::from(spread) / u64::from(u16::MAX))
}

/// Admissions per bucket, oldest first: `(bucket start, admissions)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Window {
    buckets: Vec<(u64, u64)>,
}

impl Record for Window {
    const KIND: Kind = Kind::Admissions;
}

impl Window {
    /// The time this window is judged at: the local clock, or the newest bucket's start when a
    /// replica whose clock runs ahead wrote it, trusted up to one bucket's lead. So time never
    /// runs backwards in the record: a replica behind counts in the newest bucket (forgotten no
    /// earlier than it should be) instead of making an older one, and skew can only make
    /// admissions be forgotten up to one bucket early (NTP keeps real skew under a second; a
    /// bucket is 5 minutes). A clock further ahead (hours, a year) is not followed: see
    /// [`Window::forget`].
    fn clock(&self, local: u64, bucket: u64) -> u64 {
        self.buckets
            .last()
            .map_or(local, |(start, _)| local.max((*start).min(local + bucket)))
    }

    /// Drops the buckets wholly older than `span` before `now`; what is left is the count. A
    /// bucket stamped after `now` was written by a clock far ahead: its admissions are folded
    /// into the current bucket, so they are forgotten a span from now, not a span after that
    /// clock's future (which would shut everyone out for as long as the clock was ahead, even
    /// after it was fixed).
    fn forget(&mut self, now: u64, bucket: u64, span: u64) {
        let current = now - now % bucket;
        let ahead: u64 = self
            .buckets
            .iter()
            .filter(|(start, _)| *start > current)
            .map(|(_, n)| n)
            .sum();
        if ahead > 0 {
            tracing::warn!(
                admissions = ahead,
                "admissions stamped in the future (a replica's clock is far ahead): counted from now"
            );
            self.buckets.retain(|(start, _)| *start <= current);
            match self.buckets.last_mut() {
                Some((last, n)) if *last == current => *n += ahead,
                _ => self.buckets.push((current, ahead)),
            }
        }
        self.buckets
            .retain(|(start, _)| start + bucket > now.saturating_sub(span));
    }

    fn total(&self) -> u64 {
        self.buckets.iter().map(|(_, n)| n).sum()
    }

    fn add(&mut self, now: u64, bucket: u64) {
        let start = now - now % bucket;
        match self.buckets.last_mut() {
            Some((last, n)) if *last == start => *n += 1,
            _ => self.buckets.push((start, 1)),
        }
    }
}

/// Whether one more admission under `name` fits: fewer than `cap` within the last `span`
/// (counted in twelfths of it, so up to a twelfth longer), counting it if so.
pub async fn admit(
    store: &dyn Store,
    name: &str,
    cap: u64,
    span: Duration,
) -> Result<bool, StoreError> {
    let span = span.as_secs().max(BUCKETS);
    let bucket = span / BUCKETS;
    let records = Records(store);
    let started = Instant::now();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            if started.elapsed() >= BUDGET {
                break;
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        let current: Option<Window> = records.get(name).await?;
        let mut window = current.clone().unwrap_or_default();
        let now = window.clock(now_secs(), bucket);
        window.forget(now, bucket, span);
        if window.total() >= cap {
            return Ok(false);
        }
        window.add(now, bucket);
        let expires = now + span + bucket;
        let written = match &current {
            None => match records.insert(name, &window, expires).await {
                Ok(()) => true,
                Err(StoreError::Conflict(_)) => false,
                Err(e) => return Err(e),
            },
            Some(expected) => records.replace(name, expected, &window, expires).await?,
        };
        if written {
            return Ok(true);
        }
    }
    Err(StoreError::Backend(format!(
        "{name}: concurrent admissions kept winning the compare-and-swap ({:.1} s of retries)",
        started.elapsed().as_secs_f64()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facade::store::MemoryStore;

    #[test]
    fn retries_back_off_within_a_bound() {
        for attempt in 1..40 {
            assert!(backoff(attempt) <= Duration::from_millis(320), "{attempt}");
        }
    }

    #[test]
    fn a_window_forgets_what_is_older_than_its_span() {
        let mut w = Window::default();
        w.add(1_000, 300);
        w.add(1_100, 300);
        w.add(1_250, 300);
        assert_eq!(w.buckets, vec![(900, 2), (1_200, 1)]);
        w.forget(1_000 + 3_600, 300, 3_600);
        assert_eq!(
            w.total(),
            3,
            "the bucket of 900 ends at 1,200, within the span"
        );
        w.forget(1_200 + 3_600, 300, 3_600);
        assert_eq!(w.total(), 1);
        w.forget(1_500 + 3_600, 300, 3_600);
        assert_eq!(w.total(), 0);
    }

    #[test]
    fn a_replica_whose_clock_is_behind_counts_in_the_newest_bucket() {
        let mut w = Window::default();
        let ahead = w.clock(1_250, 300);
        w.add(ahead, 300);
        // A replica 200 s behind: its 1,050 would be the bucket of 900, before the newest one.
        let behind = w.clock(1_050, 300);
        assert_eq!(behind, 1_200, "the newest bucket's start");
        w.add(behind, 300);
        assert_eq!(
            w.buckets,
            vec![(1_200, 2)],
            "one bucket, in order, never older"
        );
    }

    #[test]
    fn a_clock_hours_ahead_does_not_shut_the_others_out_for_hours() {
        let (bucket, span, cap) = (300, 3_600, 10);
        let mut w = Window::default();
        // Ten admissions by a replica two hours ahead of real time (1,000).
        for _ in 0..cap {
            let fast = w.clock(1_000 + 7_200, bucket);
            w.forget(fast, bucket, span);
            w.add(fast, bucket);
        }
        // A correct replica follows at most one bucket of that lead, and still counts all ten.
        let now = w.clock(1_000, bucket);
        assert_eq!(now, 1_300);
        w.forget(now, bucket, span);
        assert_eq!(w.total(), cap, "the fast replica's admissions still count");
        assert_eq!(
            w.buckets,
            vec![(1_200, cap)],
            "folded into the current bucket"
        );
        // They are forgotten a span (and a bucket) after they were folded, not two hours later.
        let later = w.clock(1_200 + span + bucket, bucket);
        w.forget(later, bucket, span);
        assert_eq!(w.total(), 0);
    }

    #[tokio::test]
    async fn admissions_stop_at_the_cap() {
        let store = MemoryStore::default();
        let span = Duration::from_secs(3_600);
        for _ in 0..5 {
            assert!(admit(&store, "x", 5, span).await.unwrap());
        }
        assert!(!admit(&store, "x", 5, span).await.unwrap());
        assert!(
            admit(&store, "y", 5, span).await.unwrap(),
            "names are apart"
        );
    }
}
