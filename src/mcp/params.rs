//! Tool arguments as JSON Schema-described structs: the doc comment of each
//! field is the description an MCP client shows its model.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::calendar::model::{Attendee, EventDateTime, EventPatch, Reminders, Rsvp, SeriesScope};

fn primary() -> String {
    "primary".to_owned()
}

/// Arguments of `list_calendars`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCalendarsParams {}

/// Arguments of `get_access_info` (none).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessInfoParams {}

/// Arguments of `list_events`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListEventsParams {
    /// Calendar id (default `primary`).
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// Window start, RFC 3339 (default: now).
    pub time_min: Option<String>,
    /// Window end, RFC 3339 (default: 365 days after timeMin).
    pub time_max: Option<String>,
    /// Free text matched against summary, description, location and attendees.
    pub query: Option<String>,
    /// Page size, 1-2500 (default 250). More results come with `nextPageToken`.
    pub max_results: Option<u32>,
    /// `nextPageToken` from the previous page.
    pub page_token: Option<String>,
    /// IANA zone for the times in the output (default: the calendar's zone).
    pub time_zone: Option<String>,
}

/// Arguments of `get_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetEventParams {
    /// Calendar id (default `primary`).
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// Event id, or an instance id `<seriesId>_<start>` from list_events.
    pub event_id: String,
    /// IANA zone for the times in the output (default: the calendar's zone).
    pub time_zone: Option<String>,
}

/// Arguments of `create_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEventParams {
    /// Calendar id (default `primary`).
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// Title.
    pub summary: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Free-text place.
    pub location: Option<String>,
    /// `{dateTime, timeZone}` for a timed event or `{date}` for an all-day one.
    pub start: EventDateTime,
    /// Same form as start; an all-day end date is exclusive (a one-day event on the 5th ends on the 6th).
    pub end: EventDateTime,
    /// Invitees.
    pub attendees: Option<Vec<Attendee>>,
    /// Reminders.
    pub reminders: Option<Reminders>,
    /// RFC 5545 lines such as `RRULE:FREQ=WEEKLY;BYDAY=MO` and `EXDATE;TZID=Europe/Berlin:20260309T090000`.
    pub recurrence: Option<Vec<String>>,
    /// IANA zone for the times in the output (default: the calendar's zone).
    pub time_zone: Option<String>,
    /// Optional key of your choosing (1-128 visible ASCII characters, e.g. a UUID): sending create_event again with the same key (after a timeout, say) returns the event the first call created instead of creating a second one.
    pub idempotency_key: Option<String>,
}

impl CreateEventParams {
    /// The event fields, without the addressing and output arguments.
    pub fn fields(&self) -> EventPatch {
        EventPatch {
            summary: self.summary.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            start: Some(self.start.clone()),
            end: Some(self.end.clone()),
            attendees: self.attendees.clone(),
            reminders: self.reminders.clone(),
            recurrence: self.recurrence.clone(),
        }
    }
}

/// Arguments of `update_event`: only the fields given change.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEventParams {
    /// Calendar id (default `primary`).
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// Event id, or an instance id `<seriesId>_<start>` from list_events.
    pub event_id: String,
    /// For recurring events: `thisInstance` (default for an instance id), `thisAndFollowing`, or `all` (default for a series id).
    pub scope: Option<SeriesScope>,
    /// New title.
    pub summary: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New place.
    pub location: Option<String>,
    /// New start.
    pub start: Option<EventDateTime>,
    /// New end.
    pub end: Option<EventDateTime>,
    /// Replaces the invitees.
    pub attendees: Option<Vec<Attendee>>,
    /// Replaces the reminders.
    pub reminders: Option<Reminders>,
    /// Replaces the recurrence lines (series only).
    pub recurrence: Option<Vec<String>>,
    /// IANA zone for the times in the output (default: the calendar's zone).
    pub time_zone: Option<String>,
}

impl UpdateEventParams {
    /// The patch to apply.
    pub fn patch(&self) -> EventPatch {
        EventPatch {
            summary: self.summary.clone(),
            description: self.description.clone(),
            location: self.location.clone(),
            start: self.start.clone(),
            end: self.end.clone(),
            attendees: self.attendees.clone(),
            reminders: self.reminders.clone(),
            recurrence: self.recurrence.clone(),
        }
    }
}

/// Arguments of `delete_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteEventParams {
    /// Calendar id (default `primary`).
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// Event id, or an instance id `<seriesId>_<start>` from list_events.
    pub event_id: String,
    /// For recurring events: `thisInstance` (default for an instance id), `thisAndFollowing`, or `all` (default for a series id).
    pub scope: Option<SeriesScope>,
}

/// Arguments of `respond_to_event`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondParams {
    /// Calendar id (default `primary`).
    #[serde(default = "primary")]
    pub calendar_id: String,
    /// Event or instance id.
    pub event_id: String,
    /// The responding attendee's email (must be on the event).
    pub attendee_email: String,
    /// `accepted`, `declined` or `tentative`.
    pub response: Rsvp,
    /// Optional note to the organiser.
    pub comment: Option<String>,
    /// IANA zone for the times in the output (default: the calendar's zone).
    pub time_zone: Option<String>,
}

/// Arguments of `get_freebusy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeBusyParams {
    /// Calendars to query (1-50).
    pub calendar_ids: Vec<String>,
    /// Window start, RFC 3339.
    pub time_min: String,
    /// Window end, RFC 3339; at most 90 days after timeMin.
    pub time_max: String,
    /// IANA zone for the output times (default UTC).
    pub time_zone: Option<String>,
}

/// Working hours for `find_free_slots`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkingHoursParams {
    /// Local start, `HH:MM`.
    pub start: String,
    /// Local end, `HH:MM` (after start).
    pub end: String,
    /// Working days, e.g. `["mon","tue","wed","thu","fri"]` (the default).
    pub days: Option<Vec<String>>,
}

/// Arguments of `find_free_slots`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreeSlotsParams {
    /// Calendars that must all be free (1-50).
    pub calendar_ids: Vec<String>,
    /// Minimum slot length in minutes (1-1440).
    pub duration_minutes: u32,
    /// Window start, RFC 3339.
    pub time_min: String,
    /// Window end, RFC 3339; at most 90 days after timeMin.
    pub time_max: String,
    /// Only propose slots inside these local hours.
    pub working_hours: Option<WorkingHoursParams>,
    /// IANA zone of the working hours and of the output (default UTC).
    pub time_zone: Option<String>,
    /// Most slots returned, 1-500 (default 20).
    pub max_results: Option<u32>,
}

/// Arguments of `get_current_time`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CurrentTimeParams {
    /// IANA zone (default UTC).
    pub time_zone: Option<String>,
}

/// Tool arguments deserialized with the path of any bad value in the error
/// (`maxResults: invalid type: string "ten", expected u32`), so the calling
/// model learns which argument to fix. The schema is the inner type's.
#[derive(Debug)]
pub struct Checked<T>(pub T);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Checked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_path_to_error::deserialize(deserializer)
            .map(Checked)
            .map_err(|e| {
                let path = e.path().to_string();
                if path == "." {
                    serde::de::Error::custom(e.into_inner())
                } else {
                    serde::de::Error::custom(format!("{path}: {}", e.into_inner()))
                }
            })
    }
}

impl<T: JsonSchema> JsonSchema for Checked<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::{Checked, CreateEventParams, GetEventParams, ListEventsParams};

    #[test]
    fn errors_name_the_argument_path() {
        let bad = serde_json::json!({ "maxResults": "ten" });
        let err = serde_json::from_value::<Checked<ListEventsParams>>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("maxResults: invalid type: string \"ten\""),
            "{err}"
        );
        let bad = serde_json::json!({ "start": { "dateTime": 5 }, "end": {} });
        let err = serde_json::from_value::<Checked<CreateEventParams>>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("start.dateTime: invalid type: integer"),
            "{err}"
        );
        let err = serde_json::from_value::<Checked<GetEventParams>>(serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "missing field `eventId`");
    }
}
