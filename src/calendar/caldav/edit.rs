//! An update written into an existing calendar object resource: only the
//! properties the patch sets are rewritten, in the `VEVENT` it addresses (the
//! series, or one occurrence's override); alarms, attendees' own parameters,
//! `X-` properties and components other clients wrote stay byte for byte.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::caldav::compose::{
    alarm_lines, attendee_line, stamp_line, text_line, text_lines, when_line,
};
use crate::calendar::caldav::content::{Component, Content, content_line, escape_text};
use crate::calendar::caldav::ical::{read_prop, read_when};
use crate::calendar::caldav::vevent::attendee;
use crate::calendar::edits::Stored;
use crate::calendar::model::{Attendee, EventPatch};
use crate::calendar::time::When;

/// Which `VEVENT` of an object an edit addresses.
#[derive(Debug, Clone, Copy)]
pub enum Addressed {
    /// The series, or the one-off event.
    Master,
    /// The override of the occurrence the rule places at this start.
    Override(When),
}

/// Writes the fields `patch` sets into the `VEVENT` `target` addresses,
/// taking their checked values from `patched` (that event with the patch
/// applied and analysed); stamps it `now`. The component must exist
/// (an occurrence without an override gets one first: [`add_override`]).
pub fn apply_patch(
    content: &mut Content,
    target: Addressed,
    patch: &EventPatch,
    patched: &Stored,
    calendar_zone: Tz,
    now: DateTime<Utc>,
) -> Result<(), CalendarError> {
    let find = |content: &Content| find_vevent(content, target, calendar_zone);
    let event = &patched.event;
    let set =
        |content: &mut Content, name: &str, lines: Vec<String>| -> Result<(), CalendarError> {
            let component = find(content)?;
            content.set_property(&component, name, lines);
            Ok(())
        };
    for (name, field, value) in [
        ("SUMMARY", &patch.summary, &event.summary),
        ("DESCRIPTION", &patch.description, &event.description),
        ("LOCATION", &patch.location, &event.location),
    ] {
        if field.is_some() {
            let lines = value.iter().map(|text| text_line(name, text)).collect();
            set(content, name, lines)?;
        }
    }
    if patch.start.is_some() || patch.end.is_some() {
        set(
            content,
            "DTSTART",
            vec![when_line("DTSTART", &patched.start, patched.zone)],
        )?;
        let dtend = vec![when_line("DTEND", &patched.end, patched.zone)];
        // An end given as a DURATION becomes a DTEND in the same place.
        let component = find(content)?;
        if content.properties(&component, "DTEND").is_empty() {
            content.set_property(&component, "DURATION", dtend);
        } else {
            content.set_property(&component, "DTEND", dtend);
            set(content, "DURATION", Vec::new())?;
        }
    }
    if patch.recurrence.is_some() {
        for name in ["RRULE", "RDATE", "EXDATE"] {
            let lines = event
                .recurrence
                .iter()
                .filter(|line| line.to_ascii_uppercase().starts_with(name))
                .cloned()
                .collect();
            set(content, name, lines)?;
        }
    }
    if patch.attendees.is_some() {
        let component = find(content)?;
        let lines = attendee_lines(content, &component, &event.attendees);
        content.set_property(&component, "ATTENDEE", lines);
    }
    if patch.reminders.is_some() {
        replace_alarms(content, &find(content)?, patched);
    }
    set(
        content,
        "LAST-MODIFIED",
        vec![stamp_line("LAST-MODIFIED", now)],
    )?;
    set(content, "DTSTAMP", vec![stamp_line("DTSTAMP", now)])?;
    Ok(())
}

/// Adds an override for the occurrence at `original` of the series in
/// `content`, holding the series' own properties (from `occurrence`, the
/// occurrence as the rule places it), so that a patch can then be applied
/// to it with [`apply_patch`].
pub fn add_override(
    content: &mut Content,
    uid: &str,
    original: When,
    occurrence: &Stored,
    now: DateTime<Utc>,
) {
    let zone = occurrence.zone;
    let event = &occurrence.event;
    let mut lines = vec![
        "BEGIN:VEVENT".to_owned(),
        content_line("UID", &[], &escape_text(uid)),
        stamp_line("DTSTAMP", now),
        when_line("RECURRENCE-ID", &original, zone),
        when_line("DTSTART", &occurrence.start, zone),
        when_line("DTEND", &occurrence.end, zone),
    ];
    lines.extend(text_lines(event));
    lines.extend(event.attendees.iter().map(attendee_line));
    lines.push("END:VEVENT".to_owned());
    content.append_component(lines);
}

/// The `VEVENT` `target` addresses.
fn find_vevent(
    content: &Content,
    target: Addressed,
    calendar_zone: Tz,
) -> Result<Component, CalendarError> {
    let components = content
        .components()
        .map_err(|e| CalendarError::Backend(e.to_string()))?;
    components
        .into_iter()
        .filter(|c| c.kind == "VEVENT")
        .find(|c| {
            let recurrence_id = content
                .properties(c, "RECURRENCE-ID")
                .first()
                .and_then(|raw| read_prop(raw))
                .and_then(|prop| read_when(&prop, calendar_zone, "RECURRENCE-ID").ok());
            match (target, recurrence_id) {
                (Addressed::Master, None) => true,
                (Addressed::Override(original), Some(found)) => {
                    found.instant(calendar_zone) == original.instant(calendar_zone)
                }
                _ => false,
            }
        })
        .ok_or_else(|| CalendarError::Backend(format!("no VEVENT for {target:?}")))
}

/// The `ATTENDEE` lines for `wanted`: an attendee the patch leaves as it
/// was keeps its line as written (with parameters the model does not hold,
/// `RSVP`, `CUTYPE`, `SENT-BY`...); a new or changed one gets a new line.
fn attendee_lines(content: &Content, component: &Component, wanted: &[Attendee]) -> Vec<String> {
    let present: Vec<(&str, Option<Attendee>)> = content
        .properties(component, "ATTENDEE")
        .into_iter()
        .map(|raw| (raw, read_prop(raw).and_then(attendee)))
        .collect();
    wanted
        .iter()
        .map(|attendee| {
            present
                .iter()
                .find(|(_, read)| read.as_ref() == Some(attendee))
                .map_or_else(|| attendee_line(attendee), |(raw, _)| (*raw).to_owned())
        })
        .collect()
}

/// Replaces the alarms of `component` with `patched`'s reminders.
fn replace_alarms(content: &mut Content, component: &Component, patched: &Stored) {
    let alarms: Vec<Component> = content
        .components()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.kind == "VALARM" && c.is_inside(component))
        .collect();
    // Last first: removing one leaves the places of those before it.
    for alarm in alarms.iter().rev() {
        content.remove_component(alarm);
    }
    let lines: Vec<String> = patched
        .event
        .reminders
        .iter()
        .flat_map(|r| &r.overrides)
        .flat_map(|reminder| alarm_lines(reminder, patched.event.summary.as_deref()))
        .collect();
    if !lines.is_empty()
        && let Ok(components) = content.components()
        && let Some(vevent) = components
            .iter()
            .find(|c| c.kind == "VEVENT" && c.same_start(component))
    {
        content.insert_before_end(vevent, lines);
    }
}

#[cfg(test)]
mod tests;
