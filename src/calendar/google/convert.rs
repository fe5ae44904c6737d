//! Between google-calendar3's API types and the gateway's event model. The
//! API parses every `dateTime` as UTC and drops the offset it was written
//! with; the event's `timeZone` is what puts it back for output. A reply that
//! lacks a field the model needs is an error, never a panic.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use google_calendar3::api;

use crate::calendar::CalendarError;
use crate::calendar::model::{
    Attendee, Calendar, Event, EventDateTime, EventPatch, ReminderOverride, Reminders,
    ResponseStatus, rgb_color,
};
use crate::calendar::time::{When, format_utc, render, resolve};

fn missing(what: &str, field: &str) -> CalendarError {
    CalendarError::Backend(format!("Google returned {what} without `{field}`"))
}

/// A calendar-list entry as the model's calendar (the user's own name for it wins).
pub fn calendar_from_api(entry: api::CalendarListEntry) -> Result<Calendar, CalendarError> {
    let id = entry.id.ok_or_else(|| missing("a calendar", "id"))?;
    Ok(Calendar {
        summary: entry
            .summary_override
            .or(entry.summary)
            .unwrap_or_else(|| id.clone()),
        time_zone: entry.time_zone.unwrap_or_else(|| "UTC".into()),
        color: entry.background_color.as_deref().and_then(rgb_color),
        id,
    })
}

/// An API start/end as the model's, rendered in its own zone (else `fallback`).
fn time_from_api(value: api::EventDateTime, fallback: Tz) -> EventDateTime {
    let zone = value
        .time_zone
        .as_deref()
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(fallback);
    match (value.date_time, value.date) {
        (Some(at), _) => render(&When::Timed { at, zone: None }, zone),
        (None, Some(date)) => render(&When::AllDay(date), zone),
        (None, None) => EventDateTime::default(),
    }
}

fn stamp(value: Option<DateTime<Utc>>) -> String {
    value.map(format_utc).unwrap_or_default()
}

/// An API event as the model's; `zone` is the calendar's, for events without one.
pub fn event_from_api(event: api::Event, zone: Tz) -> Result<Event, CalendarError> {
    let id = event.id.ok_or_else(|| missing("an event", "id"))?;
    let start = event.start.ok_or_else(|| missing("an event", "start"))?;
    let end = event.end.ok_or_else(|| missing("an event", "end"))?;
    let attendees = event
        .attendees
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| {
            Some(Attendee {
                email: a.email?,
                display_name: a.display_name,
                response_status: a
                    .response_status
                    .unwrap_or_else(|| ResponseStatus::NeedsAction.as_str().into()),
                comment: a.comment,
                optional: a.optional.unwrap_or(false),
            })
        })
        .collect();
    let reminders = event.reminders.map(|r| Reminders {
        use_default: r.use_default.unwrap_or(false),
        overrides: r
            .overrides
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                Some(ReminderOverride {
                    method: o.method?,
                    minutes: u32::try_from(o.minutes?).ok()?,
                })
            })
            .collect(),
    });
    Ok(Event {
        id,
        etag: event.etag.unwrap_or_default(),
        status: event
            .status
            .unwrap_or_else(|| crate::calendar::model::CONFIRMED.to_owned()),
        summary: event.summary,
        description: event.description,
        location: event.location,
        start: time_from_api(start, zone),
        end: time_from_api(end, zone),
        recurrence: event.recurrence.unwrap_or_default(),
        recurring_event_id: event.recurring_event_id,
        original_start_time: event.original_start_time.map(|o| time_from_api(o, zone)),
        attendees,
        reminders,
        created: stamp(event.created),
        updated: stamp(event.updated),
    })
}

/// A model start/end for the API; `field` names it in errors.
pub fn time_to_api(
    field: &str,
    value: &EventDateTime,
) -> Result<api::EventDateTime, CalendarError> {
    Ok(match resolve(field, value)? {
        When::Timed { at, zone } => api::EventDateTime {
            date_time: Some(at),
            date: None,
            time_zone: zone.map(|z| z.name().to_owned()),
        },
        When::AllDay(date) => api::EventDateTime {
            date: Some(date),
            ..api::EventDateTime::default()
        },
    })
}

/// The fields of `patch` as an API event: absent fields stay absent, so a
/// PATCH leaves them alone (google-calendar3 drops nulls from request bodies).
pub fn patch_to_api(patch: &EventPatch) -> Result<api::Event, CalendarError> {
    Ok(api::Event {
        summary: patch.summary.clone(),
        description: patch.description.clone(),
        location: patch.location.clone(),
        start: patch
            .start
            .as_ref()
            .map(|s| time_to_api("start", s))
            .transpose()?,
        end: patch
            .end
            .as_ref()
            .map(|e| time_to_api("end", e))
            .transpose()?,
        attendees: patch.attendees.as_ref().map(|list| {
            list.iter()
                .map(|a| api::EventAttendee {
                    email: Some(a.email.clone()),
                    display_name: a.display_name.clone(),
                    response_status: Some(a.response_status.clone()),
                    comment: a.comment.clone(),
                    optional: Some(a.optional),
                    ..api::EventAttendee::default()
                })
                .collect()
        }),
        reminders: patch.reminders.as_ref().map(|r| api::EventReminders {
            use_default: Some(r.use_default),
            overrides: Some(
                r.overrides
                    .iter()
                    .map(|o| api::EventReminder {
                        method: Some(o.method.clone()),
                        minutes: Some(i32::try_from(o.minutes).unwrap_or(i32::MAX)),
                    })
                    .collect(),
            ),
        }),
        recurrence: patch.recurrence.clone(),
        ..api::Event::default()
    })
}

/// A model event's writable fields as a patch (to copy an instance into a new series).
pub fn as_patch(event: &Event) -> EventPatch {
    EventPatch {
        summary: event.summary.clone(),
        description: event.description.clone(),
        location: event.location.clone(),
        start: Some(event.start.clone()),
        end: Some(event.end.clone()),
        attendees: Some(event.attendees.clone()),
        reminders: event.reminders.clone(),
        recurrence: Some(event.recurrence.clone()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use google_calendar3::api;

    use super::{event_from_api, time_to_api};
    use crate::calendar::model::EventDateTime;

    #[test]
    fn utc_times_from_the_api_get_their_zone_back() {
        let event = api::Event {
            id: Some("e1".into()),
            start: Some(api::EventDateTime {
                date_time: Some(Utc.with_ymd_and_hms(2026, 7, 1, 7, 0, 0).unwrap()),
                time_zone: Some("Europe/Berlin".into()),
                date: None,
            }),
            end: Some(api::EventDateTime {
                date: Some(chrono::NaiveDate::from_ymd_opt(2026, 7, 2).unwrap()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let model = event_from_api(event, chrono_tz::UTC).unwrap();
        assert_eq!(
            model.start.date_time.as_deref(),
            Some("2026-07-01T09:00:00+02:00")
        );
        assert_eq!(model.end.date.as_deref(), Some("2026-07-02"));
    }

    #[test]
    fn an_event_without_an_id_is_an_error_not_a_panic() {
        assert!(event_from_api(api::Event::default(), chrono_tz::UTC).is_err());
    }

    #[test]
    fn local_times_are_sent_as_utc_with_their_zone() {
        let sent = time_to_api(
            "start",
            &EventDateTime {
                date_time: Some("2026-01-10T09:00:00".into()),
                date: None,
                time_zone: Some("America/New_York".into()),
            },
        )
        .unwrap();
        assert_eq!(
            sent.date_time,
            Some(Utc.with_ymd_and_hms(2026, 1, 10, 14, 0, 0).unwrap())
        );
        assert_eq!(sent.time_zone.as_deref(), Some("America/New_York"));
    }
}
