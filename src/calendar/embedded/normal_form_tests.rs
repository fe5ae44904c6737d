//! A listing passes stored bodies on as text (calendar::listed): that text
//! must be exactly what decoding the row and writing it for output gives,
//! for every kind of event the store keeps, and a row of an older format
//! must be read through the decoder until the next open rewrites it.

use chrono::{TimeZone, Utc};
use rusqlite::Connection;
use serde_json::json;

use crate::calendar::embedded::{EmbeddedStore, events, listing};
use crate::calendar::listed::{ListedEvent, event_written_in};
use crate::calendar::model::{EventDateTime, EventPatch, SeriesScope};
use crate::calendar::{EventPage, EventQuery};

/// The calendar's zone differs from the events' own: a body written in the
/// wrong one would show.
const CALENDAR_ZONE: &str = "America/New_York";

fn at(text: &str, zone: Option<&str>) -> EventDateTime {
    EventDateTime {
        date_time: Some(text.to_owned()),
        date: None,
        time_zone: zone.map(str::to_owned),
    }
}

fn day(date: &str) -> EventDateTime {
    EventDateTime {
        date: Some(date.to_owned()),
        ..EventDateTime::default()
    }
}

fn patch(summary: &str, start: EventDateTime, end: EventDateTime) -> EventPatch {
    EventPatch {
        summary: Some(summary.to_owned()),
        description: Some("line one\n\"quoted\" \u{e9}".to_owned()),
        start: Some(start),
        end: Some(end),
        ..EventPatch::default()
    }
}

/// One event of each kind: zoned, offset only (no zone), all-day, with
/// attendees, and an edited instance of a daily series across a DST change.
fn fill(conn: &Connection) {
    let mut zoned = patch(
        "zoned",
        at("2030-03-08T09:00:00", Some("Europe/Berlin")),
        at("2030-03-08T10:00:00", Some("Europe/Berlin")),
    );
    zoned.attendees = serde_json::from_value(json!([{"email": "a@example.org"}])).unwrap();
    events::create(conn, "primary", zoned, None).unwrap();
    let offset_only = patch(
        "offset only",
        at("2030-03-09T23:30:00+05:30", None),
        at("2030-03-10T01:00:00+05:30", None),
    );
    events::create(conn, "primary", offset_only, None).unwrap();
    events::create(
        conn,
        "primary",
        patch("all day", day("2030-03-10"), day("2030-03-11")),
        None,
    )
    .unwrap();
    let mut daily = patch(
        "daily",
        at("2030-03-07T08:00:00", Some("Asia/Tokyo")),
        at("2030-03-07T08:30:00", Some("Asia/Tokyo")),
    );
    daily.recurrence = Some(vec!["RRULE:FREQ=DAILY;COUNT=5".to_owned()]);
    let series = events::create(conn, "primary", daily, None).unwrap();
    let instance = format!("{}_20300308T230000Z", series.id);
    let moved = EventPatch {
        summary: Some("moved".to_owned()),
        ..EventPatch::default()
    };
    events::update(
        conn,
        "primary",
        &instance,
        moved,
        Some(SeriesScope::ThisInstance),
    )
    .unwrap();
}

fn week(conn: &Connection) -> EventPage {
    let query = EventQuery {
        time_min: Utc.with_ymd_and_hms(2030, 3, 5, 0, 0, 0).unwrap(),
        time_max: Utc.with_ymd_and_hms(2030, 3, 14, 0, 0, 0).unwrap(),
        text: None,
        max_results: 100,
        page_token: None,
    };
    listing::list(conn, "primary", &query).unwrap()
}

/// Each item as the tools write it with no zone asked: text as it is, a
/// decoded event written in its own zones.
fn as_written(page: EventPage) -> Vec<(bool, String)> {
    let zone = CALENDAR_ZONE.parse().unwrap();
    page.items
        .into_iter()
        .map(|item| match item {
            ListedEvent::Normal(text) => (true, text.get().to_owned()),
            decoded => {
                let event = event_written_in(decoded.into_event().unwrap(), zone, false);
                (false, serde_json::to_string(&event).unwrap())
            }
        })
        .collect()
}

#[test]
fn stored_text_is_what_the_decoded_event_writes_and_old_rows_are_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = EmbeddedStore::open(&path, CALENDAR_ZONE, &[]).unwrap();
    let written = {
        let conn = store.conn.lock().unwrap();
        fill(&conn);
        as_written(week(&conn))
    };
    // 5 daily instances (one edited, stored as a row), 3 one-off events.
    assert_eq!(written.len(), 8, "{written:?}");
    let passed_on = written.iter().filter(|(normal, _)| *normal).count();
    assert_eq!(
        passed_on, 4,
        "the one-off rows and the edited instance: {written:?}"
    );
    for (_, text) in &written {
        let zone = CALENDAR_ZONE.parse().unwrap();
        let event = ListedEvent::Normal(serde_json::from_str(text).unwrap())
            .into_event()
            .unwrap();
        let again = serde_json::to_string(&event_written_in(event, zone, false)).unwrap();
        assert_eq!(&again, text, "writing it for output changes nothing");
    }

    // Rows as an older build (or a replica running one) leaves them: no
    // format, and a body written another way (here: UTC offsets, no zone).
    {
        let conn = store.conn.lock().unwrap();
        let bodies: Vec<(String, String)> = conn
            .prepare("SELECT id, body FROM events")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (id, body) in bodies {
            let mut event: serde_json::Value = serde_json::from_str(&body).unwrap();
            for field in ["start", "end"] {
                let instant = event[field]["dateTime"].as_str().map(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .unwrap()
                        .with_timezone(&Utc)
                        .to_rfc3339()
                });
                if let Some(instant) = instant {
                    event[field] =
                        json!({ "dateTime": instant, "timeZone": event[field]["timeZone"] });
                }
            }
            conn.execute(
                "UPDATE events SET body = ?1, body_format = NULL WHERE id = ?2",
                rusqlite::params![event.to_string(), id],
            )
            .unwrap();
        }
        let read_through_decoder = as_written(week(&conn));
        assert!(read_through_decoder.iter().all(|(normal, _)| !normal));
        assert_eq!(texts(&read_through_decoder), texts(&written));
    }
    drop(store);

    let reopened = EmbeddedStore::open(&path, CALENDAR_ZONE, &[]).unwrap();
    let conn = reopened.conn.lock().unwrap();
    let rewritten = as_written(week(&conn));
    assert_eq!(
        rewritten, written,
        "rewritten at open, passed on as text again"
    );
}

fn texts(items: &[(bool, String)]) -> Vec<&str> {
    items.iter().map(|(_, text)| text.as_str()).collect()
}
