//! Writing events: create, patch and delete, including the three scopes of a
//! series edit (this instance, this and following, all) and RSVPs.

use chrono::Utc;
use chrono_tz::Tz;
use rusqlite::Connection;

use crate::calendar::CalendarError;
use crate::calendar::edits::creation::{CreationId, answer_repeat};
use crate::calendar::edits::plan::SeriesPlan;
use crate::calendar::edits::{
    Stored, answer_invitation, apply_patch, check_instance_patch, materialise,
    move_series_with_instance, new_event,
};
use crate::calendar::embedded::lookup::{Occurrence, calendar_zone, current_instance, get, locate};
use crate::calendar::embedded::rows::{load, remove, remove_exceptions, save, touch};
use crate::calendar::model::{Event, EventPatch, Rsvp, SeriesScope};
use crate::calendar::time::{When, format_utc};

/// Creates an event; `start` and `end` are required. With a `creation`
/// id, the row key is that id: a repeat finds the first row (in the same
/// write transaction, so two repeats cannot both insert).
pub fn create(
    conn: &Connection,
    calendar_id: &str,
    fields: EventPatch,
    creation: Option<&CreationId>,
) -> Result<Event, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    let mut stored = new_event(fields, zone)?;
    if let Some(creation) = creation {
        stored.event.id = creation.as_str().to_owned();
        if let Some(existing) = load(conn, calendar_id, creation.as_str())? {
            return answer_repeat(existing, &stored);
        }
    }
    touch(&mut stored.event, Utc::now());
    save(conn, calendar_id, &stored, None)?;
    Ok(stored.event)
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
    match locate(conn, calendar_id, id, zone)?.plan(scope)? {
        SeriesPlan::Single(stored) | SeriesPlan::Series(stored) => {
            rewrite(conn, calendar_id, stored.event, patch, zone, None)
        }
        SeriesPlan::Instance(Occurrence {
            master,
            original,
            edited,
        }) => {
            check_instance_patch(&patch)?;
            let base = current_instance(&master, original, edited, id)?;
            rewrite(conn, calendar_id, base.event, patch, zone, Some(&original))
        }
        SeriesPlan::SeriesOf(occurrence) => update_whole_series(
            conn,
            calendar_id,
            occurrence.master,
            occurrence.original,
            patch,
            zone,
        ),
        SeriesPlan::Following(occurrence) => split(
            conn,
            calendar_id,
            occurrence.master,
            occurrence.original,
            patch,
            zone,
        ),
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
    let stored = Stored::analyse_for_writing(event, zone)?;
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
    let moved = move_series_with_instance(&master, original, &mut patch)?;
    if moved {
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
    if master.starts_at_or_after(&original) {
        return update_whole_series(conn, calendar_id, master, original, patch, zone);
    }
    let series = master.rule()?.clone();
    let mut tail = materialise(&master, original).event;
    tail.id = uuid::Uuid::new_v4().simple().to_string();
    tail.recurring_event_id = None;
    tail.original_start_time = None;
    tail.recurrence = series.lines_from(&original)?;
    tail.created = format_utc(Utc::now());
    end_series_before(conn, calendar_id, master, &original, zone)?;
    rewrite(conn, calendar_id, tail, patch, zone, None)
}

/// Ends a series just before `original` (its instance edits from there on go too).
fn end_series_before(
    conn: &Connection,
    calendar_id: &str,
    master: Stored,
    original: &When,
    zone: Tz,
) -> Result<(), CalendarError> {
    let series = master.rule()?.clone();
    let cut = original.instant(master.zone).timestamp();
    let mut head = master.event;
    head.recurrence = series.lines_ending_before(original);
    touch(&mut head, Utc::now());
    save(
        conn,
        calendar_id,
        &Stored::analyse(head.clone(), zone)?,
        None,
    )?;
    remove_exceptions(conn, calendar_id, &head.id, Some(cut))
}

/// Deletes an event, an instance, or part of a series.
pub fn delete(
    conn: &Connection,
    calendar_id: &str,
    id: &str,
    scope: Option<SeriesScope>,
) -> Result<(), CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    match locate(conn, calendar_id, id, zone)?.plan(scope)? {
        SeriesPlan::Single(stored) => remove(conn, calendar_id, &stored.event.id),
        SeriesPlan::Series(stored) => delete_series(conn, calendar_id, &stored.event.id),
        SeriesPlan::Instance(Occurrence {
            master,
            original,
            edited,
        }) => {
            let mut instance = current_instance(&master, original, edited, id)?;
            instance.event.cancel();
            touch(&mut instance.event, Utc::now());
            save(conn, calendar_id, &instance, Some(&original))
        }
        SeriesPlan::SeriesOf(occurrence) => {
            delete_series(conn, calendar_id, &occurrence.master.event.id)
        }
        SeriesPlan::Following(Occurrence {
            master, original, ..
        }) => {
            if master.starts_at_or_after(&original) {
                return delete_series(conn, calendar_id, &master.event.id);
            }
            end_series_before(conn, calendar_id, master, &original, zone)
        }
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
    let attendees = answer_invitation(
        get(conn, calendar_id, id)?.attendees,
        email,
        answer,
        comment,
    )?;
    let patch = EventPatch {
        attendees: Some(attendees),
        ..EventPatch::default()
    };
    update(conn, calendar_id, id, patch, None)
}
