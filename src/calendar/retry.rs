//! How a backend retries a call to its server: the bounds from the config,
//! exponential backoff with jitter, and the pause a `Retry-After` asks for.
//! Shared by the Google and CalDAV backends, so both give up alike.

use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// Longest pause between two attempts, whatever the backoff says.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Timeouts and retry bounds (from the backend's config table).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Limit on one attempt.
    pub timeout: Duration,
    /// Most attempts, the first included.
    pub max_attempts: u32,
    /// No retry starts after this much time.
    pub deadline: Duration,
    /// First backoff step.
    pub base_delay: Duration,
}

/// A `Retry-After` header as a pause: seconds, or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(
    headers: &http::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

/// Exponential backoff with jitter: a random pause in the upper half of
/// `base · 2^(tries-1)`, so clients that failed together do not retry together.
pub fn backoff(base: Duration, tries: u32) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << tries.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let mut byte = [0u8; 1];
    let fraction = match SystemRandom::new().fill(&mut byte) {
        Ok(()) => f64::from(byte[0]) / 255.0,
        Err(_) => 1.0,
    };
    ceiling.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::{MAX_BACKOFF, backoff, retry_after};
    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap();
        let mut headers = http::HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Sun, 22 Nov 2026 08:01:30 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(90)));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_millis(100);
        for tries in 1..=5u32 {
            let ceiling = base * (1 << (tries - 1));
            for _ in 0..20 {
                let d = backoff(base, tries);
                assert!(d >= ceiling / 2 && d <= ceiling, "{tries}: {d:?}");
            }
        }
        assert!(backoff(base, 40) <= MAX_BACKOFF);
    }
}
