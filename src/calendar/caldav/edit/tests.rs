use chrono::{TimeZone, Utc};

use super::{Addressed, add_override, apply_patch};
use crate::calendar::caldav::content::Content;
use crate::calendar::caldav::vevent::read_object;
use crate::calendar::edits::{Stored, apply_patch as patch_event, materialise};
use crate::calendar::model::{Attendee, EventDateTime, EventPatch, ReminderOverride, Reminders};
use crate::calendar::time::When;

const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;

/// A series another client wrote, with what the model does not hold: an
/// attendee's RSVP and CUTYPE, an alarm's description, an X- property, a
/// folded line, an RRULE in its own part order.
const OTHERS: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Other client//EN\r\n\
BEGIN:VEVENT\r\n\
UID:abc-123@example.com\r\n\
DTSTAMP:20261201T100000Z\r\n\
LAST-MODIFIED:20261201T100000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261202T090000\r\n\
DURATION:PT1H\r\n\
SUMMARY:Weekly sync\r\n\
DESCRIPTION:A description long enough that the client that wrote it folded\r\n  it over two lines\r\n\
RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10\r\n\
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=TRUE;CUTYPE=INDIVIDUAL:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.com\r\n\
X-OTHER-CLIENT;X-PARAM=1:kept as is\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-PT15M\r\n\
DESCRIPTION:Their own alarm text\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap()
}

/// The object with `patch` applied to its series, as the backend would.
fn patched(patch: &EventPatch) -> String {
    let mut content = Content::parse(OTHERS).unwrap();
    let mut master = read_object(&content, "abc", "e", BERLIN)
        .unwrap()
        .unwrap()
        .master;
    patch_event(&mut master, patch.clone()).unwrap();
    let stored = Stored::analyse_for_writing(master, BERLIN).unwrap();
    apply_patch(
        &mut content,
        Addressed::Master,
        patch,
        &stored,
        BERLIN,
        now(),
    )
    .unwrap();
    content.render()
}

/// The lines of `text` that are not in `base`, and those of `base` gone.
fn changed_lines(base: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let lines = |s: &str| s.split("\r\n").map(str::to_owned).collect::<Vec<_>>();
    let (old, new) = (lines(base), lines(text));
    (
        new.iter().filter(|l| !old.contains(l)).cloned().collect(),
        old.iter().filter(|l| !new.contains(l)).cloned().collect(),
    )
}

#[test]
fn a_new_title_rewrites_the_title_and_the_stamps_only() {
    let text = patched(&EventPatch {
        summary: Some("Renamed; again".to_owned()),
        ..EventPatch::default()
    });
    let (added, removed) = changed_lines(OTHERS, &text);
    assert_eq!(
        added,
        [
            "DTSTAMP:20261205T120000Z",
            "LAST-MODIFIED:20261205T120000Z",
            "SUMMARY:Renamed\\; again"
        ]
    );
    assert_eq!(
        removed,
        [
            "DTSTAMP:20261201T100000Z",
            "LAST-MODIFIED:20261201T100000Z",
            "SUMMARY:Weekly sync"
        ]
    );
    // In their places: the rest of the object is byte for byte as it was.
    assert_eq!(
        text.replace("SUMMARY:Renamed\\; again", "SUMMARY:Weekly sync")
            .replace("20261205T120000Z", "20261201T100000Z"),
        OTHERS
    );
}

#[test]
fn attendees_left_as_they_were_keep_their_own_parameters() {
    let bob = Attendee {
        email: "bob@example.com".to_owned(),
        display_name: Some("Bob".to_owned()),
        response_status: "accepted".to_owned(),
        comment: None,
        optional: false,
    };
    let dana = Attendee {
        email: "dana@example.com".to_owned(),
        display_name: None,
        response_status: "needsAction".to_owned(),
        comment: None,
        optional: true,
    };
    let text = patched(&EventPatch {
        attendees: Some(vec![bob, dana]),
        ..EventPatch::default()
    });
    assert!(
        text.contains("ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=TRUE;CUTYPE=INDIVIDUAL:mailto:bob@example.com\r\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "ATTENDEE;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT:mailto:dana@example.com\r\n"
        ),
        "{text}"
    );
    assert!(!text.contains("carol@example.com"), "{text}");
    assert!(text.contains("X-OTHER-CLIENT;X-PARAM=1:kept as is\r\n"));
}

#[test]
fn new_times_replace_the_duration_and_new_reminders_the_alarms() {
    let at = |h| EventDateTime {
        date_time: Some(format!("2026-12-02T{h}:00:00")),
        date: None,
        time_zone: Some("Europe/Berlin".to_owned()),
    };
    let text = patched(&EventPatch {
        start: Some(at(14)),
        end: Some(at(15)),
        reminders: Some(Reminders {
            use_default: false,
            overrides: vec![ReminderOverride {
                method: "email".to_owned(),
                minutes: 60,
            }],
        }),
        ..EventPatch::default()
    });
    assert!(
        text.contains("DTSTART;TZID=Europe/Berlin:20261202T140000\r\nDTEND;TZID=Europe/Berlin:20261202T150000\r\n"),
        "{text}"
    );
    assert!(!text.contains("DURATION"), "{text}");
    assert!(!text.contains("Their own alarm text"), "{text}");
    assert!(
        text.contains("BEGIN:VALARM\r\nACTION:EMAIL\r\nTRIGGER:-PT60M\r\n"),
        "{text}"
    );
    // The rule is not touched by a move of the whole series.
    assert!(text.contains("RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10\r\n"));
    let read = read_object(&Content::parse(&text).unwrap(), "abc", "e", BERLIN)
        .unwrap()
        .unwrap();
    assert_eq!(
        read.master.end.date_time.as_deref(),
        Some("2026-12-02T15:00:00+01:00")
    );
}

#[test]
fn one_occurrence_gets_an_override_and_the_series_is_untouched() {
    let mut content = Content::parse(OTHERS).unwrap();
    let master = read_object(&content, "abc", "e", BERLIN)
        .unwrap()
        .unwrap()
        .master;
    let series = Stored::analyse(master, BERLIN).unwrap();
    let original = When::Timed {
        at: Utc.with_ymd_and_hms(2026, 12, 9, 8, 0, 0).unwrap(),
        zone: Some(BERLIN),
    };
    let occurrence = materialise(&series, original);
    add_override(
        &mut content,
        "abc-123@example.com",
        original,
        &occurrence,
        now(),
    );
    let patch = EventPatch {
        summary: Some("Just this once".to_owned()),
        ..EventPatch::default()
    };
    let mut event = occurrence.event.clone();
    patch_event(&mut event, patch.clone()).unwrap();
    let stored = Stored::analyse(event, BERLIN).unwrap();
    apply_patch(
        &mut content,
        Addressed::Override(original),
        &patch,
        &stored,
        BERLIN,
        now(),
    )
    .unwrap();
    let text = content.render();
    assert!(
        text.starts_with(OTHERS.trim_end_matches("END:VCALENDAR\r\n")),
        "{text}"
    );
    let read = read_object(&Content::parse(&text).unwrap(), "abc", "e", BERLIN)
        .unwrap()
        .unwrap();
    assert_eq!(read.master.summary.as_deref(), Some("Weekly sync"));
    assert_eq!(read.overrides.len(), 1);
    let (at, instance) = &read.overrides[0];
    assert_eq!(at.instant(BERLIN), original.instant(BERLIN));
    assert_eq!(instance.summary.as_deref(), Some("Just this once"));
    assert_eq!(
        instance.start.date_time.as_deref(),
        Some("2026-12-09T09:00:00+01:00")
    );
}
