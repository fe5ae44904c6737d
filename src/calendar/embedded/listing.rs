//! Reading windows of events: one-off events and edited instances straight
//! from their rows, series expanded by their rule, then text filter and paging.
//! Memory is bounded by the page, not by the calendar: one-off rows are read
//! in start order and decoded one at a time until the page is full, and each
//! series keeps only the occurrences that could still make the page.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, params};
use serde_json::value::RawValue;

use crate::calendar::edits::{Stored, materialise};
use crate::calendar::embedded::lookup::calendar_zone;
use crate::calendar::embedded::rows::{body_text, decode_column};
use crate::calendar::embedded::{body_format, db_error};
use crate::calendar::listed::ListedEvent;
use crate::calendar::paging::{
    Position, decode_cursor, encode_cursor, is_after, matches_text, position,
};
use crate::calendar::slots::{Interval, merge};
use crate::calendar::{BusyMap, CalendarError, EventPage, EventQuery};

/// The ids and original starts of the series instances edited into rows of
/// their own: their occurrences are not expanded again.
fn edited_instances(
    conn: &Connection,
    calendar_id: &str,
) -> Result<HashSet<(String, i64)>, CalendarError> {
    let mut stmt = conn
        .prepare_cached("SELECT series_id, original_start FROM events WHERE calendar_id = ?1 AND series_id IS NOT NULL")
        .map_err(db_error)?;
    let rows = stmt
        .query_map(params![calendar_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_error)?;
    rows.collect::<Result<_, _>>().map_err(db_error)
}

/// The series masters of a calendar (through `events_series_masters`).
const SERIES_MASTERS: &str =
    "SELECT body FROM events WHERE calendar_id = ?1 AND is_series = 1 AND status = 'confirmed'";

/// Calls `each` on every series master of the calendar, decoded.
fn each_series(
    conn: &Connection,
    calendar_id: &str,
    zone: Tz,
    mut each: impl FnMut(Stored) -> Result<(), CalendarError>,
) -> Result<(), CalendarError> {
    let mut stmt = conn.prepare_cached(SERIES_MASTERS).map_err(db_error)?;
    let mut rows = stmt.query(params![calendar_id]).map_err(db_error)?;
    while let Some(row) = rows.next().map_err(db_error)? {
        each(Stored::read_back(decode_column(row)?, zone)?)?;
    }
    Ok(())
}

/// The first `limit` series occurrences overlapping `[min, max)` after
/// `after` whose series matches `text`, in order, edited instances left out.
fn first_occurrences(
    conn: &Connection,
    calendar_id: &str,
    zone: Tz,
    query: &EventQuery,
    after: Option<&Position>,
    limit: usize,
) -> Result<Vec<Stored>, CalendarError> {
    let edited = edited_instances(conn, calendar_id)?;
    let mut kept: Vec<Stored> = Vec::new();
    each_series(conn, calendar_id, zone, |master| {
        let Some(series) = &master.series else {
            return Ok(());
        };
        // An instance carries its master's text: one test for the series.
        if query
            .text
            .as_deref()
            .is_some_and(|t| !matches_text(&master.event, t))
        {
            return Ok(());
        }
        for occurrence in series.occurrences(query.time_min, query.time_max)? {
            let key = (
                master.event.id.clone(),
                occurrence.start.instant(master.zone).timestamp(),
            );
            if edited.contains(&key) {
                continue;
            }
            let instance = materialise(&master, occurrence.start);
            if after.is_none_or(|cursor| is_after(&instance, cursor)) {
                kept.push(instance);
            }
        }
        kept.sort_by(|a, b| position(a).cmp(&position(b)));
        kept.truncate(limit);
        Ok(())
    })?;
    Ok(kept)
}

/// One event of a page being gathered.
enum Entry {
    /// A series occurrence, or a row read through the decoder (boxed: a
    /// page of text entries stays small).
    Decoded(Box<Stored>),
    /// A one-off row in normal form, passed on as its text, with where it
    /// sorts from its indexed columns (the start `save` derived from it).
    Normal {
        start: i64,
        id: String,
        text: Box<RawValue>,
    },
}

impl Entry {
    /// Where the entry sorts ([`position`]).
    fn position(&self) -> (i64, &str) {
        match self {
            Entry::Decoded(stored) => position(stored),
            Entry::Normal { start, id, .. } => (*start, id),
        }
    }

    fn listed(self) -> ListedEvent {
        match self {
            Entry::Decoded(stored) => ListedEvent::from(stored.event),
            Entry::Normal { text, .. } => ListedEvent::Normal(text),
        }
    }
}

/// The one-off rows of a window after a cursor, in page order (through
/// `events_in_order`: no sort).
const ONE_OFFS_IN_ORDER: &str = "SELECT body, start_utc, id, body_format FROM events
     WHERE calendar_id = ?1 AND is_series = 0 AND status = 'confirmed'
     AND start_utc < ?2 AND end_utc > ?3 AND (start_utc, id) > (?4, ?5)
     ORDER BY start_utc, id";

/// Calls `each` on the one-off events and edited instances overlapping
/// `[min, max)` after `after`, in start order, one row at a time, until it
/// returns false. Rows in the current body format come as their text unless
/// `decode_all` (a text filter reads the fields).
fn each_one_off(
    conn: &Connection,
    calendar_id: &str,
    zone: Tz,
    (min, max): (DateTime<Utc>, DateTime<Utc>),
    after: Option<&Position>,
    decode_all: bool,
    mut each: impl FnMut(Entry) -> bool,
) -> Result<(), CalendarError> {
    let (at, id) = after.cloned().unwrap_or((i64::MIN, String::new()));
    let mut stmt = conn.prepare_cached(ONE_OFFS_IN_ORDER).map_err(db_error)?;
    let mut rows = stmt
        .query(params![
            calendar_id,
            max.timestamp(),
            min.timestamp(),
            at,
            id
        ])
        .map_err(db_error)?;
    let current = body_format::current();
    while let Some(row) = rows.next().map_err(db_error)? {
        let normal = !decode_all
            && row.get_ref(3).map_err(db_error)?.as_str_or_null().ok() == Some(Some(current));
        let entry = if normal {
            Entry::Normal {
                start: row.get(1).map_err(db_error)?,
                id: row.get(2).map_err(db_error)?,
                text: raw_column(row)?,
            }
        } else {
            Entry::Decoded(Box::new(Stored::read_back(decode_column(row)?, zone)?))
        };
        if !each(entry) {
            break;
        }
    }
    Ok(())
}

/// The body in the first column of `row` as JSON text, checked to be JSON
/// (the store is a file: what it holds is read with care).
fn raw_column(row: &rusqlite::Row<'_>) -> Result<Box<RawValue>, CalendarError> {
    RawValue::from_string(body_text(row)?.to_owned())
        .map_err(|e| CalendarError::Backend(format!("corrupt stored event: {e}")))
}

/// One page of a window, optionally filtered by text: the series
/// occurrences that could make the page, merged in order with the one-off
/// rows as they are read, until the page and one more are found.
pub fn list(
    conn: &Connection,
    calendar_id: &str,
    query: &EventQuery,
) -> Result<EventPage, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    let after = query.page_token.as_deref().map(decode_cursor).transpose()?;
    // One more than the page: whether there is a next page.
    let wanted = query.max_results.saturating_add(1);
    let mut occurrences =
        first_occurrences(conn, calendar_id, zone, query, after.as_ref(), wanted)?.into_iter();
    let mut next_occurrence = occurrences.next();
    // Room for a usual page up front: a row is large, and growing by
    // doubling copied the page seven times for a week of 168 events.
    let mut page: Vec<Entry> = Vec::with_capacity(wanted.min(256));
    each_one_off(
        conn,
        calendar_id,
        zone,
        (query.time_min, query.time_max),
        after.as_ref(),
        query.text.is_some(),
        |one_off| {
            if let (Some(text), Entry::Decoded(stored)) = (&query.text, &one_off)
                && !matches_text(&stored.event, text)
            {
                return true;
            }
            while page.len() < wanted
                && next_occurrence
                    .as_ref()
                    .is_some_and(|o| position(o) < one_off.position())
            {
                page.extend(next_occurrence.take().map(|o| Entry::Decoded(Box::new(o))));
                next_occurrence = occurrences.next();
            }
            if page.len() < wanted {
                page.push(one_off);
            }
            page.len() < wanted
        },
    )?;
    while page.len() < wanted
        && let Some(occurrence) = next_occurrence.take()
    {
        page.push(Entry::Decoded(Box::new(occurrence)));
        next_occurrence = occurrences.next();
    }
    let more = page.len() > query.max_results;
    page.truncate(query.max_results);
    let next_page_token = if more {
        page.last().map(|last| encode_cursor(last.position()))
    } else {
        None
    };
    Ok(EventPage {
        items: page.into_iter().map(Entry::listed).collect(),
        next_page_token,
    })
}

/// Merged busy intervals of each calendar inside `[min, max)`: one-off rows
/// by their indexed times (no body decoded), series by expansion.
pub fn busy(
    conn: &Connection,
    calendar_ids: &[String],
    min: DateTime<Utc>,
    max: DateTime<Utc>,
) -> Result<BusyMap, CalendarError> {
    let mut map = BusyMap::new();
    for id in calendar_ids {
        let zone = calendar_zone(conn, id)?;
        let mut intervals = one_off_times(conn, id, min, max)?;
        let edited = edited_instances(conn, id)?;
        each_series(conn, id, zone, |master| {
            let Some(series) = &master.series else {
                return Ok(());
            };
            for occurrence in series.occurrences(min, max)? {
                let start = occurrence.start.instant(master.zone);
                if !edited.contains(&(master.event.id.clone(), start.timestamp())) {
                    intervals.push((start.max(min), occurrence.end.instant(master.zone).min(max)));
                }
            }
            Ok(())
        })?;
        map.insert(id.clone(), merge(intervals));
    }
    Ok(map)
}

/// The times of the one-off events and edited instances overlapping `[min, max)`, clipped to it.
fn one_off_times(
    conn: &Connection,
    calendar_id: &str,
    min: DateTime<Utc>,
    max: DateTime<Utc>,
) -> Result<Vec<Interval>, CalendarError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT start_utc, end_utc FROM events WHERE calendar_id = ?1 AND is_series = 0 AND status = 'confirmed'
             AND start_utc < ?2 AND end_utc > ?3",
        )
        .map_err(db_error)?;
    let rows = stmt
        .query_map(
            params![calendar_id, max.timestamp(), min.timestamp()],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .map_err(db_error)?;
    let at = |seconds: i64| DateTime::from_timestamp(seconds, 0).unwrap_or(min);
    let mut times = Vec::new();
    for row in rows {
        let (start, end) = row.map_err(db_error)?;
        times.push((at(start).max(min), at(end).min(max)));
    }
    Ok(times)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rusqlite::StatementStatus;

    use super::{ONE_OFFS_IN_ORDER, SERIES_MASTERS};
    use crate::calendar::EventQuery;
    use crate::calendar::embedded::EmbeddedStore;

    fn plan(query: &str, parameters: usize) -> Vec<String> {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(crate::calendar::embedded::SCHEMA)
            .unwrap();
        crate::calendar::embedded::body_format::add_column(&mut conn).unwrap();
        conn.prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .unwrap()
            .query_map(rusqlite::params_from_iter(vec![0; parameters]), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Every listing runs this query: sorting its window copied every row,
    /// body included, into SQLite's sorter (bench/README.md).
    #[test]
    fn a_window_is_read_in_page_order_without_a_sort() {
        // The cursor as a row value: the index seeks to it, later pages too.
        assert_eq!(
            plan(ONE_OFFS_IN_ORDER, 5),
            [
                "SEARCH events USING INDEX events_in_order (calendar_id=? AND (start_utc,id)>(?,?) AND start_utc<?)"
            ]
        );
    }

    /// A cached statement is parsed and planned once per connection, however
    /// its values change (the listing's was planned again on every call:
    /// `open_connection`).
    #[test]
    fn the_listing_statements_are_planned_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(&dir.path().join("store.db"), "UTC", &[]).unwrap();
        let reader = store.readers[0].lock().unwrap();
        for day in 1..=3 {
            let query = EventQuery {
                time_min: Utc.with_ymd_and_hms(2030, 1, day, 0, 0, 0).unwrap(),
                time_max: Utc.with_ymd_and_hms(2030, 1, day + 7, 0, 0, 0).unwrap(),
                text: None,
                max_results: 50,
                page_token: None,
            };
            super::list(&reader, "primary", &query).unwrap();
        }
        for query in [ONE_OFFS_IN_ORDER, SERIES_MASTERS] {
            let statement = reader.prepare_cached(query).unwrap();
            assert_eq!(
                statement.get_status(StatementStatus::RePrepare),
                0,
                "{query}"
            );
            assert_eq!(statement.get_status(StatementStatus::Run), 3, "{query}");
        }
    }

    /// Every listing runs this query; through `events_by_series` it read
    /// every row of the calendar to find the few series (bench/README.md).
    #[test]
    fn the_series_masters_are_found_by_their_own_index() {
        assert_eq!(
            plan(SERIES_MASTERS, 1),
            ["SEARCH events USING INDEX events_series_masters (calendar_id=?)"]
        );
    }
}
