//! Retrying a failed operation, as Argo CD's `retry`: `limit` attempts (negative: no limit),
//! each after `duration * factor^n` (5 s, factor 2 by default), capped at `maxDuration`
//! (3 min by default).

use std::time::Duration;

use ferry_api::argocd::RetryStrategy;
use ferry_api::duration::{self, InvalidDuration};

const DEFAULT_DURATION: Duration = Duration::from_secs(5);
const DEFAULT_MAX_DURATION: Duration = Duration::from_secs(180);
const DEFAULT_FACTOR: i64 = 2;

/// Whether an operation that failed after `retry_count` retries is tried again.
pub fn allowed(strategy: &RetryStrategy, retry_count: i64) -> bool {
    let limit = strategy.limit.unwrap_or(0);
    limit < 0 || retry_count < limit
}

/// How long after the last attempt the next one starts.
pub fn backoff(strategy: &RetryStrategy, retry_count: i64) -> Result<Duration, InvalidDuration> {
    let backoff = strategy.backoff.clone().unwrap_or_default();
    let base = match &backoff.duration {
        Some(text) if !text.is_empty() => duration::parse_seconds_or_go(text)?,
        _ => DEFAULT_DURATION,
    };
    let max = match &backoff.max_duration {
        Some(text) if !text.is_empty() => duration::parse_seconds_or_go(text)?,
        _ => DEFAULT_MAX_DURATION,
    };
    let factor = backoff.factor.unwrap_or(DEFAULT_FACTOR) as f64;
    let exponent = i32::try_from(retry_count.max(0)).unwrap_or(i32::MAX);
    let wait = base.as_secs_f64() * factor.powi(exponent);
    let wait = if max.is_zero() {
        wait
    } else {
        wait.min(max.as_secs_f64())
    };
    Ok(Duration::try_from_secs_f64(wait).unwrap_or(max))
}

#[cfg(test)]
mod tests {
    use ferry_api::argocd::Backoff;

    use super::*;

    fn strategy(limit: Option<i64>, backoff: Option<Backoff>) -> RetryStrategy {
        RetryStrategy {
            limit,
            backoff,
            refresh: false,
        }
    }

    #[test]
    fn the_limit_counts_retries() {
        // (limit, retries so far, allowed)
        let table = [
            (None, 0, false),
            (Some(0), 0, false),
            (Some(2), 1, true),
            (Some(2), 2, false),
            (Some(-1), 99, true),
        ];
        for (limit, count, want) in table {
            assert_eq!(
                allowed(&strategy(limit, None), count),
                want,
                "{limit:?} {count}"
            );
        }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let default = strategy(Some(5), None);
        let waits: Vec<u64> = (0..7)
            .map(|n| backoff(&default, n).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 180]);
        let custom = strategy(
            Some(5),
            Some(Backoff {
                duration: Some("2".into()),
                factor: Some(3),
                max_duration: Some("1m".into()),
            }),
        );
        let waits: Vec<u64> = (0..4)
            .map(|n| backoff(&custom, n).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [2, 6, 18, 54]);
        assert_eq!(backoff(&custom, 4).unwrap().as_secs(), 60);
        let bad = strategy(
            Some(1),
            Some(Backoff {
                duration: Some("soon".into()),
                ..Backoff::default()
            }),
        );
        assert!(backoff(&bad, 0).is_err());
    }
}
