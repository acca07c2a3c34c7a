//! Refused access tokens, counted by reason and reported in one line per interval: a flood of bad
//! tokens costs a log line every ten seconds, not a line each (30 s of invalid-token load once
//! wrote 56 MB of logs). The lines name reasons and counts only, never a token.

use std::{collections::BTreeMap, sync::Mutex, time::Duration};

use tokio_util::sync::CancellationToken;

/// How often the counts are reported (when there is anything to report).
pub const REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// The counts since the last report.
#[derive(Default)]
pub struct Refusals {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl Refusals {
    /// Counts one refusal.
    pub fn count(&self, reason: &'static str) {
        *self
            .counts
            .lock()
            .expect("refusal counts")
            .entry(reason)
            .or_default() += 1;
    }

    /// Logs the counts since the last report, if any, and starts over.
    pub fn report(&self) {
        let counts = std::mem::take(&mut *self.counts.lock().expect("refusal counts"));
        if counts.is_empty() {
            return;
        }
        let total: u64 = counts.values().sum();
        let by_reason = counts
            .iter()
            .map(|(reason, n)| format!("{reason}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        tracing::info!(total, by_reason = %by_reason, "refused access tokens since the last report");
    }

    /// Reports every `interval` until `stop`, and once more then.
    pub async fn report_every(&self, interval: Duration, stop: CancellationToken) {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.report(),
                () = stop.cancelled() => break,
            }
        }
        self.report();
    }
}
