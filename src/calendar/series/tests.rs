//! Series expansion across time zones and DST, and instance ids.

use super::{Duration, NaiveDate, Series, Tz, When, instance_id, parse_instance_id};
use crate::calendar::time::parse_instant;

fn timed(text: &str, zone: Tz) -> When {
    When::Timed {
        at: parse_instant("t", text).unwrap(),
        zone: Some(zone),
    }
}

/// The night clocks spring forward in Berlin (2030-03-31, 02:00 -> 03:00):
/// the rule's 02:00 and 02:30 are read as 03:00 and 03:30 (RFC 5545), the
/// instants of two later instances. Each instant is listed once, in order:
/// a 23-hour day holds 46 half-hours.
#[test]
fn a_rule_through_a_spring_forward_gap_lists_each_instant_once_in_order() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let series = Series::new(
        timed("2030-03-31T00:00:00+01:00", berlin),
        timed("2030-03-31T00:10:00+01:00", berlin),
        berlin,
        &["RRULE:FREQ=MINUTELY;INTERVAL=30;COUNT=48".to_owned()],
    )
    .unwrap();
    let all = series
        .occurrences(
            parse_instant("a", "2030-03-30T00:00:00Z").unwrap(),
            parse_instant("b", "2030-04-02T00:00:00Z").unwrap(),
        )
        .unwrap();
    let starts: Vec<_> = all.iter().map(|o| o.start.instant(berlin)).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    assert_eq!(starts.len(), 46);
}

#[test]
fn weekly_series_keeps_local_time_across_dst() {
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    let series = Series::new(
        timed("2026-03-16T09:00:00+01:00", berlin),
        timed("2026-03-16T10:00:00+01:00", berlin),
        berlin,
        &["RRULE:FREQ=WEEKLY;COUNT=4".to_owned()],
    )
    .unwrap();
    let all = series
        .occurrences(
            parse_instant("a", "2026-03-01T00:00:00Z").unwrap(),
            parse_instant("b", "2026-05-01T00:00:00Z").unwrap(),
        )
        .unwrap();
    let local: Vec<String> = all
        .iter()
        .map(|o| {
            o.start
                .instant(berlin)
                .with_timezone(&berlin)
                .format("%H:%M %z")
                .to_string()
        })
        .collect();
    assert_eq!(
        local,
        ["09:00 +0100", "09:00 +0100", "09:00 +0200", "09:00 +0200"]
    );
}

#[test]
fn a_window_with_too_many_instances_is_an_error_not_a_truncation() {
    let series = Series::new(
        timed("2026-01-01T00:00:00Z", Tz::UTC),
        timed("2026-01-01T00:00:30Z", Tz::UTC),
        Tz::UTC,
        &["RRULE:FREQ=MINUTELY".to_owned()],
    )
    .unwrap();
    let from = parse_instant("a", "2026-01-01T00:00:00Z").unwrap();
    let err = series
        .occurrences(from, from + Duration::days(30))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("timeMax: a recurring event has more than 5000 instances"),
        "{err}"
    );
    assert_eq!(
        series
            .occurrences(from, from + Duration::hours(1))
            .unwrap()
            .len(),
        60
    );
}

#[test]
fn bad_rule_names_the_line() {
    let err = Series::new(
        timed("2026-03-16T09:00:00Z", Tz::UTC),
        timed("2026-03-16T10:00:00Z", Tz::UTC),
        Tz::UTC,
        &["RRULE:FREQ=SOMETIMES".to_owned()],
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("recurrence[0]: `RRULE:FREQ=SOMETIMES`"),
        "{err}"
    );
}

#[test]
fn instance_ids_round_trip() {
    let start = timed("2026-03-16T09:00:00+01:00", Tz::UTC);
    let id = instance_id("abc", &start);
    assert_eq!(id, "abc_20260316T080000Z");
    let (series, when) = parse_instance_id(&id).unwrap();
    assert_eq!(series, "abc");
    assert_eq!(when.instant(Tz::UTC), start.instant(Tz::UTC));
    let day = When::AllDay(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap());
    assert_eq!(
        parse_instance_id(&instance_id("x", &day)),
        Some(("x".to_owned(), day))
    );
}

#[test]
fn split_keeps_count_total() {
    let series = Series::new(
        timed("2026-01-05T09:00:00Z", Tz::UTC),
        timed("2026-01-05T10:00:00Z", Tz::UTC),
        Tz::UTC,
        &["RRULE:FREQ=DAILY;COUNT=10".to_owned()],
    )
    .unwrap();
    let split = timed("2026-01-08T09:00:00Z", Tz::UTC);
    assert_eq!(
        series.lines_from(&split).unwrap(),
        ["RRULE:FREQ=DAILY;COUNT=7"]
    );
    assert_eq!(
        series.lines_ending_before(&split),
        ["RRULE:FREQ=DAILY;UNTIL=20260108T085959Z"]
    );
}
