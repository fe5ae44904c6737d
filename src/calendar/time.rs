//! Parsing and rendering of times: every bad input is rejected here with an
//! error that names the field, so no backend ever sees an ambiguous time.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::model::EventDateTime;

/// A start or end once validated: a UTC instant (with the zone it was written in)
/// or an all-day date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A timed start or end, with the zone the event repeats in.
    Timed {
        /// The instant.
        at: DateTime<Utc>,
        /// The zone given with it, if any.
        zone: Option<Tz>,
    },
    /// An all-day date (an end date is exclusive).
    AllDay(NaiveDate),
}

impl When {
    /// The instant this starts or ends at, placing all-day dates at midnight in `zone`.
    pub fn instant(&self, zone: Tz) -> DateTime<Utc> {
        match self {
            When::Timed { at, .. } => *at,
            When::AllDay(date) => midnight(*date, zone),
        }
    }

    /// Whether this is an all-day date.
    pub fn is_all_day(&self) -> bool {
        matches!(self, When::AllDay(_))
    }
}

/// The first instant of `date` in `zone` (the earliest one across a DST change).
pub fn midnight(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    local_to_utc(naive, zone).unwrap_or_else(|| {
        // Some zones skip midnight on DST day: the day then starts one hour later.
        local_to_utc(naive + Duration::hours(1), zone)
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
    })
}

fn local_to_utc(naive: NaiveDateTime, zone: Tz) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earliest, _) => Some(earliest.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

/// Parses an IANA zone name; `field` names the argument in the error.
pub fn parse_zone(field: &str, name: &str) -> Result<Tz, CalendarError> {
    name.parse::<Tz>().map_err(|_| {
        CalendarError::invalid(
            field,
            format!("unknown time zone `{name}` (use an IANA name such as `Europe/Berlin`)"),
        )
    })
}

/// Parses an RFC 3339 instant such as `2026-03-02T09:00:00Z`.
pub fn parse_instant(field: &str, value: &str) -> Result<DateTime<Utc>, CalendarError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            CalendarError::invalid(
                field,
                format!("`{value}` is not an RFC 3339 date-time with offset ({e})"),
            )
        })
}

/// Parses an all-day date `YYYY-MM-DD`.
pub fn parse_date(field: &str, value: &str) -> Result<NaiveDate, CalendarError> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|e| {
        CalendarError::invalid(field, format!("`{value}` is not a date YYYY-MM-DD ({e})"))
    })
}

/// Validates a start or end as sent by a client.
pub fn resolve(field: &str, value: &EventDateTime) -> Result<When, CalendarError> {
    // The dotted field names are written only for an error: every event
    // listed passes here twice on the way in and twice on the way out.
    let zone = match value.time_zone.as_deref() {
        Some(name) => Some(
            name.parse::<Tz>()
                .or_else(|_| parse_zone(&format!("{field}.timeZone"), name))?,
        ),
        None => None,
    };
    match (&value.date_time, &value.date) {
        (Some(_), Some(_)) => Err(CalendarError::invalid(
            field,
            "give either `dateTime` or `date`, not both",
        )),
        (None, None) => Err(CalendarError::invalid(
            field,
            "needs `dateTime` (timed) or `date` (all-day)",
        )),
        (None, Some(date)) => Ok(When::AllDay(parse_date(&format!("{field}.date"), date)?)),
        (Some(text), None) => {
            if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                return Ok(When::Timed {
                    at: at.with_timezone(&Utc),
                    zone,
                });
            }
            let dt_field = format!("{field}.dateTime");
            let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").map_err(|_| {
                CalendarError::invalid(&dt_field, format!("`{text}` is not an RFC 3339 date-time"))
            })?;
            let Some(zone) = zone else {
                return Err(CalendarError::invalid(
                    &dt_field,
                    format!("`{text}` has no UTC offset; add one or set `{field}.timeZone`"),
                ));
            };
            let at = local_to_utc(naive, zone).ok_or_else(|| {
                CalendarError::invalid(
                    &dt_field,
                    format!("`{text}` does not exist in {zone} (skipped by a DST change)"),
                )
            })?;
            Ok(When::Timed {
                at,
                zone: Some(zone),
            })
        }
    }
}

/// A start or end as the tools write it. As in Google Calendar, `timeZone`
/// stays the value's own zone (the zone given is the zone returned);
/// `dateTime` is written in `zone` when `forced` (the caller asked for a
/// zone), else in the value's own zone, else in `zone`. A value that does
/// not parse is written as it is.
pub fn written_in(value: &EventDateTime, zone: Tz, forced: bool) -> EventDateTime {
    let Ok(when) = resolve("time", value) else {
        return value.clone();
    };
    let own = match &when {
        When::Timed { zone, .. } => *zone,
        When::AllDay(_) => None,
    };
    let write_in = match (forced, own) {
        (false, Some(own)) => own,
        _ => zone,
    };
    let mut rendered = render(&when, write_in);
    if let (Some(own), Some(_)) = (own, &rendered.date_time) {
        rendered.time_zone = Some(own.name().to_owned());
    }
    rendered
}

/// Renders a start or end for output in `zone`.
pub fn render(when: &When, zone: Tz) -> EventDateTime {
    match when {
        When::Timed { at, .. } => EventDateTime {
            date_time: Some(format_in(*at, zone)),
            date: None,
            time_zone: Some(zone.name().to_owned()),
        },
        When::AllDay(date) => EventDateTime {
            date_time: None,
            date: Some(date.format("%Y-%m-%d").to_string()),
            time_zone: None,
        },
    }
}

/// RFC 3339 text of `at` in `zone`, with seconds and the zone's offset.
pub fn format_in(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// RFC 3339 UTC text with milliseconds, for `created` / `updated` stamps.
pub fn format_utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Checks that `end` is after `start`, naming `end` when it is not.
pub fn check_order(start: &When, end: &When, zone: Tz) -> Result<(), CalendarError> {
    if start.is_all_day() != end.is_all_day() {
        return Err(CalendarError::invalid(
            "end",
            "must be all-day (`date`) when start is, and timed when start is",
        ));
    }
    if end.instant(zone) <= start.instant(zone) {
        return Err(CalendarError::invalid(
            "end",
            "must be after start (an all-day end date is exclusive)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{EventDateTime, Tz, parse_instant, parse_zone, resolve};

    #[test]
    fn local_time_without_zone_is_refused_with_the_field_name() {
        let err = resolve(
            "start",
            &EventDateTime {
                date_time: Some("2026-03-02T09:00:00".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("start.dateTime"), "{err}");
    }

    #[test]
    fn local_time_in_a_dst_gap_is_refused() {
        let err = resolve(
            "start",
            &EventDateTime {
                date_time: Some("2026-03-29T02:30:00".into()),
                time_zone: Some("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[test]
    fn local_time_with_zone_resolves_to_the_right_instant() {
        let when = resolve(
            "start",
            &EventDateTime {
                date_time: Some("2026-07-01T09:00:00".into()),
                time_zone: Some("Europe/Berlin".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            when.instant(Tz::UTC),
            parse_instant("x", "2026-07-01T07:00:00Z").unwrap()
        );
    }

    #[test]
    fn unknown_zone_names_the_field() {
        let err = parse_zone("timeZone", "Mars/Olympus").unwrap_err();
        assert_eq!(
            err.to_string(),
            "timeZone: unknown time zone `Mars/Olympus` (use an IANA name such as `Europe/Berlin`)"
        );
    }
}
