//! Timing math of the sync actors: backoff with jitter and the spreading of poll ticks. Pure,
//! so it is tested exhaustively; the actors only apply it.

use std::time::Duration;

/// First retry delay.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest delay between two attempts within one sync; longer waits end the sync instead.
pub const MAX_IN_SYNC_DELAY: Duration = Duration::from_secs(60);

/// The delay before retry `attempt` (1-based): exponential from [`BACKOFF_BASE`], capped, with
/// "equal jitter" (half fixed, half random, `unit` in [0, 1)), and never shorter than Google's
/// `Retry-After`.
pub fn backoff_delay(
    attempt: u32,
    retry_after: Option<Duration>,
    cap: Duration,
    unit: f64,
) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(cap);
    let jittered = capped / 2 + capped.mul_f64(unit.clamp(0.0, 1.0) / 2.0);
    match retry_after {
        Some(after) => jittered.max(after),
        None => jittered,
    }
}

/// The delay after a failed sync before the next attempt: the backoff for the failure count,
/// within the poll interval (a failing calendar is retried sooner than a healthy one is polled,
/// but never later), and at least Google's `Retry-After`.
pub fn after_failure(
    consecutive_failures: u32,
    retry_after: Option<Duration>,
    interval: Duration,
    unit: f64,
) -> Duration {
    let base = backoff_delay(consecutive_failures.saturating_add(4), None, interval, unit);
    match retry_after {
        Some(after) => base.max(after),
        None => base,
    }
}

/// The delay until the next regular poll: the interval, shifted by up to ±10 % so ten thousand
/// tokens started together drift apart instead of firing in the same second.
pub fn next_poll(interval: Duration, unit: f64) -> Duration {
    let spread = interval.mul_f64(0.2 * unit.clamp(0.0, 1.0));
    interval.mul_f64(0.9) + spread
}

/// A uniform number in [0, 1) for jitter.
pub fn jitter_unit() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_the_cap() {
        let cap = Duration::from_secs(60);
        let lo: Vec<u128> = (1..=10)
            .map(|a| backoff_delay(a, None, cap, 0.0).as_millis())
            .collect();
        let hi: Vec<u128> = (1..=10)
            .map(|a| backoff_delay(a, None, cap, 0.999_999).as_millis())
            .collect();
        assert_eq!(&lo[..5], &[250, 500, 1000, 2000, 4000]);
        assert_eq!(&hi[..3], &[499, 999, 1999]);
        assert!(lo.iter().zip(&hi).all(|(l, h)| l <= h));
        assert_eq!(
            backoff_delay(30, None, cap, 0.999_999),
            Duration::from_millis(59_999).max(backoff_delay(30, None, cap, 0.999_999))
        );
        assert!(backoff_delay(u32::MAX, None, cap, 1.0) <= cap);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let cap = Duration::from_secs(60);
        assert_eq!(
            backoff_delay(1, Some(Duration::from_secs(7)), cap, 0.5),
            Duration::from_secs(7)
        );
        assert_eq!(
            backoff_delay(8, Some(Duration::from_secs(1)), cap, 0.0),
            Duration::from_secs(30)
        );
        let interval = Duration::from_secs(300);
        assert_eq!(
            after_failure(1, Some(Duration::from_secs(900)), interval, 0.0),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn failures_back_off_but_never_beyond_the_interval() {
        let interval = Duration::from_secs(300);
        let d: Vec<Duration> = (0..12)
            .map(|n| after_failure(n, None, interval, 0.999))
            .collect();
        assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
        assert!(d.iter().all(|x| *x <= interval));
        assert!(d[0] >= Duration::from_secs(2));
    }

    #[test]
    fn polls_spread_around_the_interval() {
        let i = Duration::from_secs(300);
        assert_eq!(next_poll(i, 0.0), Duration::from_secs(270));
        assert_eq!(next_poll(i, 0.5), Duration::from_secs(300));
        assert!(next_poll(i, 0.999_999) < Duration::from_secs(330));
    }
}
