//! Times as `connect` tells them on stderr: absolute (UTC) and relative.

use chrono::{DateTime, Utc};

/// Now, in Unix seconds.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// `unix` as "2026-12-03T10:00:00Z (in 2h 5m)" or "(12m ago)".
pub fn describe(unix: i64) -> String {
    let at = DateTime::<Utc>::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| unix.to_string());
    let delta = unix - now();
    let span = span(delta.unsigned_abs());
    if delta >= 0 {
        format!("{at} (in {span})")
    } else {
        format!("{at} ({span} ago)")
    }
}

/// A span of `seconds` as people say it: "3 days 4 h", "2 h 5 min", "40 s".
fn span(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86400, seconds % 86400 / 3600, seconds % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(40), "40 s");
        assert_eq!(span(125), "2 min");
        assert_eq!(span(7500), "2 h 5 min");
        assert_eq!(span(86400 * 3 + 3600 * 4 + 59), "3 days 4 h");
    }
}
