//! Per-person request budgets: a token bucket for each user, kept in memory, so one person
//! asking for join tickets in a loop is answered `rate_limited` instead of running the
//! admission gate (and writing the livestream log and the audit chain) every time.
//!
//! Each key has a [`livegate_core::budget::TokenBucket`] (the same bucket the signalling budgets use). The map is
//! bounded: full buckets (idle people) are dropped when it grows, and past [`MAX_PEOPLE`] a
//! newcomer is served unmetered rather than evicting anyone's history. Lessons live on one
//! node, so a node's own count is the one that matters.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use livegate_core::budget::{Rate, TokenBucket};

/// How many people's buckets are kept at most.
pub const MAX_PEOPLE: usize = 10_000;

/// A token bucket per key.
#[derive(Debug)]
pub struct Budget<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, TokenBucket>>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    /// `rate.burst` requests at once, then `rate.per_second` on average.
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s budget at `now`: `Ok` if there was room, else how long
    /// until there is.
    pub fn take(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("budget lock");
        if buckets.len() >= MAX_PEOPLE && !buckets.contains_key(key) {
            buckets.retain(|_, b| !b.is_full(now));
            if buckets.len() >= MAX_PEOPLE {
                return Ok(());
            }
        }
        let bucket = buckets
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::full(self.rate, now));
        if bucket.take(now) {
            return Ok(());
        }
        Err(bucket.wait(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_refill_rate() {
        let budget = Budget::new(Rate {
            burst: 3,
            per_second: 2,
        });
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(budget.take(&"eve", t0), Ok(()), "request {i} of the burst");
        }
        assert_eq!(
            budget.take(&"eve", t0),
            Err(Duration::from_millis(500)),
            "one more in half a second"
        );
        assert_eq!(budget.take(&"ada", t0), Ok(()), "each person has their own");
        assert_eq!(budget.take(&"eve", t0 + Duration::from_millis(500)), Ok(()));
        assert!(budget.take(&"eve", t0 + Duration::from_millis(600)).is_err());
        // Idle long enough, the bucket is full again, never fuller.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(budget.take(&"eve", later), Ok(()));
        }
        assert!(budget.take(&"eve", later).is_err());
    }

    #[test]
    fn the_map_stays_bounded() {
        let budget = Budget::new(Rate {
            burst: 2,
            per_second: 1,
        });
        let t0 = Instant::now();
        for key in 0..MAX_PEOPLE {
            budget.take(&key, t0).unwrap();
        }
        // Everyone is mid-bucket: a newcomer is served without a bucket rather than growing the map.
        assert_eq!(budget.take(&MAX_PEOPLE, t0), Ok(()));
        assert_eq!(budget.buckets.lock().unwrap().len(), MAX_PEOPLE);
        // Once their buckets have refilled, idle people make room.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(budget.take(&(MAX_PEOPLE + 1), later), Ok(()));
        assert_eq!(budget.buckets.lock().unwrap().len(), 1);
    }
}
