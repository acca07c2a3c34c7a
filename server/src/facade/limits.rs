//! Per-address rate limits on the façade's endpoints that anyone can call without credentials
//! and that make the server store state or do work: registration, authorization, consent.
//!
//! The address is the request's [`ClientAddress`](crate::client_address::ClientAddress): the TCP
//! peer, or behind a trusted proxy the client it names; IPv6 counts per /64.

use std::{num::NonZeroU32, time::Duration};

use crate::client_address::AddressKey;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// How many requests an address may make at once, and how fast that allowance comes back.
#[derive(Debug, Clone, Copy)]
pub struct AddressQuota {
    /// Requests allowed in a burst.
    pub burst: u32,
    /// Time for one request of the burst to be allowed again.
    pub replenish_every: Duration,
}

impl AddressQuota {
    /// The whole burst comes back over `window`: `burst` requests per `window` sustained.
    pub const fn per_window(burst: u32, window: Duration) -> Self {
        Self {
            burst,
            replenish_every: Duration::from_nanos(window.as_nanos() as u64 / burst as u64),
        }
    }
}

/// A keyed GCRA limiter; addresses not seen for a while are forgotten.
pub struct AddressLimiter {
    limiter: DefaultKeyedRateLimiter<AddressKey>,
    window: Duration,
}

/// Addresses remembered before idle ones are swept.
const SWEEP_ABOVE: usize = 10_000;

impl AddressLimiter {
    /// A limiter with `quota` for every address.
    pub fn new(quota: AddressQuota) -> Self {
        let burst = NonZeroU32::new(quota.burst.max(1)).expect("at least one");
        let q = Quota::with_period(quota.replenish_every.max(Duration::from_millis(1)))
            .expect("a positive period")
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::keyed(q),
            window: quota.replenish_every * burst.get(),
        }
    }

    /// Whether `key` may make a request now, counting it; otherwise how long until it may.
    pub fn check(&self, key: AddressKey) -> Result<(), Duration> {
        if self.limiter.len() > SWEEP_ABOVE {
            // Addresses whose allowance is full again carry no state worth keeping.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&key).map_err(|not_until| {
            not_until
                .wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
                .min(self.window)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_allowance() {
        let limiter = AddressLimiter::new(AddressQuota::per_window(3, Duration::from_secs(60)));
        let a = AddressKey::of("127.0.0.1".parse().unwrap());
        let b = AddressKey::of("127.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
        }
        let wait = limiter.check(a).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert!(limiter.check(b).is_ok());
    }
}
