//! An event as a listing hands it to the tools: decoded, or its stored JSON
//! text as it is, when that text is already what the tools would write.
//!
//! The embedded store keeps every event in *normal form*: each timed start,
//! end and original start carries its own zone and is written in it, in the
//! text the current [`Event`] type and time-zone database write
//! ([`event_written_in`] changes nothing). A tool that writes an event in its
//! own zones (no `timeZone` asked) would write exactly that text, so a
//! listing passes it on ([`ListedEvent::Normal`]) instead of decoding every
//! event and serializing it again — two thirds of a week's listing.

use chrono_tz::Tz;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::calendar::CalendarError;
use crate::calendar::model::Event;
use crate::calendar::time::written_in;

/// One event of a page.
#[derive(Debug, Clone)]
pub enum ListedEvent {
    /// An event as a backend read it, times as the backend wrote them
    /// (boxed: a page of text entries stays small).
    Decoded(Box<Event>),
    /// The JSON text of an event in normal form (module docs), checked to
    /// be JSON when it was read.
    Normal(Box<RawValue>),
}

impl ListedEvent {
    /// The event, decoded when it is still text.
    pub fn into_event(self) -> Result<Event, CalendarError> {
        match self {
            ListedEvent::Decoded(event) => Ok(*event),
            ListedEvent::Normal(text) => decode_stored(text.get()),
        }
    }
}

/// Decodes an event's stored JSON text; text that does not decode is a
/// corrupt store, reported as the backend's failure.
pub fn decode_stored(text: &str) -> Result<Event, CalendarError> {
    serde_json::from_str(text)
        .map_err(|e| CalendarError::Backend(format!("corrupt stored event: {e}")))
}

impl From<Event> for ListedEvent {
    fn from(event: Event) -> ListedEvent {
        ListedEvent::Decoded(Box::new(event))
    }
}

/// Written as the event: the decoded one serialized, the text unchanged.
impl Serialize for ListedEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ListedEvent::Decoded(event) => event.serialize(serializer),
            ListedEvent::Normal(text) => text.serialize(serializer),
        }
    }
}

/// The text of `event` in normal form (module docs), its times without a
/// zone of their own written in `zone` (the calendar's): what the store
/// keeps and a listing passes on.
pub fn normal_text(event: Event, zone: Tz) -> serde_json::Result<String> {
    serde_json::to_string(&event_written_in(event, zone, false))
}

/// The event with its start, end and original start each written by
/// [`written_in`]: in `zone` when `forced`, else in its own zone, else in
/// `zone` (the calendar's). With `forced` false this is the normal form.
pub fn event_written_in(mut event: Event, zone: Tz, forced: bool) -> Event {
    event.start = written_in(&event.start, zone, forced);
    event.end = written_in(&event.end, zone, forced);
    event.original_start_time = event
        .original_start_time
        .map(|o| written_in(&o, zone, forced));
    event
}
