//! When the ACME client acts: a certificate is renewed about two thirds into
//! its life, earlier by a random part of a fifteenth of it (so gateways
//! started together do not all ask the CA at the same second); a CA that
//! offers ACME Renewal Information (RFC 9773) names a window instead, and a
//! random moment in it is taken. A failed order is retried after a delay
//! that doubles from five seconds up to an hour.

use std::time::Duration;

/// The first retry's delay.
pub const FIRST_RETRY: Duration = Duration::from_secs(5);
/// The longest delay between retries.
pub const LONGEST_RETRY: Duration = Duration::from_secs(3600);

/// A uniform random fraction in [0, 1), from the process's crypto provider.
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    // The provider's generator fails only if the OS has no randomness; no
    // jitter is then the safe answer.
    if crate::transport::tls::provider()
        .secure_random
        .fill(&mut bytes)
        .is_err()
    {
        return 0.0;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// When to renew a certificate valid from `not_before` to `not_after`
/// (Unix seconds): two thirds into its life, less `jitter` (0..1) of a
/// fifteenth of it — between 60 % and 67 % of the lifetime.
pub fn renewal_time(not_before: i64, not_after: i64, jitter: f64) -> i64 {
    let life = (not_after - not_before).max(0);
    not_before + life * 2 / 3 - (life as f64 / 15.0 * jitter.clamp(0.0, 1.0)) as i64
}

/// A moment in the CA's suggested window (RFC 9773 §4.2: pick uniformly).
pub fn window_time(start: i64, end: i64, pick: f64) -> i64 {
    start + ((end - start).max(0) as f64 * pick.clamp(0.0, 1.0)) as i64
}

/// The delay before retry number `failures` (1 after the first failure).
pub fn retry_delay(failures: u32) -> Duration {
    let doubled = FIRST_RETRY.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
    doubled.min(LONGEST_RETRY)
}

#[cfg(test)]
mod tests {
    use super::{random_fraction, renewal_time, retry_delay, window_time};
    use std::time::Duration;

    #[test]
    fn renewal_falls_between_sixty_and_sixty_seven_percent() {
        let (start, end) = (1_000, 1_000 + 90 * 86_400);
        assert_eq!(renewal_time(start, end, 0.0), start + 60 * 86_400);
        assert_eq!(renewal_time(start, end, 1.0), start + 54 * 86_400);
        for _ in 0..100 {
            let at = renewal_time(start, end, random_fraction());
            assert!((start + 54 * 86_400..=start + 60 * 86_400).contains(&at));
        }
        assert_eq!(window_time(100, 200, 0.5), 150);
    }

    #[test]
    fn retries_double_up_to_an_hour() {
        let delays: Vec<u64> = (1..=12).map(|n| retry_delay(n).as_secs()).collect();
        assert_eq!(&delays[..5], &[5, 10, 20, 40, 80]);
        assert_eq!(retry_delay(12), Duration::from_secs(3600));
        assert_eq!(retry_delay(u32::MAX), Duration::from_secs(3600));
    }
}
