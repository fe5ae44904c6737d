//! Event operations of the embedded store, each run inside one transaction:
//! finding an event or instance, listing a window, and the three scopes of
//! series edits (this instance, this and following, all).

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, params};

use crate::calendar::embedded::rows::{
    Stored, apply_patch, decode, load, remove, remove_exceptions, save, touch,
};
use crate::calendar::embedded::{db_error, load_calendar};
use crate::calendar::model::{Event, EventDateTime, EventPatch, Rsvp, SeriesScope};
use crate::calendar::series::{instance_id, parse_instance_id, shift};
use crate::calendar::slots::merge;
use crate::calendar::time::{When, format_utc, parse_zone, render, resolve};
use crate::calendar::{BusyMap, CalendarError, EventPage, EventQuery};

/// What an event id points at.
enum Target {
    /// A one-off event.
    Single(Stored),
    /// A whole recurring series.
    Series(Stored),
    /// One occurrence of a series, edited (`edited`) or as the rule places it.
    Instance {
        master: Stored,
        original: When,
        edited: Option<Box<Stored>>,
    },
}

fn calendar_zone(conn: &Connection, calendar_id: &str) -> Result<Tz, CalendarError> {
    let calendar = load_calendar(conn, calendar_id)?;
    parse_zone("calendar.timeZone", &calendar.time_zone)
}

fn locate(
    conn: &Connection,
    calendar_id: &str,
    id: &str,
    zone: Tz,
) -> Result<Target, CalendarError> {
    if let Some(event) = load(conn, calendar_id, id)? {
        if let Some(series_id) = event.recurring_event_id.clone()
            && let Some(master) = load(conn, calendar_id, &series_id)?
        {
            let master = Stored::analyse(master, zone)?;
            let original = event
                .original_start_time
                .as_ref()
                .map(|o| resolve("originalStartTime", o))
                .transpose()?
                .ok_or_else(|| {
                    CalendarError::Backend(format!("instance {id} lacks originalStartTime"))
                })?;
            let edited = Box::new(Stored::analyse(event, zone)?);
            return Ok(Target::Instance {
                master,
                original,
                edited: Some(edited),
            });
        }
        let stored = Stored::analyse(event, zone)?;
        if stored.event.status == "cancelled" {
            return Err(CalendarError::event_not_found(id));
        }
        return Ok(if stored.series.is_some() {
            Target::Series(stored)
        } else {
            Target::Single(stored)
        });
    }
    let (series_id, original) =
        parse_instance_id(id).ok_or_else(|| CalendarError::event_not_found(id))?;
    let master =
        load(conn, calendar_id, &series_id)?.ok_or_else(|| CalendarError::event_not_found(id))?;
    let master = Stored::analyse(master, zone)?;
    let Some(series) = &master.series else {
        return Err(CalendarError::event_not_found(id));
    };
    if master.event.status == "cancelled" || !series.has_occurrence(&original)? {
        return Err(CalendarError::event_not_found(id));
    }
    let original = in_series_zone(original, &master);
    Ok(Target::Instance {
        master,
        original,
        edited: None,
    })
}

fn in_series_zone(original: When, master: &Stored) -> When {
    match (original, master.start) {
        (When::Timed { at, .. }, When::Timed { zone, .. }) => When::Timed { at, zone },
        (other, _) => other,
    }
}

/// The instance of `master` originally at `original`, as the rule places it.
fn materialise(master: &Stored, original: When) -> Stored {
    let length = master.end.instant(master.zone) - master.start.instant(master.zone);
    let end = shift(&original, length, master.zone);
    let mut event = master.event.clone();
    event.id = instance_id(&master.event.id, &original);
    event.recurrence = Vec::new();
    event.recurring_event_id = Some(master.event.id.clone());
    event.original_start_time = Some(render(&original, master.zone));
    event.start = render(&original, master.zone);
    event.end = render(&end, master.zone);
    Stored {
        event,
        start: original,
        end,
        zone: master.zone,
        series: None,
    }
}

fn current_instance(
    master: &Stored,
    original: When,
    edited: Option<Box<Stored>>,
    id: &str,
) -> Result<Stored, CalendarError> {
    match edited {
        Some(e) if e.event.status == "cancelled" => Err(CalendarError::event_not_found(id)),
        Some(e) => Ok(*e),
        None => Ok(materialise(master, original)),
    }
}

/// Reads one event or instance.
pub fn get(conn: &Connection, calendar_id: &str, id: &str) -> Result<Event, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    match locate(conn, calendar_id, id, zone)? {
        Target::Single(s) | Target::Series(s) => Ok(s.event),
        Target::Instance {
            master,
            original,
            edited,
        } => Ok(current_instance(&master, original, edited, id)?.event),
    }
}

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
    let bad = || {
        CalendarError::invalid(
            "pageToken",
            "not a token returned by a previous list_events call",
        )
    };
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

/// Creates an event; `start` and `end` are required.
pub fn create(
    conn: &Connection,
    calendar_id: &str,
    fields: EventPatch,
) -> Result<Event, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    if fields.start.is_none() {
        return Err(CalendarError::invalid("start", "required"));
    }
    if fields.end.is_none() {
        return Err(CalendarError::invalid("end", "required"));
    }
    let now = format_utc(Utc::now());
    let mut event = Event {
        id: uuid::Uuid::new_v4().simple().to_string(),
        etag: String::new(),
        status: "confirmed".into(),
        summary: None,
        description: None,
        location: None,
        start: EventDateTime::default(),
        end: EventDateTime::default(),
        recurrence: Vec::new(),
        recurring_event_id: None,
        original_start_time: None,
        attendees: Vec::new(),
        reminders: None,
        created: now,
        updated: String::new(),
    };
    apply_patch(&mut event, fields)?;
    touch(&mut event, Utc::now());
    let stored = Stored::analyse(event, zone)?;
    save(conn, calendar_id, &stored, None)?;
    Ok(stored.event)
}

fn scope_needs_instance(scope: SeriesScope) -> CalendarError {
    let name = match scope {
        SeriesScope::ThisInstance => "thisInstance",
        SeriesScope::ThisAndFollowing => "thisAndFollowing",
        SeriesScope::All => "all",
    };
    CalendarError::invalid(
        "scope",
        format!(
            "`{name}` needs an instance id (`<seriesId>_<start>`, as list_events returns); this id is the whole series"
        ),
    )
}

/// Patches an event, an instance, or part of a series.
pub fn update(
    conn: &Connection,
    calendar_id: &str,
    id: &str,
    patch: EventPatch,
    scope: Option<SeriesScope>,
) -> Result<Event, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    match locate(conn, calendar_id, id, zone)? {
        Target::Single(stored) => rewrite(conn, calendar_id, stored.event, patch, zone, None),
        Target::Series(stored) => match scope {
            None | Some(SeriesScope::All) => {
                rewrite(conn, calendar_id, stored.event, patch, zone, None)
            }
            Some(other) => Err(scope_needs_instance(other)),
        },
        Target::Instance {
            master,
            original,
            edited,
        } => match scope.unwrap_or(SeriesScope::ThisInstance) {
            SeriesScope::ThisInstance => {
                if patch.recurrence.is_some() {
                    return Err(CalendarError::invalid(
                        "recurrence",
                        "cannot be set on one instance; use scope `thisAndFollowing` or `all`",
                    ));
                }
                let base = current_instance(&master, original, edited, id)?;
                rewrite(conn, calendar_id, base.event, patch, zone, Some(&original))
            }
            SeriesScope::All => {
                update_whole_series(conn, calendar_id, master, original, patch, zone)
            }
            SeriesScope::ThisAndFollowing => {
                split(conn, calendar_id, master, original, patch, zone)
            }
        },
    }
}

fn rewrite(
    conn: &Connection,
    calendar_id: &str,
    mut event: Event,
    patch: EventPatch,
    zone: Tz,
    original: Option<&When>,
) -> Result<Event, CalendarError> {
    apply_patch(&mut event, patch)?;
    touch(&mut event, Utc::now());
    let stored = Stored::analyse(event, zone)?;
    save(conn, calendar_id, &stored, original)?;
    Ok(stored.event)
}

/// Applies an instance's new times to the whole series as a shift, so that
/// moving one Tuesday's meeting an hour moves every Tuesday's.
fn update_whole_series(
    conn: &Connection,
    calendar_id: &str,
    master: Stored,
    original: When,
    mut patch: EventPatch,
    zone: Tz,
) -> Result<Event, CalendarError> {
    let length = master.end.instant(master.zone) - master.start.instant(master.zone);
    let new_start = patch
        .start
        .as_ref()
        .map(|s| resolve("start", s))
        .transpose()?
        .unwrap_or(original);
    let new_end = match &patch.end {
        Some(e) => resolve("end", e)?,
        None => shift(&new_start, length, master.zone),
    };
    if new_start.is_all_day() != master.start.is_all_day() {
        return Err(CalendarError::invalid(
            "start",
            "cannot switch a whole series between all-day and timed from one instance",
        ));
    }
    let delta = new_start.instant(master.zone) - original.instant(master.zone);
    let series_start = shift(&master.start, delta, master.zone);
    let series_end = shift(
        &series_start,
        new_end.instant(master.zone) - new_start.instant(master.zone),
        master.zone,
    );
    if patch.start.is_some() || patch.end.is_some() {
        let render_zone = match new_start {
            When::Timed { zone: Some(z), .. } => z,
            _ => master.zone,
        };
        patch.start = Some(render(&series_start, render_zone));
        patch.end = Some(render(&series_end, render_zone));
    }
    if delta != Duration::zero() {
        // Edited instances were tied to the old times; they no longer belong.
        remove_exceptions(conn, calendar_id, &master.event.id, None)?;
    }
    rewrite(conn, calendar_id, master.event, patch, zone, None)
}

/// Ends the series before `original` and starts a new one there with `patch` applied.
fn split(
    conn: &Connection,
    calendar_id: &str,
    master: Stored,
    original: When,
    patch: EventPatch,
    zone: Tz,
) -> Result<Event, CalendarError> {
    if original.instant(master.zone) <= master.start.instant(master.zone) {
        return update_whole_series(conn, calendar_id, master, original, patch, zone);
    }
    let series = master
        .series
        .clone()
        .ok_or_else(|| CalendarError::Backend("series without rule".into()))?;
    let mut tail = materialise(&master, original).event;
    tail.id = uuid::Uuid::new_v4().simple().to_string();
    tail.recurring_event_id = None;
    tail.original_start_time = None;
    tail.recurrence = series.lines_from(&original)?;
    tail.created = format_utc(Utc::now());
    let mut head = master.event;
    head.recurrence = series.lines_ending_before(&original);
    touch(&mut head, Utc::now());
    save(
        conn,
        calendar_id,
        &Stored::analyse(head.clone(), zone)?,
        None,
    )?;
    remove_exceptions(
        conn,
        calendar_id,
        &head.id,
        Some(original.instant(master.zone).timestamp()),
    )?;
    rewrite(conn, calendar_id, tail, patch, zone, None)
}

/// Deletes an event, an instance, or part of a series.
pub fn delete(
    conn: &Connection,
    calendar_id: &str,
    id: &str,
    scope: Option<SeriesScope>,
) -> Result<(), CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    match locate(conn, calendar_id, id, zone)? {
        Target::Single(stored) => remove(conn, calendar_id, &stored.event.id),
        Target::Series(stored) => match scope {
            None | Some(SeriesScope::All) => delete_series(conn, calendar_id, &stored.event.id),
            Some(other) => Err(scope_needs_instance(other)),
        },
        Target::Instance {
            master,
            original,
            edited,
        } => match scope.unwrap_or(SeriesScope::ThisInstance) {
            SeriesScope::ThisInstance => {
                let mut instance = current_instance(&master, original, edited, id)?;
                instance.event.status = "cancelled".into();
                touch(&mut instance.event, Utc::now());
                save(conn, calendar_id, &instance, Some(&original))
            }
            SeriesScope::All => delete_series(conn, calendar_id, &master.event.id),
            SeriesScope::ThisAndFollowing => {
                if original.instant(master.zone) <= master.start.instant(master.zone) {
                    return delete_series(conn, calendar_id, &master.event.id);
                }
                let series = master
                    .series
                    .clone()
                    .ok_or_else(|| CalendarError::Backend("series without rule".into()))?;
                let mut head = master.event;
                head.recurrence = series.lines_ending_before(&original);
                touch(&mut head, Utc::now());
                save(
                    conn,
                    calendar_id,
                    &Stored::analyse(head.clone(), zone)?,
                    None,
                )?;
                remove_exceptions(
                    conn,
                    calendar_id,
                    &head.id,
                    Some(original.instant(master.zone).timestamp()),
                )
            }
        },
    }
}

fn delete_series(
    conn: &Connection,
    calendar_id: &str,
    series_id: &str,
) -> Result<(), CalendarError> {
    remove_exceptions(conn, calendar_id, series_id, None)?;
    remove(conn, calendar_id, series_id)
}

/// Records an attendee's answer on an event or one instance.
pub fn respond(
    conn: &Connection,
    calendar_id: &str,
    id: &str,
    email: &str,
    answer: Rsvp,
    comment: Option<String>,
) -> Result<Event, CalendarError> {
    if comment.as_ref().is_some_and(|c| c.chars().count() > 1024) {
        return Err(CalendarError::invalid(
            "comment",
            "longer than 1024 characters",
        ));
    }
    let mut attendees = get(conn, calendar_id, id)?.attendees;
    let attendee = attendees
        .iter_mut()
        .find(|a| a.email.eq_ignore_ascii_case(email))
        .ok_or_else(|| {
            CalendarError::invalid(
                "attendeeEmail",
                format!("`{email}` is not an attendee of this event"),
            )
        })?;
    attendee.response_status = answer.as_status().to_owned();
    attendee.comment = comment;
    let patch = EventPatch {
        attendees: Some(attendees),
        ..EventPatch::default()
    };
    update(conn, calendar_id, id, patch, None)
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
