//! How events sit in SQLite: one row per event, series master or edited
//! instance, with the indexed columns derived from the JSON body in one place.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension, params};

use crate::calendar::CalendarError;
use crate::calendar::embedded::db_error;
use crate::calendar::model::{Attendee, Event, EventPatch, Reminders};
use crate::calendar::series::Series;
use crate::calendar::time::{When, check_order, format_utc, render, resolve};

/// Longest accepted summary or location, in characters.
const MAX_SHORT_TEXT: usize = 1024;
/// Longest accepted description, in characters.
const MAX_DESCRIPTION: usize = 64 * 1024;
/// Most attendees on one event.
const MAX_ATTENDEES: usize = 500;

/// A stored event with its times understood.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The event as returned to clients.
    pub event: Event,
    /// Its start.
    pub start: When,
    /// Its end.
    pub end: When,
    /// The zone its times are rendered and repeated in.
    pub zone: Tz,
    /// Present for a series master.
    pub series: Option<Series>,
}

impl Stored {
    /// Understands a stored or freshly patched event; `field` prefixes errors.
    pub fn analyse(event: Event, calendar_zone: Tz) -> Result<Stored, CalendarError> {
        let start = resolve("start", &event.start)?;
        let end = resolve("end", &event.end)?;
        let zone = match start {
            When::Timed {
                zone: Some(zone), ..
            } => zone,
            _ => calendar_zone,
        };
        check_order(&start, &end, zone)?;
        let series = if event.recurrence.is_empty() {
            None
        } else {
            if event.recurring_event_id.is_some() {
                return Err(CalendarError::invalid(
                    "recurrence",
                    "an instance of a series cannot carry its own recurrence",
                ));
            }
            Some(Series::new(start, end, zone, &event.recurrence)?)
        };
        let mut event = event;
        // Normalise so that what is stored is what every later read returns.
        event.start = render(&start, zone);
        event.end = render(&end, zone);
        if let Some(series) = &series {
            event.recurrence = series.lines.clone();
        }
        Ok(Stored {
            event,
            start,
            end,
            zone,
            series,
        })
    }
}

/// Applies `patch` to `event` after checking each field's limits.
pub fn apply_patch(event: &mut Event, patch: EventPatch) -> Result<(), CalendarError> {
    if let Some(summary) = patch.summary {
        event.summary = Some(limited("summary", summary, MAX_SHORT_TEXT)?);
    }
    if let Some(description) = patch.description {
        event.description = Some(limited("description", description, MAX_DESCRIPTION)?);
    }
    if let Some(location) = patch.location {
        event.location = Some(limited("location", location, MAX_SHORT_TEXT)?);
    }
    if let Some(start) = patch.start {
        event.start = start;
    }
    if let Some(end) = patch.end {
        event.end = end;
    }
    if let Some(attendees) = patch.attendees {
        event.attendees = check_attendees(attendees)?;
    }
    if let Some(reminders) = patch.reminders {
        event.reminders = Some(check_reminders(reminders)?);
    }
    if let Some(recurrence) = patch.recurrence {
        event.recurrence = recurrence;
    }
    Ok(())
}

fn limited(field: &str, value: String, max: usize) -> Result<String, CalendarError> {
    if value.chars().count() > max {
        return Err(CalendarError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    Ok(value)
}

fn check_attendees(attendees: Vec<Attendee>) -> Result<Vec<Attendee>, CalendarError> {
    if attendees.len() > MAX_ATTENDEES {
        return Err(CalendarError::invalid(
            "attendees",
            format!("more than {MAX_ATTENDEES} attendees"),
        ));
    }
    for (i, a) in attendees.iter().enumerate() {
        let valid = a.email.len() <= 320
            && a.email
                .split_once('@')
                .is_some_and(|(user, host)| !user.is_empty() && !host.is_empty())
            && !a.email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(CalendarError::invalid(
                &format!("attendees[{i}].email"),
                format!("`{}` is not an email address", a.email),
            ));
        }
        if !matches!(
            a.response_status.as_str(),
            "needsAction" | "accepted" | "declined" | "tentative"
        ) {
            return Err(CalendarError::invalid(
                &format!("attendees[{i}].responseStatus"),
                "must be needsAction, accepted, declined or tentative",
            ));
        }
    }
    Ok(attendees)
}

fn check_reminders(reminders: Reminders) -> Result<Reminders, CalendarError> {
    for (i, r) in reminders.overrides.iter().enumerate() {
        if r.method != "email" && r.method != "popup" {
            return Err(CalendarError::invalid(
                &format!("reminders.overrides[{i}].method"),
                "must be `email` or `popup`",
            ));
        }
        if r.minutes > 40_320 {
            return Err(CalendarError::invalid(
                &format!("reminders.overrides[{i}].minutes"),
                "at most 40320 (four weeks)",
            ));
        }
    }
    Ok(reminders)
}

/// A fresh etag: clients compare them to notice concurrent changes.
pub fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4().simple())
}

/// Stamps `updated` and a new etag.
pub fn touch(event: &mut Event, now: DateTime<Utc>) {
    event.updated = format_utc(now);
    event.etag = new_etag();
}

/// Reads one row's event, whatever its status.
pub fn load(
    conn: &Connection,
    calendar_id: &str,
    id: &str,
) -> Result<Option<Event>, CalendarError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM events WHERE calendar_id = ?1 AND id = ?2",
            params![calendar_id, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    body.map(|b| decode(&b)).transpose()
}

/// Decodes a stored body.
pub fn decode(body: &str) -> Result<Event, CalendarError> {
    serde_json::from_str(body)
        .map_err(|e| CalendarError::Backend(format!("corrupt stored event: {e}")))
}

/// Inserts or replaces the row for `stored`, deriving every indexed column from it.
pub fn save(
    conn: &Connection,
    calendar_id: &str,
    stored: &Stored,
    original_start: Option<&When>,
) -> Result<(), CalendarError> {
    let body =
        serde_json::to_string(&stored.event).map_err(|e| CalendarError::Backend(e.to_string()))?;
    let (start, end) = match &stored.series {
        // A series row is found through expansion, never by its own window.
        Some(_) => (i64::MIN, i64::MAX),
        None => (
            stored.start.instant(stored.zone).timestamp(),
            stored.end.instant(stored.zone).timestamp(),
        ),
    };
    conn.execute(
        "INSERT OR REPLACE INTO events
         (calendar_id, id, series_id, original_start, is_series, start_utc, end_utc, status, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            calendar_id,
            stored.event.id,
            stored.event.recurring_event_id,
            original_start.map(|w| w.instant(stored.zone).timestamp()),
            stored.series.is_some(),
            start,
            end,
            stored.event.status,
            body
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Deletes one row.
pub fn remove(conn: &Connection, calendar_id: &str, id: &str) -> Result<(), CalendarError> {
    conn.execute(
        "DELETE FROM events WHERE calendar_id = ?1 AND id = ?2",
        params![calendar_id, id],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Deletes a series' edited instances from `from` on (all of them when `None`).
pub fn remove_exceptions(
    conn: &Connection,
    calendar_id: &str,
    series_id: &str,
    from: Option<i64>,
) -> Result<(), CalendarError> {
    conn.execute(
        "DELETE FROM events WHERE calendar_id = ?1 AND series_id = ?2 AND original_start >= ?3",
        params![calendar_id, series_id, from.unwrap_or(i64::MIN)],
    )
    .map_err(db_error)?;
    Ok(())
}
