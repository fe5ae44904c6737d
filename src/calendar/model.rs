//! The event model both backends speak: the shape of Google Calendar's Event
//! resource, so that a tool's output does not depend on where the data lives.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A calendar the client may address by `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    /// Stable identifier used by every other tool (`primary` always exists).
    pub id: String,
    /// Human-readable name.
    pub summary: String,
    /// IANA zone used for output and for all-day events when nothing else is asked.
    pub time_zone: String,
    /// Colour as calendar apps show it (`#RRGGBB`), when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// `#RRGGBB` from a colour a server keeps (`#RRGGBB`, or `#RRGGBBAA` as
/// Apple writes it); anything else is no colour.
pub fn rgb_color(value: &str) -> Option<String> {
    let hex = value.trim().strip_prefix('#')?;
    let valid = matches!(hex.len(), 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit());
    valid.then(|| format!("#{}", hex[..6].to_ascii_uppercase()))
}

/// A start or end: either a timed instant or an all-day date (Google's EventDateTime).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventDateTime {
    /// RFC 3339 date-time, e.g. `2026-03-02T09:00:00+01:00`. Without an offset, `timeZone` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    /// All-day date `YYYY-MM-DD`; an end date is exclusive, as in Google Calendar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// IANA zone, e.g. `Europe/Berlin`; recurring events repeat at the same local time in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// A person invited to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attendee {
    /// The attendee's email address: how RSVPs find them.
    pub email: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `needsAction`, `accepted`, `declined` or `tentative`.
    #[serde(default = "needs_action")]
    pub response_status: String,
    /// Optional note that came with the RSVP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether the attendee may skip the event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

fn needs_action() -> String {
    ResponseStatus::NeedsAction.as_str().to_owned()
}

/// One reminder override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReminderOverride {
    /// `email` or `popup`.
    pub method: String,
    /// Minutes before the start.
    pub minutes: u32,
}

/// Reminders of an event, as in Google Calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reminders {
    /// Use the calendar's default reminders.
    #[serde(default)]
    pub use_default: bool,
    /// Explicit reminders, used when `useDefault` is false.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<ReminderOverride>,
}

/// `Event::status` of an event that takes place.
pub const CONFIRMED: &str = "confirmed";
/// `Event::status` of a deleted event (or a deleted instance of a series).
pub const CANCELLED: &str = "cancelled";

/// An event or one instance of a recurring event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Identifier; an instance of a series is `<seriesId>_<originalStartUTC>`.
    pub id: String,
    /// Changes on every write; lets a client notice a concurrent change.
    pub etag: String,
    /// `confirmed` or `cancelled`.
    pub status: String,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Free-text place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Inclusive start.
    pub start: EventDateTime,
    /// Exclusive end.
    pub end: EventDateTime,
    /// RRULE / EXDATE / RDATE lines of a series master.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recurrence: Vec<String>,
    /// For an instance: the id of its series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring_event_id: Option<String>,
    /// For an instance: where the series placed it before any edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start_time: Option<EventDateTime>,
    /// Invitees and their RSVPs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    /// Reminders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Reminders>,
    /// RFC 3339 creation time (UTC).
    pub created: String,
    /// RFC 3339 time of the last change (UTC).
    pub updated: String,
}

impl Event {
    /// Whether the event (or instance) was deleted.
    pub fn is_cancelled(&self) -> bool {
        self.status == CANCELLED
    }

    /// Marks the event (or instance) deleted.
    pub fn cancel(&mut self) {
        self.status = CANCELLED.to_owned();
    }
}

/// The fields a client may set on create, or change on update (patch semantics:
/// an absent field is left alone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventPatch {
    /// Title.
    #[serde(default)]
    pub summary: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Free-text place.
    #[serde(default)]
    pub location: Option<String>,
    /// New start.
    #[serde(default)]
    pub start: Option<EventDateTime>,
    /// New end.
    #[serde(default)]
    pub end: Option<EventDateTime>,
    /// Replaces the invitee list.
    #[serde(default)]
    pub attendees: Option<Vec<Attendee>>,
    /// Replaces the reminders.
    #[serde(default)]
    pub reminders: Option<Reminders>,
    /// Replaces the RRULE / EXDATE / RDATE lines (series only).
    #[serde(default)]
    pub recurrence: Option<Vec<String>>,
}

/// Which part of a recurring series an update or delete applies to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SeriesScope {
    /// Only the addressed instance.
    #[default]
    ThisInstance,
    /// The addressed instance and every later one (the series is split).
    ThisAndFollowing,
    /// The whole series.
    All,
}

/// An attendee's answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Rsvp {
    /// Will attend.
    Accepted,
    /// Will not attend.
    Declined,
    /// Might attend.
    Tentative,
}

impl Rsvp {
    /// The `responseStatus` this answer leaves on the attendee.
    pub fn as_status(self) -> &'static str {
        match self {
            Rsvp::Accepted => ResponseStatus::Accepted.as_str(),
            Rsvp::Declined => ResponseStatus::Declined.as_str(),
            Rsvp::Tentative => ResponseStatus::Tentative.as_str(),
        }
    }
}

/// An attendee's `responseStatus`, as Google and the embedded store write
/// it: the one list of the values an attendee may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStatus {
    /// Not answered yet (a new attendee).
    NeedsAction,
    /// Will attend.
    Accepted,
    /// Will not attend.
    Declined,
    /// Might attend.
    Tentative,
}

impl ResponseStatus {
    /// Every status, in the order error messages list them.
    pub const ALL: [ResponseStatus; 4] = [
        ResponseStatus::NeedsAction,
        ResponseStatus::Accepted,
        ResponseStatus::Declined,
        ResponseStatus::Tentative,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseStatus::NeedsAction => "needsAction",
            ResponseStatus::Accepted => "accepted",
            ResponseStatus::Declined => "declined",
            ResponseStatus::Tentative => "tentative",
        }
    }

    /// The status a wire value names, if it is one.
    pub fn parse(value: &str) -> Option<ResponseStatus> {
        ResponseStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// A busy interval in RFC 3339 (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusyInterval {
    /// Inclusive start.
    pub start: String,
    /// Exclusive end.
    pub end: String,
}

#[cfg(test)]
mod tests {
    use super::{ResponseStatus, Rsvp, rgb_color};

    #[test]
    fn colours_are_rgb_or_nothing() {
        assert_eq!(rgb_color("#ff8800").as_deref(), Some("#FF8800"));
        assert_eq!(rgb_color(" #FF8800CC ").as_deref(), Some("#FF8800"));
        for junk in ["ff8800", "#ff88", "#gg8800", "red", "#ff8800<script>"] {
            assert_eq!(rgb_color(junk), None, "{junk}");
        }
    }

    /// Every answer leaves a status an attendee may carry, and every status
    /// reads back as itself.
    #[test]
    fn answers_and_statuses_are_one_list() {
        for answer in [Rsvp::Accepted, Rsvp::Declined, Rsvp::Tentative] {
            assert!(ResponseStatus::parse(answer.as_status()).is_some());
        }
        for status in ResponseStatus::ALL {
            assert_eq!(ResponseStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ResponseStatus::parse("Accepted"), None);
    }
}
