//! Free-slot search: the gaps that every requested calendar shares, optionally
//! inside working hours in one zone. Pure functions over busy intervals, so both
//! backends get the same answer from their free/busy data.

use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

use crate::calendar::time::midnight;

/// An interval `[start, end)` in UTC.
pub type Interval = (DateTime<Utc>, DateTime<Utc>);

/// Working hours: the local part of each allowed day during which slots may fall.
#[derive(Debug, Clone)]
pub struct WorkingHours {
    /// Local start of the working day.
    pub start: NaiveTime,
    /// Local end of the working day (after `start`).
    pub end: NaiveTime,
    /// Days on which work happens.
    pub days: Vec<Weekday>,
    /// Zone the hours are written in.
    pub zone: Tz,
}

/// Sorts and merges overlapping or touching intervals.
pub fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for (start, end) in intervals {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// The parts of `window` not covered by any `busy` interval.
pub fn gaps(window: Interval, busy: &[Interval]) -> Vec<Interval> {
    let mut free = Vec::new();
    let mut cursor = window.0;
    for &(start, end) in &merge(busy.to_vec()) {
        if end <= cursor || start >= window.1 {
            continue;
        }
        if start > cursor {
            free.push((cursor, start.min(window.1)));
        }
        cursor = cursor.max(end);
    }
    if cursor < window.1 {
        free.push((cursor, window.1));
    }
    free
}

/// The working-hour intervals of each allowed day that overlap `window`.
pub fn working_intervals(window: Interval, hours: &WorkingHours) -> Vec<Interval> {
    let zone = hours.zone;
    let mut day = window.0.with_timezone(&zone).date_naive() - Duration::days(1);
    let last = window.1.with_timezone(&zone).date_naive();
    let mut out = Vec::new();
    while day <= last {
        if hours.days.contains(&day.weekday()) {
            let open = midnight(day, zone) + (hours.start - NaiveTime::MIN);
            let close = midnight(day, zone) + (hours.end - NaiveTime::MIN);
            let (start, end) = (open.max(window.0), close.min(window.1));
            if start < end {
                out.push((start, end));
            }
        }
        day += Duration::days(1);
    }
    out
}

/// Free intervals of at least `length` inside `window` (and working hours, if
/// given) where none of `busy` falls; at most `limit` of them, earliest first.
pub fn free_slots(
    window: Interval,
    busy: &[Interval],
    length: Duration,
    hours: Option<&WorkingHours>,
    limit: usize,
) -> Vec<Interval> {
    let candidates = match hours {
        Some(hours) => working_intervals(window, hours),
        None => vec![window],
    };
    candidates
        .into_iter()
        .flat_map(|candidate| gaps(candidate, busy))
        .filter(|(start, end)| *end - *start >= length)
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{DateTime, Duration, NaiveTime, Tz, Utc, Weekday, WorkingHours, free_slots, gaps};
    use crate::calendar::time::parse_instant;

    fn at(text: &str) -> DateTime<Utc> {
        parse_instant("t", text).unwrap()
    }

    #[test]
    fn gaps_skip_overlapping_busy_time() {
        let window = (at("2026-01-05T08:00:00Z"), at("2026-01-05T12:00:00Z"));
        let busy = [
            (at("2026-01-05T09:00:00Z"), at("2026-01-05T10:00:00Z")),
            (at("2026-01-05T09:30:00Z"), at("2026-01-05T10:30:00Z")),
            (at("2026-01-05T11:30:00Z"), at("2026-01-05T13:00:00Z")),
        ];
        assert_eq!(
            gaps(window, &busy),
            [
                (at("2026-01-05T08:00:00Z"), at("2026-01-05T09:00:00Z")),
                (at("2026-01-05T10:30:00Z"), at("2026-01-05T11:30:00Z")),
            ]
        );
    }

    #[test]
    fn working_hours_follow_the_zone_and_weekdays() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let hours = WorkingHours {
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            zone,
        };
        // Friday 2026-01-09 to Monday 2026-01-12 (UTC window).
        let window = (at("2026-01-09T00:00:00Z"), at("2026-01-13T00:00:00Z"));
        let slots = free_slots(window, &[], Duration::minutes(30), Some(&hours), 10);
        assert_eq!(
            slots,
            [
                (at("2026-01-09T14:00:00Z"), at("2026-01-09T22:00:00Z")),
                (at("2026-01-12T14:00:00Z"), at("2026-01-12T22:00:00Z")),
            ]
        );
    }
}
