//! Starting an expansion near its window instead of at the series start.
//!
//! `rrule` walks every occurrence from DTSTART: an hourly series read a
//! century on visits nearly a million. For a rule that repeats by a fixed
//! period (one RRULE of FREQ=SECONDLY … WEEKLY, without COUNT, which counts
//! from the start), moving DTSTART forward by whole periods (INTERVAL times
//! the frequency, in local wall time as `rrule` counts) places exactly the
//! same occurrences from the new start on: every BY* part is read relative
//! to the period, and the parts DTSTART fills in (its minute, hour, weekday)
//! are kept by a whole number of periods. Monthly and yearly rules are left
//! to walk: a month is no fixed period, and they visit at most a few hundred
//! thousand occurrences in ten thousand years, within the visit bound.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use rrule::{Frequency, RRuleSet};

use super::{Series, dtstart_line};
use crate::calendar::time::When;

/// How far before `near` the new start lands, besides one period: both are
/// local wall times of one zone, so they differ from the instants by at most
/// a DST change (two hours anywhere), with a margin.
const SLACK_SECONDS: i64 = 6 * 3_600;

/// The series' rules with DTSTART moved forward to a whole number of
/// periods before `near`, or `None` when the rule does not allow it or there
/// is nothing to skip.
pub(super) fn rules_near(series: &Series, near: DateTime<Utc>) -> Option<RRuleSet> {
    let [rule] = series.rules.get_rrule().as_slice() else {
        return None;
    };
    if rule.get_count().is_some() {
        return None;
    }
    let unit: i64 = match rule.get_freq() {
        Frequency::Secondly => 1,
        Frequency::Minutely => 60,
        Frequency::Hourly => 3_600,
        Frequency::Daily => 86_400,
        Frequency::Weekly => 604_800,
        Frequency::Monthly | Frequency::Yearly => return None,
    };
    let period = unit.checked_mul(i64::from(rule.get_interval()))?;
    let (start, near) = match series.start {
        // All-day series repeat at UTC midnight.
        When::AllDay(date) => (date.and_hms_opt(0, 0, 0)?, near.naive_utc()),
        When::Timed { at, .. } => (
            at.with_timezone(&series.zone).naive_local(),
            near.with_timezone(&series.zone).naive_local(),
        ),
    };
    let ahead = (near - start).num_seconds() - period - SLACK_SECONDS;
    if ahead <= 0 || period <= 0 {
        return None;
    }
    let mut periods = ahead / period;
    // A new start in a DST gap or overlap does not name one instant: one
    // period earlier will.
    for _ in 0..3 {
        if periods <= 0 {
            return None;
        }
        let moved = start.checked_add_signed(Duration::seconds(periods.checked_mul(period)?))?;
        if let Some(rules) = parse_from(series, moved) {
            return Some(rules);
        }
        periods -= 1;
    }
    None
}

/// The series' lines with DTSTART at local wall time `at`.
fn parse_from(series: &Series, at: NaiveDateTime) -> Option<RRuleSet> {
    let start = match series.start {
        When::AllDay(_) => When::AllDay(at.date()),
        When::Timed { zone, .. } => match series.zone.from_local_datetime(&at) {
            LocalResult::Single(local) => When::Timed {
                at: local.with_timezone(&Utc),
                zone,
            },
            _ => return None,
        },
    };
    let text = format!(
        "{}\n{}",
        dtstart_line(&start, series.zone),
        series.lines.join("\n")
    );
    // A rule whose UNTIL falls before the new start no longer parses: it
    // then walks from the series start, within the visit bound.
    text.parse::<RRuleSet>().ok()
}

#[cfg(test)]
mod tests {
    use super::rules_near;
    use crate::calendar::series::Series;
    use crate::calendar::time::When;
    use chrono::{Duration, TimeZone, Utc};

    fn series(rule: &str) -> Series {
        let zone: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 8, 30, 0).unwrap();
        let start = When::Timed {
            at,
            zone: Some(zone),
        };
        let end = When::Timed {
            at: at + Duration::minutes(30),
            zone: Some(zone),
        };
        Series::new(start, end, zone, &[rule.to_owned()]).unwrap()
    }

    #[test]
    fn fixed_periods_jump_and_the_rest_walk() {
        let far = Utc.with_ymd_and_hms(2400, 6, 1, 0, 0, 0).unwrap();
        for rule in [
            "RRULE:FREQ=SECONDLY;INTERVAL=7",
            "RRULE:FREQ=HOURLY;INTERVAL=5",
            "RRULE:FREQ=DAILY;BYHOUR=9,17",
            "RRULE:FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH",
        ] {
            let rules = rules_near(&series(rule), far).unwrap_or_else(|| panic!("{rule}"));
            let moved = rules.get_dt_start().with_timezone(&Utc);
            // At most two periods and the slack before the window.
            assert!(
                moved < far && far - moved < Duration::days(43),
                "{rule}: {moved}"
            );
        }
        for rule in [
            "RRULE:FREQ=MONTHLY;BYMONTHDAY=31",
            "RRULE:FREQ=DAILY;COUNT=5",
        ] {
            assert!(rules_near(&series(rule), far).is_none(), "{rule}");
        }
        // Nothing to skip before a near window.
        let near = Utc.with_ymd_and_hms(2026, 1, 6, 0, 0, 0).unwrap();
        assert!(rules_near(&series("RRULE:FREQ=DAILY"), near).is_none());
    }
}
