//! Which stored bodies are in normal form ([`crate::calendar::listed`]): a
//! listing passes those on as text instead of decoding and serializing each.
//!
//! Each row names the format its body was written in (`body_format`): this
//! build's is [`BODY_FORMAT`] and the time-zone database it renders times
//! with. A row written by an older build — or by a replica still running
//! one, which leaves the column empty — is read through the decoder, and
//! rewritten in the current format when a store is opened ([`normalise`]).

use std::sync::LazyLock;

use rusqlite::{Connection, params};

use crate::calendar::listed::{decode_stored, normal_text};
use crate::calendar::time::parse_zone;

/// The version of the text `Event` serializes to. Bump it with any change
/// to that text (a field added, renamed, reordered or skipped otherwise):
/// `the_event_text_is_pinned` below fails until it is bumped and re-pinned.
const BODY_FORMAT: u32 = 1;

/// This build's format: [`BODY_FORMAT`] and the time-zone database version.
pub fn current() -> &'static str {
    static CURRENT: LazyLock<String> =
        LazyLock::new(|| format!("{BODY_FORMAT} tzdb {}", chrono_tz::IANA_TZDB_VERSION));
    &CURRENT
}

/// Adds the `body_format` column to a store made before it existed (its
/// rows then have none, and are rewritten by [`normalise`]).
pub fn add_column(conn: &mut Connection) -> rusqlite::Result<()> {
    // Immediate: replicas opening a new file at once would both find the
    // column missing and the second ALTER would fail.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let present: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_table_info('events') WHERE name = 'body_format')",
        [],
        |row| row.get(0),
    )?;
    if !present {
        tx.execute_batch("ALTER TABLE events ADD COLUMN body_format TEXT")?;
    }
    tx.commit()
}

/// How many rows one pass of [`normalise`] reads: memory stays bounded
/// whatever the size of the store.
const BATCH: i64 = 500;

/// Rewrites every body not in the current format in normal form; returns
/// how many were rewritten. A body that no longer decodes is left as it is:
/// reading it reports the corruption, as before.
pub fn normalise(conn: &mut Connection) -> anyhow::Result<usize> {
    // Immediate: replicas opening the same file at once wait for each
    // other instead of failing when one upgrades its read to a write.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut rewritten = 0;
    let mut after = i64::MIN;
    loop {
        let batch: Vec<(i64, String, String)> = tx
            .prepare(
                "SELECT e.rowid, e.body, c.time_zone FROM events e JOIN calendars c ON c.id = e.calendar_id
                 WHERE e.rowid > ?1 AND e.body_format IS NOT ?2 ORDER BY e.rowid LIMIT ?3",
            )?
            .query_map(params![after, current(), BATCH], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.0;
        for (rowid, body, zone) in batch {
            let (Ok(event), Ok(zone)) = (decode_stored(&body), parse_zone("time_zone", &zone))
            else {
                tracing::warn!(rowid, "stored event does not decode: left as it is");
                continue;
            };
            tx.prepare_cached("UPDATE events SET body = ?1, body_format = ?2 WHERE rowid = ?3")?
                .execute(params![normal_text(event, zone)?, current(), rowid])?;
            rewritten += 1;
        }
    }
    tx.commit()?;
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::BODY_FORMAT;
    use crate::calendar::model::{Attendee, Event, EventDateTime, ReminderOverride, Reminders};

    /// Rows marked with the current format are passed on as they are, so
    /// the text the `Event` type writes must not change under them.
    #[test]
    fn the_event_text_is_pinned() {
        let at = |text: &str| EventDateTime {
            date_time: Some(text.to_owned()),
            date: None,
            time_zone: Some("Europe/Berlin".to_owned()),
        };
        let event = Event {
            id: "e1".to_owned(),
            etag: "\"t\"".to_owned(),
            status: "confirmed".to_owned(),
            summary: Some("s".to_owned()),
            description: Some("d".to_owned()),
            location: Some("l".to_owned()),
            start: at("2026-03-02T09:00:00+01:00"),
            end: at("2026-03-02T10:00:00+01:00"),
            recurrence: vec!["RRULE:FREQ=DAILY".to_owned()],
            recurring_event_id: Some("r".to_owned()),
            original_start_time: Some(at("2026-03-02T09:00:00+01:00")),
            attendees: vec![Attendee {
                email: "a@example.org".to_owned(),
                display_name: Some("A".to_owned()),
                response_status: "accepted".to_owned(),
                comment: Some("c".to_owned()),
                optional: true,
            }],
            reminders: Some(Reminders {
                use_default: false,
                overrides: vec![ReminderOverride {
                    method: "popup".to_owned(),
                    minutes: 10,
                }],
            }),
            created: "2026-01-01T00:00:00.000Z".to_owned(),
            updated: "2026-01-02T00:00:00.000Z".to_owned(),
        };
        let berlin = r#""dateTime":"2026-03-02T09:00:00+01:00","timeZone":"Europe/Berlin""#;
        let expected = format!(
            r#"{{"id":"e1","etag":"\"t\"","status":"confirmed","summary":"s","description":"d","location":"l","start":{{{berlin}}},"end":{{"dateTime":"2026-03-02T10:00:00+01:00","timeZone":"Europe/Berlin"}},"recurrence":["RRULE:FREQ=DAILY"],"recurringEventId":"r","originalStartTime":{{{berlin}}},"attendees":[{{"email":"a@example.org","displayName":"A","responseStatus":"accepted","comment":"c","optional":true}}],"reminders":{{"useDefault":false,"overrides":[{{"method":"popup","minutes":10}}]}},"created":"2026-01-01T00:00:00.000Z","updated":"2026-01-02T00:00:00.000Z"}}"#
        );
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            expected,
            "the stored text of an event changed: bump BODY_FORMAT (now {BODY_FORMAT}) and pin the new text"
        );
        // Every optional field absent: what is skipped must stay skipped.
        let bare = Event {
            summary: None,
            description: None,
            location: None,
            start: EventDateTime {
                date: Some("2026-03-02".to_owned()),
                ..EventDateTime::default()
            },
            end: EventDateTime {
                date: Some("2026-03-03".to_owned()),
                ..EventDateTime::default()
            },
            recurrence: Vec::new(),
            recurring_event_id: None,
            original_start_time: None,
            attendees: Vec::new(),
            reminders: None,
            ..event
        };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"id":"e1","etag":"\"t\"","status":"confirmed","start":{"date":"2026-03-02"},"end":{"date":"2026-03-03"},"created":"2026-01-01T00:00:00.000Z","updated":"2026-01-02T00:00:00.000Z"}"#,
            "the stored text of an event changed: bump BODY_FORMAT (now {BODY_FORMAT}) and pin the new text"
        );
    }
}
