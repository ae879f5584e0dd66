//! A token bucket per registry host, so discovery across many subscriptions never exceeds a
//! registry's request budget (Docker Hub and GHCR answer 429 quickly).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// `per_second` requests per host, with bursts of up to that many.
    pub(super) fn new(per_second: u32) -> Self {
        Self {
            per_second: f64::from(per_second.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until one more request to `host` fits the budget, then takes it.
    pub(super) async fn acquire(&self, host: &str) {
        let wait = self.reserve(host, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token (possibly going into debt) and says how long the caller must wait for it.
    fn reserve(&self, host: &str, now: Instant) -> Duration {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(host.to_string()).or_insert(Bucket {
            tokens: self.per_second,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.per_second);
        bucket.updated = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_up_to_the_rate_then_spaces_requests() {
        let limiter = RateLimiter::new(20);
        let t0 = Instant::now();
        for _ in 0..20 {
            assert_eq!(limiter.reserve("r", t0), Duration::ZERO);
        }
        let wait = limiter.reserve("r", t0);
        assert!((wait.as_secs_f64() - 0.05).abs() < 1e-9, "{wait:?}");
        // Another host has its own budget.
        assert_eq!(limiter.reserve("other", t0), Duration::ZERO);
        // A second later the bucket is full again.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(limiter.reserve("r", t1), Duration::ZERO);
    }
}
