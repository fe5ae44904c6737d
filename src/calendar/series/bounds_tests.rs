//! Expansion is bounded work (issue 21, item 2): rules that cannot be served
//! are refused when written, far windows are reached by jumping, and what
//! must still walk stops at its bounds with an error that says so.

use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;

use super::budget::{Deadline, MAX_VISITED};
use super::{Series, When};
use crate::calendar::CalendarError;

fn series(start: DateTime<Utc>, rule: &str) -> Series {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let at = |at| When::Timed {
        at,
        zone: Some(zone),
    };
    Series::new(
        at(start),
        at(start + Duration::minutes(30)),
        zone,
        &[rule.to_owned()],
    )
    .unwrap()
}

fn jan_2026() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap()
}

#[test]
fn rules_the_calendar_cannot_serve_are_refused_when_written() {
    for (rule, says) in [
        ("RRULE:FREQ=SECONDLY", "finer than this calendar can list"),
        (
            "RRULE:FREQ=MINUTELY;INTERVAL=5",
            "finer than this calendar can list",
        ),
        (
            "RRULE:FREQ=HOURLY;BYMINUTE=0,5,10,15,20,25,30,35,40,45,50,55",
            "finer than",
        ),
        (
            "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "places no occurrence",
        ),
        (
            "RRULE:FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31",
            "places no occurrence",
        ),
    ] {
        let error = series(jan_2026(), rule).check_servable().unwrap_err();
        assert!(error.to_string().contains(says), "{rule}: {error}");
        assert!(
            error.to_string().starts_with("recurrence:"),
            "{rule}: {error}"
        );
    }
    for rule in [
        "RRULE:FREQ=MINUTELY;INTERVAL=15",
        "RRULE:FREQ=DAILY",
        "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20260301T000000Z",
    ] {
        series(jan_2026(), rule)
            .check_servable()
            .unwrap_or_else(|e| panic!("{rule}: {e}"));
    }
}

/// A stored SECONDLY series (written before the check existed) read at year
/// 9999 answers at once: the expansion starts just before the window.
#[test]
fn a_far_window_is_reached_by_jumping_not_walking() {
    let fine = series(jan_2026(), "RRULE:FREQ=SECONDLY;INTERVAL=7");
    let at = Utc.with_ymd_and_hms(9999, 6, 1, 12, 0, 0).unwrap();
    let started = Instant::now();
    let found = fine.occurrences(at, at + Duration::seconds(70)).unwrap();
    // Half-hour occurrences every 7 s: those that started before the window
    // still overlap it; ten start inside it.
    let inside: Vec<_> = found
        .iter()
        .filter(|o| o.start.instant(fine.zone) >= at)
        .collect();
    assert_eq!(inside.len(), 10);
    let instance = inside[3].start;
    assert!(fine.has_occurrence(&instance).unwrap());
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Jumping places exactly the occurrences walking does.
#[test]
fn a_jump_lists_what_a_walk_lists() {
    let windows = [
        (Utc.with_ymd_and_hms(2031, 3, 28, 0, 0, 0).unwrap(), 5),
        (Utc.with_ymd_and_hms(2033, 10, 28, 0, 0, 0).unwrap(), 9),
        (Utc.with_ymd_and_hms(2040, 12, 30, 0, 0, 0).unwrap(), 40),
    ];
    for rule in [
        "RRULE:FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0,30",
        "RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH",
        "RRULE:FREQ=HOURLY;INTERVAL=7",
        "RRULE:FREQ=DAILY;INTERVAL=5;BYDAY=SA,SU",
        "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,FR;BYSETPOS=-1",
    ] {
        let jumped = series(jan_2026(), rule);
        // The same rule ending far away cannot jump (UNTIL after the start
        // would still parse, so walk with COUNT instead): it walks.
        let walked = series(jan_2026(), &format!("{rule};COUNT=60000"));
        for (from, days) in windows {
            let to = from + Duration::days(days);
            let a = jumped.occurrences(from, to).unwrap();
            let b = walked.occurrences(from, to).unwrap();
            assert_eq!(a, b, "{rule} in {from}..{to}");
            assert!(!a.is_empty(), "{rule} in {from}..{to}");
        }
    }
}

#[test]
fn what_must_walk_stops_at_the_visit_bound() {
    // Monthly rules walk; 28 a month for 800 years is past the bound.
    let dense = series(
        jan_2026(),
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28",
    );
    let far = Utc.with_ymd_and_hms(2826, 1, 1, 0, 0, 0).unwrap();
    let error = dense.occurrences(far, far + Duration::days(7)).unwrap_err();
    assert!(
        matches!(&error, CalendarError::InvalidArgument { field, problem }
            if field == "timeMin" && problem.contains(&format!("{MAX_VISITED}"))),
        "{error}"
    );
    // Near its start the same series lists as before.
    let near = dense
        .occurrences(jan_2026(), jan_2026() + Duration::days(7))
        .unwrap();
    assert_eq!(near.len(), 7);
}

#[test]
fn an_expansion_stops_when_its_call_runs_out_of_time() {
    let dense = series(jan_2026(), "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,2,3,4,5,6,7");
    let far = Utc.with_ymd_and_hms(3500, 1, 1, 0, 0, 0).unwrap();
    let _deadline = Deadline::start(Instant::now());
    let error = dense.occurrences(far, far + Duration::days(7)).unwrap_err();
    assert!(
        matches!(&error, CalendarError::Unavailable(why) if why.contains("did not finish within")),
        "{error}"
    );
}
