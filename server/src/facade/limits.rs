//! Per-address rate limits on the façade's endpoints that anyone can call without credentials
//! and that make the server store state or do work: registration, authorization, consent.
//!
//! The address is the request's [`ClientAddress`](crate::client_address::ClientAddress): the TCP
//! peer, or behind a trusted proxy the client it names. IPv6 counts per /64, and its /56 and
//! /48 get 4 and 16 times that allowance between all their /64s: a customer handed a /48 gets
//! as much as 16 IPv4 addresses, not 65,536 of them.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use crate::client_address::{AddressKey, Breadth};

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

/// Keyed GCRA limiters, one per [`Breadth`]; addresses not seen for a while are forgotten.
pub struct AddressLimiter {
    host: DefaultKeyedRateLimiter<AddressKey>,
    home: DefaultKeyedRateLimiter<AddressKey>,
    site: DefaultKeyedRateLimiter<AddressKey>,
    window: Duration,
    /// When the limiters were last swept: a sweep locks and walks every key, so it runs at most
    /// once per [`SWEEP_EVERY`] however many keys stay recent (a /48 has 65,536 /64s).
    swept: std::sync::Mutex<std::time::Instant>,
}

/// Least time between two sweeps.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// How many times a host's allowance an IPv6 /56 and /48 get, between all their /64s.
const HOME_ALLOWANCE: u32 = 4;
const SITE_ALLOWANCE: u32 = 16;

/// Addresses remembered before idle ones are swept.
const SWEEP_ABOVE: usize = 10_000;

impl AddressLimiter {
    /// A limiter with `quota` for every address.
    pub fn new(quota: AddressQuota) -> Self {
        let burst = quota.burst.max(1);
        let period = quota.replenish_every.max(Duration::from_millis(1));
        Self {
            host: keyed(period, burst, 1),
            home: keyed(period, burst, HOME_ALLOWANCE),
            site: keyed(period, burst, SITE_ALLOWANCE),
            window: period * burst,
            swept: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// Whether a request from `ip` may be served now, counting it in every network `ip` is in;
    /// otherwise how long until it may.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        self.sweep();
        for (breadth, key) in AddressKey::counted_in(ip) {
            let limiter = match breadth {
                Breadth::Host => &self.host,
                Breadth::Home => &self.home,
                Breadth::Site => &self.site,
            };
            // Narrowest first: a host over its own allowance spends none of its network's.
            limiter.check_key(&key).map_err(|not_until| {
                not_until
                    .wait_time_from(governor::clock::Clock::now(
                        &governor::clock::DefaultClock::default(),
                    ))
                    .min(self.window)
            })?;
        }
        Ok(())
    }

    /// Forgets addresses whose allowance is full again (they carry no state worth keeping), when
    /// there are many and the last sweep is a while ago.
    fn sweep(&self) {
        let limiters = [&self.host, &self.home, &self.site];
        if limiters.iter().all(|l| l.len() <= SWEEP_ABOVE) {
            return;
        }
        let Ok(mut swept) = self.swept.try_lock() else {
            return; // another request is sweeping
        };
        if swept.elapsed() < SWEEP_EVERY {
            return;
        }
        for limiter in limiters {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        *swept = std::time::Instant::now();
    }
}

/// A keyed limiter that allows `times` a burst of `burst`, replenished `times` as fast.
fn keyed(period: Duration, burst: u32, times: u32) -> DefaultKeyedRateLimiter<AddressKey> {
    let burst = NonZeroU32::new(burst.saturating_mul(times).max(1)).expect("at least one");
    let quota = Quota::with_period((period / times).max(Duration::from_nanos(1)))
        .expect("a positive period")
        .allow_burst(burst);
    RateLimiter::keyed(quota)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_allowance() {
        let limiter = AddressLimiter::new(AddressQuota::per_window(3, Duration::from_secs(60)));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
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

    #[test]
    fn a_site_of_many_64s_gets_sixteen_hosts_worth() {
        let limiter = AddressLimiter::new(AddressQuota::per_window(3, Duration::from_secs(60)));
        let in_site = |n: u16| -> IpAddr { format!("2001:db8:7:{:x}::1", n << 8).parse().unwrap() };
        // 3 from each /64 (each in a /56 of its own), until the /48's 48 are spent; a /64 beyond that gets nothing.
        let served = (0u16..100)
            .flat_map(|n| std::iter::repeat_n(n, 3))
            .filter(|&n| limiter.check(in_site(n)).is_ok())
            .count();
        assert_eq!(served, 3 * SITE_ALLOWANCE as usize);
        // A /56 alone is held to 4 hosts' worth: 12, however many /64s it spreads over.
        let in_home = |n: u8| -> IpAddr { format!("2001:db8:8:{n:x}::1").parse().unwrap() };
        let served = (0u8..=255)
            .filter(|&n| limiter.check(in_home(n)).is_ok())
            .count();
        assert_eq!(served, 3 * HOME_ALLOWANCE as usize);
        // Another site and any IPv4 address are untouched.
        assert!(limiter.check("2001:db8:9::1".parse().unwrap()).is_ok());
        assert!(limiter.check("192.0.2.1".parse().unwrap()).is_ok());
    }
}
