//! Recurring series: RRULE expansion (the `rrule` crate), instance ids in
//! Google's `<seriesId>_<originalStart>` form, and splitting a series in two.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use rrule::RRuleSet;

use crate::calendar::CalendarError;
use crate::calendar::time::When;

/// The most instances one series may produce inside a single query window;
/// rules denser than this are refused when written ([`Series::check_servable`]).
pub const MAX_INSTANCES_PER_WINDOW: u16 = 5000;

/// Where a series places one of its occurrences, before any per-instance edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// The original start (the instance's identity).
    pub start: When,
    /// Start plus the series' duration.
    pub end: When,
}

/// A validated series: the master's first start/end, the zone it repeats in and its rule lines.
#[derive(Debug, Clone)]
pub struct Series {
    /// First occurrence's start.
    pub start: When,
    /// First occurrence's end.
    pub end: When,
    /// Zone whose local time each occurrence keeps across DST changes.
    pub zone: Tz,
    /// The RRULE / EXDATE / RDATE lines as the client wrote them (normalised).
    pub lines: Vec<String>,
    /// The lines parsed once, with DTSTART: every expansion starts from a clone.
    rules: RRuleSet,
}

impl Series {
    /// Validates `lines` against a start; errors name `recurrence[i]`.
    pub fn new(
        start: When,
        end: When,
        zone: Tz,
        lines: &[String],
    ) -> Result<Series, CalendarError> {
        let mut normalised = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let field = format!("recurrence[{i}]");
            let trimmed = line.trim().to_owned();
            let name = trimmed
                .split([':', ';'])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase();
            if !matches!(name.as_str(), "RRULE" | "EXDATE" | "RDATE") {
                return Err(CalendarError::invalid(
                    &field,
                    format!("`{line}`: only RRULE, EXDATE and RDATE lines are allowed"),
                ));
            }
            if trimmed.contains('\n') || trimmed.contains('\r') {
                return Err(CalendarError::invalid(&field, "must be a single line"));
            }
            normalised.push(normalise_until(&trimmed));
        }
        if !normalised
            .iter()
            .any(|l| l.to_ascii_uppercase().starts_with("RRULE"))
        {
            return Err(CalendarError::invalid(
                "recurrence",
                "needs at least one RRULE line",
            ));
        }
        let dtstart = dtstart_line(&start, zone);
        let rules = match format!("{dtstart}\n{}", normalised.join("\n")).parse::<RRuleSet>() {
            Ok(rules) => rules,
            Err(e) => {
                return Err(name_bad_line(&dtstart, &normalised, lines)
                    .unwrap_or_else(|| CalendarError::invalid("recurrence", format!("{e}"))));
            }
        };
        Ok(Series {
            start,
            end,
            zone,
            lines: normalised,
            rules,
        })
    }

    fn length(&self) -> Duration {
        self.end.instant(self.zone) - self.start.instant(self.zone)
    }

    /// The occurrences that overlap `[from, to)`, in order. The expansion
    /// starts near the window where the rule allows (see the `jump` module) and is
    /// bounded by the occurrences it visits and the call's deadline
    /// ([`budget`]): past either, the call fails with an error that says so
    /// rather than run on.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, CalendarError> {
        let length = self.length();
        let rules = jump::rules_near(self, from - length).unwrap_or_else(|| self.rules.clone());
        // Occurrences come in start order but for local times in a DST gap
        // (read with the offset before it, below, so up to the gap's length
        // late): walk a little past the window.
        let stop = to + Duration::hours(3);
        let mut meter = budget::Meter::default();
        let mut out = Vec::new();
        for date in &rules.limit() {
            meter.visit().map_err(too_costly)?;
            let at = date.with_timezone(&Utc);
            if at >= stop {
                break;
            }
            let start = self.occurrence_start(at);
            let end = shift(&start, length, self.zone);
            let (s, e) = (start.instant(self.zone), end.instant(self.zone));
            if e > from && s < to {
                if out.len() == usize::from(MAX_INSTANCES_PER_WINDOW) {
                    // Returning the first N would drop the rest without a word.
                    return Err(CalendarError::invalid(
                        "timeMax",
                        format!(
                            "a recurring event has more than {MAX_INSTANCES_PER_WINDOW} instances in this window; narrow timeMin/timeMax"
                        ),
                    ));
                }
                out.push(Occurrence { start, end });
            }
        }
        // A local time in a spring-forward gap is read with the offset before
        // the gap (RFC 5545, 3.3.5): an hourly or finer rule can then place
        // it after the instances that follow, or on the same instant as one.
        // Listed in start order and once each: an instance's id is its start.
        out.sort_by_key(|o| o.start.instant(self.zone));
        out.dedup_by_key(|o| o.start.instant(self.zone));
        Ok(out)
    }

    /// Refuses, when it is written, a rule the calendar could not serve: one
    /// that places no occurrence at all (`BYMONTH=2;BYMONTHDAY=30`), or more
    /// than [`MAX_INSTANCES_PER_WINDOW`] in some 31 days of its first year
    /// (every listing of a month would fail). Stored rules are not checked
    /// again on reading: the bounds of [`Series::occurrences`] hold for them.
    pub fn check_servable(&self) -> Result<(), CalendarError> {
        let mut meter = budget::Meter::default();
        let first = self.start.instant(self.zone);
        let year_on = first + Duration::days(366);
        let window = Duration::days(31);
        let mut starts: std::collections::VecDeque<DateTime<Utc>> = Default::default();
        // Whether the rule yields anything at all, in the first year or after.
        let mut any = false;
        for date in &self.rules.clone().limit() {
            any = true;
            meter.visit().map_err(too_costly)?;
            let at = date.with_timezone(&Utc);
            if at >= year_on {
                break;
            }
            starts.push_back(at);
            while starts.front().is_some_and(|s| at - *s >= window) {
                starts.pop_front();
            }
            if starts.len() > usize::from(MAX_INSTANCES_PER_WINDOW) {
                return Err(CalendarError::invalid(
                    "recurrence",
                    format!(
                        "the rule places more than {MAX_INSTANCES_PER_WINDOW} occurrences within 31 days, finer than this calendar can list; repeat less often"
                    ),
                ));
            }
        }
        // `rrule` gives up on a rule after 100,000 periods without a match.
        if !any {
            return Err(CalendarError::invalid(
                "recurrence",
                "the rule places no occurrence (it never matches a date, or ends before it starts)",
            ));
        }
        Ok(())
    }

    /// Whether the series places an occurrence at exactly `original`.
    pub fn has_occurrence(&self, original: &When) -> Result<bool, CalendarError> {
        let at = original.instant(self.zone);
        let found = self.occurrences(at, at + Duration::seconds(1))?;
        Ok(found.iter().any(|o| o.start.instant(self.zone) == at))
    }

    fn occurrence_start(&self, at: DateTime<Utc>) -> When {
        match self.start {
            // All-day series expand at UTC midnight: the date is what matters.
            When::AllDay(_) => When::AllDay(at.date_naive()),
            When::Timed { zone, .. } => When::Timed { at, zone },
        }
    }

    /// The rule lines of this series ended just before `split` (exclusive), for
    /// "this and following" edits: UNTIL replaces any COUNT.
    pub fn lines_ending_before(&self, split: &When) -> Vec<String> {
        let until = split.instant(self.zone) - Duration::seconds(1);
        let until_text = until.format("%Y%m%dT%H%M%SZ").to_string();
        self.lines
            .iter()
            .map(|line| {
                if !line.to_ascii_uppercase().starts_with("RRULE") {
                    return line.clone();
                }
                let (head, rule) = line.split_once(':').unwrap_or((line, ""));
                let mut parts: Vec<String> = rule
                    .split(';')
                    .filter(|p| {
                        let key = p.split('=').next().unwrap_or_default().to_ascii_uppercase();
                        key != "UNTIL" && key != "COUNT" && !p.is_empty()
                    })
                    .map(str::to_owned)
                    .collect();
                parts.push(format!("UNTIL={until_text}"));
                format!("{head}:{}", parts.join(";"))
            })
            .collect()
    }

    /// The rule lines for the second half of a split series starting at `split`:
    /// a COUNT is reduced by the occurrences the first half keeps.
    pub fn lines_from(&self, split: &When) -> Result<Vec<String>, CalendarError> {
        let kept = self
            .occurrences(self.start.instant(self.zone), split.instant(self.zone))?
            .len();
        Ok(self
            .lines
            .iter()
            .map(|line| {
                if !line.to_ascii_uppercase().starts_with("RRULE") {
                    return line.clone();
                }
                let (head, rule) = line.split_once(':').unwrap_or((line, ""));
                let parts: Vec<String> = rule
                    .split(';')
                    .map(|p| match p.split_once('=') {
                        Some((k, v)) if k.eq_ignore_ascii_case("COUNT") => {
                            let count: usize = v.parse().unwrap_or(1);
                            format!("COUNT={}", count.saturating_sub(kept).max(1))
                        }
                        _ => p.to_owned(),
                    })
                    .collect();
                format!("{head}:{}", parts.join(";"))
            })
            .collect())
    }
}

/// The DTSTART line for a series starting at `start` in `zone`.
fn dtstart_line(start: &When, zone: Tz) -> String {
    match start {
        When::AllDay(date) => format!("DTSTART:{}T000000Z", date.format("%Y%m%d")),
        When::Timed { at, .. } => format!(
            "DTSTART;TZID={}:{}",
            zone.name(),
            at.with_timezone(&zone).format("%Y%m%dT%H%M%S")
        ),
    }
}

/// When the whole set does not parse: checks each line on its own (with the
/// first RRULE, which EXDATE and RDATE need) so that the error names the line
/// that is wrong. Only runs on the error path.
fn name_bad_line(
    dtstart: &str,
    normalised: &[String],
    written: &[String],
) -> Option<CalendarError> {
    let first_rule = normalised
        .iter()
        .find(|l| l.to_ascii_uppercase().starts_with("RRULE"))
        .cloned()
        .unwrap_or_default();
    normalised.iter().enumerate().find_map(|(i, line)| {
        let rule = if *line == first_rule {
            String::new()
        } else {
            format!("{first_rule}\n")
        };
        format!("{dtstart}\n{rule}{line}")
            .parse::<RRuleSet>()
            .err()
            .map(|e| {
                CalendarError::invalid(
                    &format!("recurrence[{i}]"),
                    format!("`{}`: {e}", written[i]),
                )
            })
    })
}

/// `start` moved by `by`; all-day dates move by whole days.
pub fn shift(start: &When, by: Duration, _zone: Tz) -> When {
    match start {
        When::AllDay(date) => When::AllDay(*date + Duration::days(by.num_days())),
        When::Timed { at, zone } => When::Timed {
            at: *at + by,
            zone: *zone,
        },
    }
}

/// A date-only UNTIL is read as the end of that day in UTC, which `rrule` accepts
/// for every DTSTART form (it refuses floating UNTIL values).
fn normalise_until(line: &str) -> String {
    let Some((head, rule)) = line.split_once(':') else {
        return line.to_owned();
    };
    if !head.eq_ignore_ascii_case("RRULE") {
        return line.to_owned();
    }
    let parts: Vec<String> = rule
        .split(';')
        .map(|p| match p.split_once('=') {
            Some((k, v))
                if k.eq_ignore_ascii_case("UNTIL")
                    && v.len() == 8
                    && v.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("UNTIL={v}T235959Z")
            }
            _ => p.to_owned(),
        })
        .collect();
    format!("{head}:{}", parts.join(";"))
}

/// The id of the instance of `series_id` originally at `start`.
pub fn instance_id(series_id: &str, start: &When) -> String {
    match start {
        When::AllDay(date) => format!("{series_id}_{}", date.format("%Y%m%d")),
        When::Timed { at, .. } => format!("{series_id}_{}", at.format("%Y%m%dT%H%M%SZ")),
    }
}

/// Splits an instance id into its series id and original start.
pub fn parse_instance_id(id: &str) -> Option<(String, When)> {
    let (series, stamp) = id.rsplit_once('_')?;
    if series.is_empty() {
        return None;
    }
    if stamp.len() == 8 {
        let date = NaiveDate::parse_from_str(stamp, "%Y%m%d").ok()?;
        return Some((series.to_owned(), When::AllDay(date)));
    }
    let naive = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").ok()?;
    Some((
        series.to_owned(),
        When::Timed {
            at: Utc.from_utc_datetime(&naive),
            zone: None,
        },
    ))
}

/// The error for an expansion that ran out of its budget.
fn too_costly(why: budget::Exhausted) -> CalendarError {
    match why {
        budget::Exhausted::Visits => CalendarError::invalid(
            "timeMin",
            format!(
                "a recurring event would need more than {} occurrences expanded to reach this window; read a window nearer its start, or end the series and start a new one",
                budget::MAX_VISITED
            ),
        ),
        budget::Exhausted::Time => CalendarError::Unavailable(format!(
            "the calendar did not finish within {} s (expanding recurring events); nothing was changed, try a narrower window",
            budget::CALL_TIME.as_secs()
        )),
    }
}

#[cfg(test)]
mod bounds_tests;
pub mod budget;
mod jump;
#[cfg(test)]
mod tests;
