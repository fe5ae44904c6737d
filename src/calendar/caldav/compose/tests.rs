use chrono::{TimeZone, Utc};

use super::{new_object, when_line};
use crate::calendar::caldav::content::Content;
use crate::calendar::caldav::vevent::read_object;
use crate::calendar::edits::new_event;
use crate::calendar::model::{Attendee, EventDateTime, EventPatch, ReminderOverride, Reminders};
use crate::calendar::time::When;

const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;

fn timed(text: &str) -> Option<EventDateTime> {
    Some(EventDateTime {
        date_time: Some(text.to_owned()),
        date: None,
        time_zone: Some("Europe/Berlin".to_owned()),
    })
}

#[test]
fn a_new_series_reads_back_as_it_was_written() {
    let fields = EventPatch {
        summary: Some("Planning, Q1; \"draft\"".to_owned()),
        description: Some("Line one\nLine two".to_owned()),
        location: Some("Room 4".to_owned()),
        start: timed("2026-12-02T09:00:00"),
        end: timed("2026-12-02T10:30:00"),
        attendees: Some(vec![Attendee {
            email: "bob@example.com".to_owned(),
            display_name: Some("Bob: B.".to_owned()),
            response_status: "tentative".to_owned(),
            comment: None,
            optional: true,
        }]),
        reminders: Some(Reminders {
            use_default: false,
            overrides: vec![ReminderOverride {
                method: "email".to_owned(),
                minutes: 30,
            }],
        }),
        recurrence: Some(vec!["RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=4".to_owned()]),
    };
    let stored = new_event(fields, BERLIN).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let text = new_object(&stored, "planning-1@gateway", now).unwrap();
    assert!(
        text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin"),
        "{text}"
    );
    assert!(
        text.contains("PRODID:-//mcp-gateway//CalDAV backend//EN"),
        "{text}"
    );

    let read = read_object(&Content::parse(&text).unwrap(), "planning-1", "e", BERLIN)
        .unwrap()
        .unwrap();
    let (written, back) = (&stored.event, &read.master);
    assert_eq!(back.summary, written.summary);
    assert_eq!(back.description, written.description);
    assert_eq!(back.location, written.location);
    assert_eq!(back.start, written.start);
    assert_eq!(back.end, written.end);
    assert_eq!(back.recurrence, written.recurrence);
    assert_eq!(back.attendees, written.attendees);
    assert_eq!(back.reminders, written.reminders);
    assert_eq!(back.created, "2026-12-01T12:00:00.000Z");
    assert!(read.overrides.is_empty());
}

#[test]
fn all_day_dates_are_written_as_dates() {
    let fields = EventPatch {
        start: Some(EventDateTime {
            date: Some("2026-12-24".to_owned()),
            ..EventDateTime::default()
        }),
        end: Some(EventDateTime {
            date: Some("2026-12-25".to_owned()),
            ..EventDateTime::default()
        }),
        ..EventPatch::default()
    };
    let stored = new_event(fields, BERLIN).unwrap();
    let text = new_object(&stored, "holiday", Utc::now()).unwrap();
    assert!(text.contains("DTSTART;VALUE=DATE:20261224"), "{text}");
    // No zone is named, so none is added.
    assert!(!text.contains("VTIMEZONE"), "{text}");
    let read = read_object(&Content::parse(&text).unwrap(), "holiday", "e", BERLIN)
        .unwrap()
        .unwrap();
    assert_eq!(read.master.start, stored.event.start);
    assert_eq!(read.master.end, stored.event.end);
}

#[test]
fn times_are_written_in_the_local_time_of_their_zone() {
    let at = Utc.with_ymd_and_hms(2026, 7, 1, 7, 0, 0).unwrap();
    assert_eq!(
        when_line("DTSTART", &When::Timed { at, zone: None }, BERLIN),
        "DTSTART;TZID=Europe/Berlin:20260701T090000"
    );
}
