//! Reading windows of events: one-off events and edited instances straight
//! from their rows, series expanded by their rule, then text filter and paging.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, params};

use crate::calendar::edits::{Stored, materialise};
use crate::calendar::embedded::db_error;
use crate::calendar::embedded::lookup::calendar_zone;
use crate::calendar::embedded::rows::decode;
use crate::calendar::model::Event;
use crate::calendar::slots::merge;
use crate::calendar::{BusyMap, CalendarError, EventPage, EventQuery};

/// Every confirmed event and instance overlapping `[min, max)`, in start order.
fn window(
    conn: &Connection,
    calendar_id: &str,
    zone: Tz,
    min: DateTime<Utc>,
    max: DateTime<Utc>,
) -> Result<Vec<Stored>, CalendarError> {
    let bodies = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<Vec<String>, CalendarError> {
        let mut stmt = conn.prepare(sql).map_err(db_error)?;
        let rows = stmt
            .query_map(args, |r| r.get::<_, String>(0))
            .map_err(db_error)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db_error)
    };
    let mut found = Vec::new();
    for body in bodies(
        "SELECT body FROM events WHERE calendar_id = ?1 AND is_series = 0 AND status = 'confirmed'
         AND start_utc < ?2 AND end_utc > ?3",
        &[&calendar_id, &max.timestamp(), &min.timestamp()],
    )? {
        found.push(Stored::analyse(decode(&body)?, zone)?);
    }
    let mut edited: HashSet<(String, i64)> = HashSet::new();
    let mut stmt = conn
        .prepare("SELECT series_id, original_start FROM events WHERE calendar_id = ?1 AND series_id IS NOT NULL")
        .map_err(db_error)?;
    for row in stmt
        .query_map(params![calendar_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_error)?
    {
        edited.insert(row.map_err(db_error)?);
    }
    for body in bodies(
        "SELECT body FROM events WHERE calendar_id = ?1 AND is_series = 1 AND status = 'confirmed'",
        &[&calendar_id],
    )? {
        let master = Stored::analyse(decode(&body)?, zone)?;
        let Some(series) = &master.series else {
            continue;
        };
        for occurrence in series.occurrences(min, max)? {
            let key = (
                master.event.id.clone(),
                occurrence.start.instant(master.zone).timestamp(),
            );
            if !edited.contains(&key) {
                found.push(materialise(&master, occurrence.start));
            }
        }
    }
    found.sort_by_key(|s| (s.start.instant(s.zone), s.event.id.clone()));
    Ok(found)
}

fn matches_text(event: &Event, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    [&event.summary, &event.description, &event.location]
        .into_iter()
        .flatten()
        .chain(event.attendees.iter().map(|a| &a.email))
        .chain(
            event
                .attendees
                .iter()
                .filter_map(|a| a.display_name.as_ref()),
        )
        .any(|text| text.to_lowercase().contains(&needle))
}

fn encode_cursor(stored: &Stored) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}:{}",
        stored.start.instant(stored.zone).timestamp(),
        stored.event.id
    ))
}

fn decode_cursor(token: &str) -> Result<(i64, String), CalendarError> {
    let bad = CalendarError::bad_page_token;
    let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

/// One page of a window, optionally filtered by text.
pub fn list(
    conn: &Connection,
    calendar_id: &str,
    query: &EventQuery,
) -> Result<EventPage, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    let after = query.page_token.as_deref().map(decode_cursor).transpose()?;
    let mut matching = window(conn, calendar_id, zone, query.time_min, query.time_max)?
        .into_iter()
        .filter(|s| {
            query
                .text
                .as_deref()
                .is_none_or(|t| matches_text(&s.event, t))
        })
        .filter(|s| {
            after.as_ref().is_none_or(|(at, id)| {
                (s.start.instant(s.zone).timestamp(), &s.event.id) > (*at, id)
            })
        });
    let mut items: Vec<Stored> = matching.by_ref().take(query.max_results).collect();
    let more = matching.next().is_some();
    let next_page_token = if more {
        items.last().map(encode_cursor)
    } else {
        None
    };
    Ok(EventPage {
        items: items.drain(..).map(|s| s.event).collect(),
        next_page_token,
    })
}

/// Merged busy intervals of each calendar inside `[min, max)`.
pub fn busy(
    conn: &Connection,
    calendar_ids: &[String],
    min: DateTime<Utc>,
    max: DateTime<Utc>,
) -> Result<BusyMap, CalendarError> {
    let mut map = BusyMap::new();
    for id in calendar_ids {
        let zone = calendar_zone(conn, id)?;
        let intervals = window(conn, id, zone, min, max)?
            .iter()
            .map(|s| {
                (
                    s.start.instant(s.zone).max(min),
                    s.end.instant(s.zone).min(max),
                )
            })
            .collect();
        map.insert(id.clone(), merge(intervals));
    }
    Ok(map)
}
