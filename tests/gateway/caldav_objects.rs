//! CalDAV calendar object resources on real servers (issue 23, in
//! progress): a series written by another client is found by a time-range
//! query, read into the event model and expanded by the gateway's own
//! recurrence engine, override included; writes and deletes happen only
//! under their entity-tag precondition, so a retried create makes no second
//! event and a stale update or delete changes nothing; and an event the
//! gateway composes reads back the same in an independent client (Python
//! `caldav`). On Radicale and Xandikos alike.

use chrono::{TimeZone, Utc};
use mcp_gateway::calendar::caldav::content::Content;
use mcp_gateway::calendar::caldav::dav::DavClient;
use mcp_gateway::calendar::caldav::objects::{Precondition, Written, delete, in_range, put};
use mcp_gateway::calendar::caldav::vevent::read_object;
use mcp_gateway::calendar::edits::Stored;

use crate::caldav_servers::{DavServer, USERS, radicale, xandikos};

/// A weekly series on Wednesdays at 09:00 Berlin time, its second
/// occurrence moved to 11:00, its third removed.
const SERIES: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Another client//EN\r\n\
BEGIN:VEVENT\r\n\
UID:weekly-sync@example.com\r\n\
DTSTAMP:20261201T100000Z\r\n\
DTSTART;TZID=Europe/Berlin:20261202T090000\r\n\
DTEND;TZID=Europe/Berlin:20261202T100000\r\n\
SUMMARY:Weekly sync\r\n\
RRULE:FREQ=WEEKLY;BYDAY=WE;COUNT=10\r\n\
EXDATE;TZID=Europe/Berlin:20261216T090000\r\n\
X-OTHER-CLIENT:kept\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:weekly-sync@example.com\r\n\
DTSTAMP:20261201T100000Z\r\n\
RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000\r\n\
DTSTART;TZID=Europe/Berlin:20261209T110000\r\n\
DTEND;TZID=Europe/Berlin:20261209T120000\r\n\
SUMMARY:Weekly sync (moved)\r\n\
END:VEVENT\r\n\
END:VCALENDAR\r\n";

/// The whole walk on one server's `collection`.
async fn series_round_trip(server: &DavServer, dav: &DavClient, collection: &str) {
    let href = format!("{collection}weekly-sync.ics");
    let first = put(dav, &href, SERIES.to_owned(), Precondition::Absent)
        .await
        .unwrap();
    assert!(
        matches!(first, Written::Done(_)),
        "{first:?}: {}",
        server.log()
    );
    // The same create again, as after a lost answer: nothing is made twice.
    let again = put(dav, &href, SERIES.to_owned(), Precondition::Absent)
        .await
        .unwrap();
    assert_eq!(again, Written::Changed);

    // December: the series and its override are one object.
    let (from, to) = (
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
    );
    let objects = in_range(dav, collection, from, to).await.unwrap().unwrap();
    assert_eq!(objects.len(), 1, "{objects:?}");
    let object = &objects[0];
    assert!(object.href.ends_with("weekly-sync.ics"), "{}", object.href);
    let content = Content::parse(&object.data).unwrap();
    let berlin = chrono_tz::Europe::Berlin;
    let events = read_object(&content, "weekly-sync", &object.etag, berlin)
        .unwrap()
        .unwrap();
    assert_eq!(events.master.summary.as_deref(), Some("Weekly sync"));
    assert_eq!(events.overrides.len(), 1);

    // Expanded by the gateway: the 2nd, 9th (moved by its override), 23rd
    // and 30th; the 16th is excluded.
    let stored = Stored::analyse(events.master.clone(), berlin).unwrap();
    let starts: Vec<String> = stored
        .rule()
        .unwrap()
        .occurrences(from, to)
        .unwrap()
        .iter()
        .map(|o| o.start.instant(berlin).format("%d %H:%M").to_string())
        .collect();
    assert_eq!(starts, ["02 08:00", "09 08:00", "23 08:00", "30 08:00"]);
    let (original, moved) = &events.overrides[0];
    assert_eq!(
        original.instant(berlin).format("%d %H:%M").to_string(),
        "09 08:00"
    );
    assert_eq!(
        moved.start.date_time.as_deref(),
        Some("2026-12-09T11:00:00+01:00")
    );

    // A week with no occurrence finds nothing.
    let empty = in_range(
        dav,
        collection,
        Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2027, 6, 8, 0, 0, 0).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(empty.is_empty(), "{empty:?}");

    // An update or a delete under a stale tag changes nothing...
    let stale = "\"not-the-tag\"";
    let edited = SERIES.replace("SUMMARY:Weekly sync\r\n", "SUMMARY:Renamed\r\n");
    assert_eq!(
        put(dav, &href, edited.clone(), Precondition::Unchanged(stale))
            .await
            .unwrap(),
        Written::Changed
    );
    assert_eq!(delete(dav, &href, stale).await.unwrap(), Written::Changed);
    let still = in_range(dav, collection, from, to).await.unwrap().unwrap();
    assert!(!still[0].data.contains("Renamed"), "{}", still[0].data);

    // ...and under the current one goes through.
    let updated = put(dav, &href, edited, Precondition::Unchanged(&object.etag))
        .await
        .unwrap();
    assert!(matches!(updated, Written::Done(_)), "{updated:?}");
    let now = in_range(dav, collection, from, to).await.unwrap().unwrap();
    assert!(now[0].data.contains("SUMMARY:Renamed"), "{}", now[0].data);
    assert!(
        now[0].data.contains("X-OTHER-CLIENT:kept"),
        "{}",
        now[0].data
    );
    assert_eq!(
        delete(dav, &href, &now[0].etag).await.unwrap(),
        Written::Done(None)
    );
    assert!(
        in_range(dav, collection, from, to)
            .await
            .unwrap()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_series_round_trip_on_radicale() {
    let server = radicale().await;
    server
        .make_calendar(USERS[0], "/alice/work/", "Work", "VEVENT")
        .await;
    let dav = server.client(Some(USERS[0]));
    series_round_trip(&server, &dav, "/alice/work/").await;
}

#[tokio::test]
async fn a_series_round_trip_on_xandikos() {
    let server = xandikos().await;
    let dav = server.client(None);
    series_round_trip(&server, &dav, "/user/calendars/calendar/").await;
}

/// An event the gateway composes reads back the same in an independent
/// client (Python `caldav`): summary, local times in their zone, the rule,
/// attendees and alarm.
async fn composed_event_reads_back_in_another_client(
    server: &DavServer,
    dav: &DavClient,
    collection: &str,
    credentials: Option<(&str, &str)>,
) {
    use mcp_gateway::calendar::caldav::compose::new_object;
    use mcp_gateway::calendar::edits::new_event;
    use mcp_gateway::calendar::model::{
        Attendee, EventDateTime, EventPatch, ReminderOverride, Reminders,
    };
    let timed = |text: &str| {
        Some(EventDateTime {
            date_time: Some(text.to_owned()),
            date: None,
            time_zone: Some("America/New_York".to_owned()),
        })
    };
    let fields = EventPatch {
        summary: Some("Launch review, final".to_owned()),
        start: timed("2026-12-03T15:00:00"),
        end: timed("2026-12-03T16:00:00"),
        recurrence: Some(vec!["RRULE:FREQ=DAILY;COUNT=3".to_owned()]),
        attendees: Some(vec![Attendee {
            email: "dana@example.com".to_owned(),
            display_name: Some("Dana".to_owned()),
            response_status: "needsAction".to_owned(),
            comment: None,
            optional: false,
        }]),
        reminders: Some(Reminders {
            use_default: false,
            overrides: vec![ReminderOverride {
                method: "popup".to_owned(),
                minutes: 10,
            }],
        }),
        ..EventPatch::default()
    };
    let stored = new_event(fields, chrono_tz::UTC).unwrap();
    let object = new_object(&stored, "launch-review@gateway", Utc::now()).unwrap();
    let href = format!("{collection}launch-review.ics");
    let written = put(dav, &href, object, Precondition::Absent).await.unwrap();
    assert!(
        matches!(written, Written::Done(_)),
        "{written:?}: {}",
        server.log()
    );

    let events = server.python_client("read_events.py", collection, credentials, "");
    let event = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["uid"] == "launch-review@gateway")
        .unwrap_or_else(|| panic!("{events}"));
    assert_eq!(event["summary"], "Launch review, final");
    assert_eq!(event["start"], "2026-12-03T15:00:00-05:00");
    assert_eq!(event["end"], "2026-12-03T16:00:00-05:00");
    assert_eq!(event["zone"], "America/New_York");
    assert_eq!(event["rrule"], "FREQ=DAILY;COUNT=3");
    assert_eq!(
        event["attendees"],
        serde_json::json!(["mailto:dana@example.com"])
    );
    assert_eq!(event["alarms"], serde_json::json!(["-PT10M"]));
}

#[tokio::test]
async fn a_composed_event_reads_back_in_another_client_on_radicale() {
    let server = radicale().await;
    server
        .make_calendar(USERS[1], "/bob/plans/", "Plans", "VEVENT")
        .await;
    let dav = server.client(Some(USERS[1]));
    composed_event_reads_back_in_another_client(&server, &dav, "/bob/plans/", Some(USERS[1])).await;
}

#[tokio::test]
async fn a_composed_event_reads_back_in_another_client_on_xandikos() {
    let server = xandikos().await;
    let dav = server.client(None);
    composed_event_reads_back_in_another_client(&server, &dav, "/user/calendars/calendar/", None)
        .await;
}
