//! Finding what an event id points at: a one-off event, a whole series, or one
//! occurrence of a series (edited and stored, or only placed by the rule).

use chrono_tz::Tz;
use rusqlite::Connection;

use crate::calendar::CalendarError;
use crate::calendar::edits::plan::Addressed;
use crate::calendar::edits::{Stored, materialise};
use crate::calendar::embedded::load_calendar;
use crate::calendar::embedded::rows::load;
use crate::calendar::model::Event;
use crate::calendar::series::parse_instance_id;
use crate::calendar::time::{When, parse_zone, resolve};

/// What an event id points at: a one-off event, a series, or one occurrence.
pub type Target = Addressed<Stored, Occurrence>;

/// One occurrence of a series, edited (`edited`) or as the rule places it.
pub struct Occurrence {
    /// The series.
    pub master: Stored,
    /// Where the rule places the occurrence (its id's time).
    pub original: When,
    /// Its row, when it was edited or cancelled.
    pub edited: Option<Box<Stored>>,
}

/// The zone of a calendar, or not-found for an unknown id.
pub fn calendar_zone(conn: &Connection, calendar_id: &str) -> Result<Tz, CalendarError> {
    let calendar = load_calendar(conn, calendar_id)?;
    parse_zone("calendar.timeZone", &calendar.time_zone)
}

/// Resolves `id` in `calendar_id`; not-found when it names nothing live.
pub fn locate(
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
            return Ok(Addressed::Instance(Occurrence {
                master,
                original,
                edited: Some(edited),
            }));
        }
        let stored = Stored::analyse(event, zone)?;
        if stored.event.is_cancelled() {
            return Err(CalendarError::event_not_found(id));
        }
        return Ok(if stored.series.is_some() {
            Addressed::Series(stored)
        } else {
            Addressed::Single(stored)
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
    if master.event.is_cancelled() || !series.has_occurrence(&original)? {
        return Err(CalendarError::event_not_found(id));
    }
    let original = in_series_zone(original, &master);
    Ok(Addressed::Instance(Occurrence {
        master,
        original,
        edited: None,
    }))
}

fn in_series_zone(original: When, master: &Stored) -> When {
    match (original, master.start) {
        (When::Timed { at, .. }, When::Timed { zone, .. }) => When::Timed { at, zone },
        (other, _) => other,
    }
}

/// The instance as it stands now: its edited row, or as the rule places it.
pub fn current_instance(
    master: &Stored,
    original: When,
    edited: Option<Box<Stored>>,
    id: &str,
) -> Result<Stored, CalendarError> {
    match edited {
        Some(e) if e.event.is_cancelled() => Err(CalendarError::event_not_found(id)),
        Some(e) => Ok(*e),
        None => Ok(materialise(master, original)),
    }
}

/// Reads one event or instance.
pub fn get(conn: &Connection, calendar_id: &str, id: &str) -> Result<Event, CalendarError> {
    let zone = calendar_zone(conn, calendar_id)?;
    match locate(conn, calendar_id, id, zone)? {
        Addressed::Single(s) | Addressed::Series(s) => Ok(s.event),
        Addressed::Instance(Occurrence {
            master,
            original,
            edited,
        }) => Ok(current_instance(&master, original, edited, id)?.event),
    }
}
