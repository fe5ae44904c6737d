//! Paging a window of events the same way in every backend that pages by
//! itself (the embedded store, CalDAV): events in (start, id) order, a page
//! cursor that is where the last event of a page sorts, and the text filter.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::calendar::edits::Stored;
use crate::calendar::listed::ListedEvent;
use crate::calendar::model::Event;
use crate::calendar::{CalendarError, EventPage, EventQuery};

/// What a page cursor holds: where the last event of the page sorts, its
/// start (Unix seconds) and its id.
pub type Position = (i64, String);

/// Where `stored` sorts, borrowed: comparisons allocate nothing.
pub fn position(stored: &Stored) -> (i64, &str) {
    (
        stored.start.instant(stored.zone).timestamp(),
        &stored.event.id,
    )
}

/// Whether `stored` comes after the page cursor.
pub fn is_after(stored: &Stored, (at, id): &Position) -> bool {
    position(stored) > (*at, id.as_str())
}

/// Whether `needle` (case-insensitive) is in the event's summary,
/// description, location, or an attendee's address or name.
pub fn matches_text(event: &Event, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    [&event.summary, &event.description, &event.location]
        .into_iter()
        .flatten()
        .chain(event.attendees.iter().map(|a| &a.email))
        .chain(
            event
                .attendees
                .iter()
                .filter_map(|a| a.display_name.as_ref()),
        )
        .any(|text| text.to_lowercase().contains(&needle))
}

/// The page cursor after the event at `(start, id)` ([`position`]): opaque to clients.
pub fn encode_cursor((start, id): (i64, &str)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{start}:{id}"))
}

/// A page cursor read back; a token no listing made is an invalid argument.
pub fn decode_cursor(token: &str) -> Result<(i64, String), CalendarError> {
    let bad = CalendarError::bad_page_token;
    let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (at, id) = text.split_once(':').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

/// One page of a window held whole and sorted by [`position`] (as CalDAV's
/// time-range answer is, once expanded): the events after the query's
/// cursor that match its text, at most its page size, and the cursor of the
/// next page when more follow.
pub fn page(sorted: Vec<Stored>, query: &EventQuery) -> Result<EventPage, CalendarError> {
    let after = query.page_token.as_deref().map(decode_cursor).transpose()?;
    let mut matching = sorted.into_iter().filter(|stored| {
        after.as_ref().is_none_or(|cursor| is_after(stored, cursor))
            && query
                .text
                .as_deref()
                .is_none_or(|text| matches_text(&stored.event, text))
    });
    let items: Vec<Stored> = matching.by_ref().take(query.max_results).collect();
    let next_page_token = match matching.next() {
        Some(_) => items.last().map(|last| encode_cursor(position(last))),
        None => None,
    };
    Ok(EventPage {
        items: items
            .into_iter()
            .map(|stored| ListedEvent::from(stored.event))
            .collect(),
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::page;
    use crate::calendar::EventQuery;
    use crate::calendar::edits::{Stored, new_event};
    use crate::calendar::model::{EventDateTime, EventPatch};

    fn event(hour: u32, summary: &str) -> Stored {
        let at = |h: u32| EventDateTime {
            date_time: Some(format!("2026-12-02T{h:02}:00:00Z")),
            ..EventDateTime::default()
        };
        let mut stored = new_event(
            EventPatch {
                summary: Some(summary.to_owned()),
                start: Some(at(hour)),
                end: Some(at(hour + 1)),
                ..EventPatch::default()
            },
            chrono_tz::UTC,
        )
        .unwrap();
        stored.event.id = format!("e{hour:02}");
        stored
    }

    fn query(text: Option<&str>, max_results: usize, page_token: Option<String>) -> EventQuery {
        let day = Utc.with_ymd_and_hms(2026, 12, 2, 0, 0, 0).unwrap();
        EventQuery {
            time_min: day,
            time_max: day + Duration::days(1),
            text: text.map(str::to_owned),
            max_results,
            page_token,
        }
    }

    #[test]
    fn pages_follow_each_other_without_gap_or_repeat() {
        let all = || {
            (8..14)
                .map(|h| event(h, if h % 2 == 0 { "Standup" } else { "Review" }))
                .collect::<Vec<_>>()
        };
        let ids = |p: &crate::calendar::EventPage| {
            p.items
                .iter()
                .map(|e| e.clone().into_event().unwrap().id)
                .collect::<Vec<_>>()
        };
        let first = page(all(), &query(None, 4, None)).unwrap();
        assert_eq!(ids(&first), ["e08", "e09", "e10", "e11"]);
        let second = page(all(), &query(None, 4, first.next_page_token.clone())).unwrap();
        assert_eq!(ids(&second), ["e12", "e13"]);
        assert_eq!(second.next_page_token, None);
        // Text filter first, then the page: "review" matches 09, 11, 13.
        let reviews = page(all(), &query(Some("review"), 2, None)).unwrap();
        assert_eq!(ids(&reviews), ["e09", "e11"]);
        let rest = page(
            all(),
            &query(Some("review"), 2, reviews.next_page_token.clone()),
        )
        .unwrap();
        assert_eq!(ids(&rest), ["e13"]);
        // An exact page leaves no cursor behind.
        assert_eq!(
            page(all(), &query(None, 6, None)).unwrap().next_page_token,
            None
        );
        assert!(page(all(), &query(None, 2, Some("not a cursor".to_owned()))).is_err());
    }
}
