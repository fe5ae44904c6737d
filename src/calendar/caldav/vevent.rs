//! A calendar object resource (one `UID`) read into the event model: the
//! series or one-off event, and the overrides of single occurrences
//! (`RECURRENCE-ID`). What the model has no field for stays in the object
//! ([`crate::calendar::caldav::content`]) and is never lost on a write.

use chrono::{Duration, Utc};
use chrono_tz::Tz;

use crate::calendar::CalendarError;
use crate::calendar::caldav::content::{Component, Content, unfold};
use crate::calendar::caldav::ical::{Prop, read_prop, read_when, unescape_text};
use crate::calendar::model::{
    Attendee, CANCELLED, CONFIRMED, Event, ReminderOverride, Reminders, ResponseStatus,
};
use crate::calendar::series::instance_id;
use crate::calendar::time::{When, format_utc, render};

/// The events of one calendar object resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvents {
    /// The series, or the one-off event.
    pub master: Event,
    /// Single occurrences edited or cancelled: where the rule placed each,
    /// and the occurrence as it now is.
    pub overrides: Vec<(When, Event)>,
}

/// Reads `content`, stored under `id` with entity tag `etag`, in a calendar
/// whose zone is `calendar_zone`. An object without a `VEVENT` (a task, a
/// journal entry) is `None`.
pub fn read_object(
    content: &Content,
    id: &str,
    etag: &str,
    calendar_zone: Tz,
) -> Result<Option<ObjectEvents>, CalendarError> {
    let events: Vec<Component> = content
        .components()
        .map_err(|e| CalendarError::Backend(format!("event {id}: {e}")))?
        .into_iter()
        .filter(|c| c.kind == "VEVENT")
        .collect();
    let (overrides, masters): (Vec<&Component>, Vec<&Component>) = events
        .iter()
        .partition(|c| !content.properties(c, "RECURRENCE-ID").is_empty());
    let Some(master) = masters.first() else {
        return Ok(None);
    };
    let master = read_vevent(content, master, id, etag, calendar_zone)?;
    let mut read_overrides = Vec::with_capacity(overrides.len());
    for component in overrides {
        let mut event = read_vevent(content, component, id, etag, calendar_zone)?;
        let recurrence_id = one(content, component, "RECURRENCE-ID").ok_or_else(|| {
            CalendarError::Backend(format!("event {id}: RECURRENCE-ID unreadable"))
        })?;
        let original = read_when(&recurrence_id, calendar_zone, "RECURRENCE-ID")?;
        event.id = instance_id(id, &original);
        event.recurring_event_id = Some(id.to_owned());
        event.original_start_time = Some(render(&original, zone_of(&original, calendar_zone)));
        event.recurrence.clear();
        read_overrides.push((original, event));
    }
    Ok(Some(ObjectEvents {
        master,
        overrides: read_overrides,
    }))
}

/// One `VEVENT` as a model event with id `id`.
fn read_vevent(
    content: &Content,
    component: &Component,
    id: &str,
    etag: &str,
    calendar_zone: Tz,
) -> Result<Event, CalendarError> {
    let text = |name: &str| one(content, component, name).map(|p| unescape_text(&p.value));
    let dtstart = one(content, component, "DTSTART")
        .ok_or_else(|| CalendarError::Backend(format!("event {id}: no DTSTART")))?;
    let start = read_when(&dtstart, calendar_zone, "DTSTART")?;
    let end = match one(content, component, "DTEND") {
        Some(dtend) => read_when(&dtend, calendar_zone, "DTEND")?,
        None => end_from_duration(&start, one(content, component, "DURATION"), id)?,
    };
    let zone = zone_of(&start, calendar_zone);
    let stamp = |name: &str| {
        one(content, component, name)
            .and_then(|p| read_when(&p, calendar_zone, name).ok())
            .map(|w| format_utc(w.instant(zone)))
    };
    let updated = stamp("LAST-MODIFIED")
        .or_else(|| stamp("DTSTAMP"))
        .unwrap_or_else(|| format_utc(Utc::now()));
    let cancelled = text("STATUS").is_some_and(|s| s.eq_ignore_ascii_case("CANCELLED"));
    Ok(Event {
        id: id.to_owned(),
        etag: etag.to_owned(),
        status: if cancelled { CANCELLED } else { CONFIRMED }.to_owned(),
        summary: text("SUMMARY"),
        description: text("DESCRIPTION"),
        location: text("LOCATION"),
        start: render(&start, zone),
        end: render(&end, zone),
        recurrence: ["RRULE", "RDATE", "EXDATE"]
            .iter()
            .flat_map(|name| content.properties(component, name))
            .map(unfold)
            .collect(),
        recurring_event_id: None,
        original_start_time: None,
        attendees: content
            .properties(component, "ATTENDEE")
            .into_iter()
            .filter_map(read_prop)
            .filter_map(attendee)
            .collect(),
        reminders: reminders(content, component),
        created: stamp("CREATED").unwrap_or_else(|| updated.clone()),
        updated,
    })
}

/// The one property `name` of `component`, read.
fn one(content: &Content, component: &Component, name: &str) -> Option<Prop> {
    content
        .properties(component, name)
        .first()
        .and_then(|raw| read_prop(raw))
}

/// The zone a start repeats in: its own, or the calendar's.
fn zone_of(when: &When, calendar_zone: Tz) -> Tz {
    match when {
        When::Timed {
            zone: Some(zone), ..
        } => *zone,
        _ => calendar_zone,
    }
}

/// The end of an event without `DTEND` (RFC 5545 §3.6.1): start plus its
/// `DURATION`, else the end of the start's day for a date, else the start.
fn end_from_duration(
    start: &When,
    duration: Option<Prop>,
    id: &str,
) -> Result<When, CalendarError> {
    let Some(duration) = duration else {
        return Ok(match start {
            When::AllDay(date) => When::AllDay(date.succ_opt().unwrap_or(*date)),
            timed => *timed,
        });
    };
    let length = parse_duration(&duration.value).ok_or_else(|| {
        CalendarError::Backend(format!("event {id}: DURATION `{}`", duration.value))
    })?;
    Ok(match start {
        When::AllDay(date) => When::AllDay(*date + Duration::days(length.num_days().max(1))),
        When::Timed { at, zone } => When::Timed {
            at: *at + length,
            zone: *zone,
        },
    })
}

/// An RFC 5545 §3.3.6 duration (`P1DT2H`, `PT15M`, `-PT15M`, `P2W`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (sign, rest) = match text.trim().strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.trim().trim_start_matches('+')),
    };
    let rest = rest.strip_prefix('P')?;
    let mut total = Duration::zero();
    let mut number = String::new();
    let mut in_time = false;
    let mut units = 0;
    for c in rest.chars() {
        match c {
            '0'..='9' => number.push(c),
            'T' if number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                units += 1;
                // Checked throughout: a server's number must not overflow into a panic.
                let part = match (unit, in_time) {
                    ('W', false) => Duration::try_weeks(n),
                    ('D', false) => Duration::try_days(n),
                    ('H', true) => Duration::try_hours(n),
                    ('M', true) => Duration::try_minutes(n),
                    ('S', true) => Duration::try_seconds(n),
                    _ => None,
                }?;
                total = total.checked_add(&part)?;
            }
        }
    }
    // At least one unit, none left without its number (`P`, `PT`, `P1`).
    (number.is_empty() && units > 0).then_some(())?;
    total.checked_mul(sign)
}

/// An `ATTENDEE` as the model's attendee; `None` without a `mailto:` address.
pub(super) fn attendee(prop: Prop) -> Option<Attendee> {
    let email = prop
        .value
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("mailto:"))
        .map(|_| prop.value[7..].to_owned())?;
    let status = match prop
        .param("PARTSTAT")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("ACCEPTED") => ResponseStatus::Accepted,
        Some("DECLINED") => ResponseStatus::Declined,
        Some("TENTATIVE") => ResponseStatus::Tentative,
        _ => ResponseStatus::NeedsAction,
    };
    Some(Attendee {
        email,
        display_name: prop.param("CN").map(str::to_owned),
        response_status: status.as_str().to_owned(),
        comment: None,
        optional: prop
            .param("ROLE")
            .is_some_and(|role| role.eq_ignore_ascii_case("OPT-PARTICIPANT")),
    })
}

/// The event's alarms as reminders: a `DISPLAY` or `AUDIO` alarm is a popup,
/// an `EMAIL` one an email; only alarms set a duration before the start
/// count (an absolute or end-relative trigger has no model form).
fn reminders(content: &Content, event: &Component) -> Option<Reminders> {
    let alarms: Vec<Component> = content
        .components()
        .ok()?
        .into_iter()
        .filter(|c| c.kind == "VALARM" && c.is_inside(event))
        .collect();
    if alarms.is_empty() {
        return None;
    }
    let overrides = alarms
        .iter()
        .filter_map(|alarm| {
            let trigger = one(content, alarm, "TRIGGER")?;
            if trigger
                .param("RELATED")
                .is_some_and(|r| r.eq_ignore_ascii_case("END"))
                || trigger
                    .param("VALUE")
                    .is_some_and(|v| v.eq_ignore_ascii_case("DATE-TIME"))
            {
                return None;
            }
            let before = -parse_duration(&trigger.value)?;
            let method = match one(content, alarm, "ACTION")?
                .value
                .to_ascii_uppercase()
                .as_str()
            {
                "EMAIL" => "email",
                _ => "popup",
            };
            Some(ReminderOverride {
                method: method.to_owned(),
                minutes: u32::try_from(before.num_minutes()).ok()?,
            })
        })
        .collect();
    Some(Reminders {
        use_default: false,
        overrides,
    })
}

#[cfg(test)]
mod tests;
