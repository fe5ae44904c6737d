//! How events sit in SQLite: one row per event, series master or edited
//! instance, with the indexed columns derived from the JSON body in one place.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::calendar::CalendarError;
use crate::calendar::edits::Stored;
use crate::calendar::embedded::{body_format, db_error};
use crate::calendar::listed::{decode_stored, normal_text};
use crate::calendar::model::Event;
use crate::calendar::time::{When, format_utc};

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
    conn.prepare_cached("SELECT body FROM events WHERE calendar_id = ?1 AND id = ?2")
        .map_err(db_error)?
        .query_row(params![calendar_id, id], |row| Ok(decode_column(row)))
        .optional()
        .map_err(db_error)?
        .transpose()
}

/// The body in the first column of `row`, borrowed (a listing reads one
/// per event: no copy of the text first).
pub fn body_text<'row>(row: &'row rusqlite::Row<'_>) -> Result<&'row str, CalendarError> {
    row.get_ref(0)
        .map_err(db_error)?
        .as_str()
        .map_err(|e| CalendarError::Backend(format!("corrupt stored event: {e}")))
}

/// Decodes the body in the first column of `row`, read in place.
pub fn decode_column(row: &rusqlite::Row<'_>) -> Result<Event, CalendarError> {
    decode_stored(body_text(row)?)
}

/// Inserts or replaces the row for `stored`, deriving every indexed column from it.
pub fn save(
    conn: &Connection,
    calendar_id: &str,
    stored: &Stored,
    original_start: Option<&When>,
) -> Result<(), CalendarError> {
    // Normal form (calendar::listed): what a listing passes on as it is.
    // An analysed event is in it already; writing it once more makes sure.
    let body = normal_text(stored.event.clone(), stored.zone)
        .map_err(|e| CalendarError::Backend(e.to_string()))?;
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
         (calendar_id, id, series_id, original_start, is_series, start_utc, end_utc, status, body, body_format)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            calendar_id,
            stored.event.id,
            stored.event.recurring_event_id,
            original_start.map(|w| w.instant(stored.zone).timestamp()),
            stored.series.is_some(),
            start,
            end,
            stored.event.status,
            body,
            body_format::current()
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
