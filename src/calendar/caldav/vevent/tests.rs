use chrono::Duration;

use super::{parse_duration, read_object};
use crate::calendar::caldav::content::Content;
use crate::calendar::model::{Attendee, ReminderOverride, Reminders};

const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// A weekly series from another client: one occurrence moved and renamed,
/// one removed by EXDATE, an alarm, attendees, properties the model lacks.
const SERIES: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Other client//EN\r\n\
BEGIN:VEVENT\r\n\
UID:abc-123@example.com\r\n\
DTSTAMP:20261201T100000Z\r\n\
CREATED:20261130T080000Z\r\n\
LAST-MODIFIED:20261201T090000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261202T090000\r\n\
DTEND;TZID=Europe/Berlin:20261202T100000\r\n\
SUMMARY:Weekly sync\\, team\r\n\
LOCATION:Room 1\r\n\
RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10\r\n\
EXDATE;TZID=Europe/Berlin:20261216T090000\r\n\
ATTENDEE;CN=\"Bob: B.\";PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
ATTENDEE;ROLE=OPT-PARTICIPANT:mailto:carol@example.com\r\n\
X-CUSTOM:kept\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-PT15M\r\n\
DESCRIPTION:Reminder\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:abc-123@example.com\r\n\
DTSTAMP:20261201T100000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000\r\n\
DTSTART;TZID=Europe/Berlin:20261209T110000\r\n\
DURATION:PT90M\r\n\
SUMMARY:Weekly sync (moved)\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

#[test]
fn a_series_with_an_override_reads_into_the_model() {
    let content = Content::parse(SERIES).unwrap();
    let read = read_object(&content, "abc", "\"e1\"", BERLIN)
        .unwrap()
        .unwrap();
    let master = &read.master;
    assert_eq!(master.id, "abc");
    assert_eq!(master.etag, "\"e1\"");
    assert_eq!(master.status, "confirmed");
    assert_eq!(master.summary.as_deref(), Some("Weekly sync, team"));
    assert_eq!(master.location.as_deref(), Some("Room 1"));
    assert_eq!(
        master.start.date_time.as_deref(),
        Some("2026-12-02T09:00:00+01:00")
    );
    assert_eq!(master.start.time_zone.as_deref(), Some("Europe/Berlin"));
    assert_eq!(
        master.end.date_time.as_deref(),
        Some("2026-12-02T10:00:00+01:00")
    );
    assert_eq!(
        master.recurrence,
        [
            "RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10",
            "EXDATE;TZID=Europe/Berlin:20261216T090000"
        ]
    );
    assert_eq!(
        master.attendees,
        [
            Attendee {
                email: "bob@example.com".to_owned(),
                display_name: Some("Bob: B.".to_owned()),
                response_status: "accepted".to_owned(),
                comment: None,
                optional: false,
            },
            Attendee {
                email: "carol@example.com".to_owned(),
                display_name: None,
                response_status: "needsAction".to_owned(),
                comment: None,
                optional: true,
            }
        ]
    );
    assert_eq!(
        master.reminders,
        Some(Reminders {
            use_default: false,
            overrides: vec![ReminderOverride {
                method: "popup".to_owned(),
                minutes: 15
            }]
        })
    );
    assert_eq!(master.created, "2026-11-30T08:00:00.000Z");
    assert_eq!(master.updated, "2026-12-01T09:00:00.000Z");

    assert_eq!(read.overrides.len(), 1);
    let (_, moved) = &read.overrides[0];
    assert_eq!(moved.id, "abc_20261209T080000Z");
    assert_eq!(moved.recurring_event_id.as_deref(), Some("abc"));
    assert_eq!(
        moved
            .original_start_time
            .as_ref()
            .unwrap()
            .date_time
            .as_deref(),
        Some("2026-12-09T09:00:00+01:00")
    );
    assert_eq!(
        moved.start.date_time.as_deref(),
        Some("2026-12-09T11:00:00+01:00")
    );
    assert_eq!(
        moved.end.date_time.as_deref(),
        Some("2026-12-09T12:30:00+01:00")
    );
    assert!(moved.recurrence.is_empty());
    // The override has no alarm of its own.
    assert_eq!(moved.reminders, None);
}

#[test]
fn all_day_events_and_objects_without_events() {
    let all_day = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20261224\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let read = read_object(&Content::parse(all_day).unwrap(), "d", "e", BERLIN)
        .unwrap()
        .unwrap();
    assert_eq!(read.master.start.date.as_deref(), Some("2026-12-24"));
    // Without DTEND or DURATION a date lasts the day.
    assert_eq!(read.master.end.date.as_deref(), Some("2026-12-25"));
    assert!(read.master.is_cancelled());

    let task = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
    assert_eq!(
        read_object(&Content::parse(task).unwrap(), "t", "e", BERLIN),
        Ok(None)
    );

    let no_start = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let error = read_object(&Content::parse(no_start).unwrap(), "x", "e", BERLIN).unwrap_err();
    assert!(format!("{error:?}").contains("no DTSTART"), "{error:?}");
}

#[test]
fn durations_in_every_form() {
    assert_eq!(parse_duration("PT15M"), Some(Duration::minutes(15)));
    assert_eq!(parse_duration("-PT15M"), Some(Duration::minutes(-15)));
    assert_eq!(parse_duration("P1DT2H"), Some(Duration::hours(26)));
    assert_eq!(parse_duration("P2W"), Some(Duration::weeks(2)));
    assert_eq!(parse_duration("+PT30S"), Some(Duration::seconds(30)));
    for bad in [
        "",
        "P",
        "PT",
        "15M",
        "P1H",
        "PT1D",
        "P1X",
        "P99999999999999W",
        "PT9223372036854775807S",
    ] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}
