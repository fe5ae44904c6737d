//! Creates that a client may repeat: `create_event` takes an optional
//! `idempotencyKey`, and every backend turns it into the new event's id —
//! the embedded store's row key, Google's client-chosen event id, the
//! CalDAV object's `UID` (and name) — so that a second create with the same
//! key finds the first one instead of making another. MCP 2026-07-28 has no
//! stream resumption: a client that timed out re-sends, and this is what
//! keeps the re-send from booking the meeting twice.

use crate::calendar::CalendarError;
use crate::calendar::edits::Stored;
use crate::calendar::model::Event;
use crate::calendar::time::resolve;

/// Longest accepted idempotency key, in bytes.
pub const MAX_KEY_BYTES: usize = 128;

/// The id an idempotent create gives its event: 32 lowercase hex digits
/// (128 bits of SHA-256 over the client, the calendar and the key), which
/// every backend accepts as an id — Google's ids are base32hex, of which
/// lowercase hex is a subset. The client is part of it, so two clients
/// using the same key never meet each other's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationId(String);

impl CreationId {
    /// The id for `key`, sent by `client_id` to create in `calendar_id`; a
    /// key that is empty, too long, or holds spaces or control characters
    /// is refused, naming the argument.
    pub fn derive(
        client_id: &str,
        calendar_id: &str,
        key: &str,
    ) -> Result<CreationId, CalendarError> {
        let valid = !key.is_empty()
            && key.len() <= MAX_KEY_BYTES
            && key.chars().all(|c| c.is_ascii_graphic());
        if !valid {
            return Err(CalendarError::invalid(
                "idempotencyKey",
                format!("must be 1 to {MAX_KEY_BYTES} visible ASCII characters (a UUID, say)"),
            ));
        }
        // Lengths first: no two (client, calendar, key) triples hash the same input.
        let input = format!(
            "{}:{client_id}{}:{calendar_id}{key}",
            client_id.len(),
            calendar_id.len()
        );
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input.as_bytes());
        Ok(CreationId(hex::encode(&digest.as_ref()[..16])))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer to a create whose id exists already: the event the first
/// create made, when `existing` is that same event (summary, start and
/// end); else a conflict that says the key was used for another event, or
/// that the event it made has since been deleted.
pub fn answer_repeat(existing: Event, requested: &Stored) -> Result<Event, CalendarError> {
    if existing.is_cancelled() {
        return Err(deleted_since());
    }
    let instant = |field: &str, value| resolve(field, value).map(|w| w.instant(requested.zone));
    let same = existing.summary == requested.event.summary
        && instant("start", &existing.start)? == requested.start.instant(requested.zone)
        && instant("end", &existing.end)? == requested.end.instant(requested.zone);
    if !same {
        return Err(CalendarError::Conflict(format!(
            "idempotencyKey was already used to create a different event ({}); use a new key for a new event",
            existing.id
        )));
    }
    Ok(existing)
}

/// The conflict of a repeated create whose event was deleted meanwhile.
pub fn deleted_since() -> CalendarError {
    CalendarError::Conflict(
        "idempotencyKey: the event this key created has since been deleted; use a new key to create it again"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use chrono_tz::UTC;

    use super::{CreationId, answer_repeat};
    use crate::calendar::edits::new_event;
    use crate::calendar::model::{EventDateTime, EventPatch};

    #[test]
    fn ids_differ_by_client_calendar_and_key_and_are_hex() {
        let id = CreationId::derive("agent-a", "team", "k1").unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert!(
            id.as_str()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(id, CreationId::derive("agent-a", "team", "k1").unwrap());
        for other in [
            CreationId::derive("agent-b", "team", "k1"),
            CreationId::derive("agent-a", "ny", "k1"),
            CreationId::derive("agent-a", "team", "k2"),
            // The lengths keep the parts apart.
            CreationId::derive("agent-at", "eam", "k1"),
        ] {
            assert_ne!(id, other.unwrap());
        }
        for bad in ["", "has space", "tab\t", &"x".repeat(129), "é"] {
            let refused = CreationId::derive("agent-a", "team", bad).unwrap_err();
            assert!(
                refused.to_string().starts_with("idempotencyKey:"),
                "{refused}"
            );
        }
    }

    #[test]
    fn a_repeat_answers_with_the_first_event_only_if_it_is_the_same() {
        let at = |t: &str| EventDateTime {
            date_time: Some(t.to_owned()),
            ..EventDateTime::default()
        };
        let fields = |summary: &str, start: &str| EventPatch {
            summary: Some(summary.to_owned()),
            start: Some(at(start)),
            end: Some(at("2026-12-02T11:00:00Z")),
            ..EventPatch::default()
        };
        let first = new_event(fields("Review", "2026-12-02T10:00:00Z"), UTC).unwrap();
        let again = new_event(fields("Review", "2026-12-02T11:00:00+01:00"), UTC).unwrap();
        assert_eq!(
            answer_repeat(first.event.clone(), &again).unwrap().id,
            first.event.id
        );
        let other = new_event(fields("Other", "2026-12-02T10:00:00Z"), UTC).unwrap();
        let refused = answer_repeat(first.event.clone(), &other).unwrap_err();
        assert!(
            refused.to_string().contains("a different event"),
            "{refused}"
        );
        let mut deleted = first.event;
        deleted.cancel();
        let refused = answer_repeat(deleted, &again).unwrap_err();
        assert!(
            refused.to_string().contains("since been deleted"),
            "{refused}"
        );
    }
}
