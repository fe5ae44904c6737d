//! What both backends check and compute the same way before anything is
//! written: patch limits, time and recurrence analysis, what an edit or a
//! delete of "this / this and following / all" occurrences does
//! ([`plan::SeriesPlan`]), the times a whole series takes when one instance
//! moves, and RSVP answers. A Google write and
//! an embedded write refuse the same input with the same message.

pub mod creation;
pub mod plan;

use chrono::{Duration, Utc};
use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::model::{
    Attendee, Event, EventDateTime, EventPatch, Reminders, ResponseStatus, Rsvp,
};
use crate::calendar::series::{Series, instance_id, shift};
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
    /// Understands a stored or freshly patched event, and writes its times
    /// in their normal form (what is stored is what every later read returns).
    pub fn analyse(event: Event, calendar_zone: Tz) -> Result<Stored, CalendarError> {
        let mut stored = Stored::understand(event, calendar_zone)?;
        stored.event.start = render(&stored.start, stored.zone);
        stored.event.end = render(&stored.end, stored.zone);
        if let Some(series) = &stored.series {
            stored.event.recurrence = series.lines.clone();
        }
        Ok(stored)
    }

    /// Understands an event read back from the embedded store, which wrote
    /// it [`Stored::analyse`]d: its times are already in their normal form
    /// and are not written again here (the tools write every listed event's
    /// times once more, in the zone the caller asked for).
    pub fn read_back(event: Event, calendar_zone: Tz) -> Result<Stored, CalendarError> {
        Stored::understand(event, calendar_zone)
    }

    /// The event's times, zone and rule, checked.
    fn understand(event: Event, calendar_zone: Tz) -> Result<Stored, CalendarError> {
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
        Ok(Stored {
            event,
            start,
            end,
            zone,
            series,
        })
    }
}

impl Stored {
    /// Like [`Stored::analyse`], for an event about to be written: a series
    /// must also be one the calendar can serve ([`Series::check_servable`]).
    pub fn analyse_for_writing(event: Event, calendar_zone: Tz) -> Result<Stored, CalendarError> {
        let stored = Stored::analyse(event, calendar_zone)?;
        if let Some(series) = &stored.series {
            series.check_servable()?;
        }
        Ok(stored)
    }

    /// Whether the occurrence originally at `original` is this series' first
    /// (or earlier): "this and following" from there means the whole series.
    pub fn starts_at_or_after(&self, original: &When) -> bool {
        original.instant(self.zone) <= self.start.instant(self.zone)
    }

    /// The recurrence of a series master.
    pub fn rule(&self) -> Result<&Series, CalendarError> {
        self.series
            .as_ref()
            .ok_or_else(|| CalendarError::Backend(format!("series {} without rule", self.event.id)))
    }
}

/// Refuses a recurrence change aimed at one instance of a series.
pub fn check_instance_patch(patch: &EventPatch) -> Result<(), CalendarError> {
    if patch.recurrence.is_some() {
        return Err(CalendarError::invalid(
            "recurrence",
            "cannot be set on one instance; use scope `thisAndFollowing` or `all`",
        ));
    }
    Ok(())
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
        if ResponseStatus::parse(&a.response_status).is_none() {
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

/// A new event from a create request (`start` and `end` required), checked
/// as every stored event is; the id is fresh and lowercase hex, which Google
/// also accepts as a client-chosen id.
pub fn new_event(fields: EventPatch, calendar_zone: Tz) -> Result<Stored, CalendarError> {
    if fields.start.is_none() {
        return Err(CalendarError::invalid("start", "required"));
    }
    if fields.end.is_none() {
        return Err(CalendarError::invalid("end", "required"));
    }
    let mut event = Event {
        id: uuid::Uuid::new_v4().simple().to_string(),
        etag: String::new(),
        status: crate::calendar::model::CONFIRMED.to_owned(),
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
        created: format_utc(Utc::now()),
        updated: String::new(),
    };
    apply_patch(&mut event, fields)?;
    Stored::analyse_for_writing(event, calendar_zone)
}

/// `event` with `patch` applied, checked as a stored event would be.
pub fn patched(
    mut event: Event,
    patch: EventPatch,
    calendar_zone: Tz,
) -> Result<Stored, CalendarError> {
    apply_patch(&mut event, patch)?;
    Stored::analyse_for_writing(event, calendar_zone)
}

/// The instance of `master` originally at `original`, as the rule places it.
pub fn materialise(master: &Stored, original: When) -> Stored {
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

/// Rewrites `patch` so that moving the instance originally at `original` moves
/// the whole series by the same amount (one Tuesday an hour later: every
/// Tuesday an hour later). Returns whether the series' times change, in which
/// case edits tied to the old times no longer belong.
pub fn move_series_with_instance(
    master: &Stored,
    original: When,
    patch: &mut EventPatch,
) -> Result<bool, CalendarError> {
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
    Ok(delta != Duration::zero())
}

/// The attendee list after `email` answers `answer`; an unknown attendee is an error.
pub fn answer_invitation(
    mut attendees: Vec<Attendee>,
    email: &str,
    answer: Rsvp,
    comment: Option<String>,
) -> Result<Vec<Attendee>, CalendarError> {
    if comment.as_ref().is_some_and(|c| c.chars().count() > 1024) {
        return Err(CalendarError::invalid(
            "comment",
            "longer than 1024 characters",
        ));
    }
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
    Ok(attendees)
}
