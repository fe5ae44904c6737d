//! What each tool returns as `structuredContent`, as types: the tools build
//! these, and the `outputSchema` every tool declares is generated from the same
//! types ([`crate::mcp::catalog`]), so the two cannot drift apart.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use chrono_tz::Tz;

use schemars::JsonSchema;
use serde::Serialize;

use crate::calendar::listed::ListedEvent;
use crate::calendar::model::{Calendar, Event};

/// `get_access_info`: who the client is and what its token allows.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccessInfo {
    /// The certificate identity.
    pub identity: String,
    /// The client address the gateway sees.
    pub client_ip: String,
    /// The token's permissions.
    pub permissions: Vec<String>,
    /// The token's calendars (`*` for all).
    pub calendars: Vec<String>,
    /// When the token expires (RFC 3339, UTC).
    pub token_expires_at: String,
    /// When the client certificate expires (RFC 3339, UTC).
    pub certificate_expires_at: String,
    /// Lowercase hex SHA-256 of the client certificate.
    pub certificate_sha256: String,
}

/// `list_calendars`: the calendars this token reaches.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CalendarList {
    /// Id, name and zone of each.
    pub calendars: Vec<Calendar>,
}

/// `list_events`: one page of events.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventList {
    /// The events, recurring series expanded into instances, in start order.
    #[schemars(with = "Vec<Event>")]
    pub items: Vec<ListedEvent>,
    /// Present when more events match: pass it back as `pageToken`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// The zone the times are written in.
    pub time_zone: String,
}

/// `delete_event`: what was deleted.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    /// The event or instance id.
    pub deleted: String,
    /// Its calendar.
    pub calendar_id: String,
}

/// A start and an end, RFC 3339.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Interval {
    /// Inclusive start.
    pub start: String,
    /// Exclusive end.
    pub end: String,
}

/// The busy intervals of one calendar.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Busy {
    /// Merged and sorted.
    pub busy: Vec<Interval>,
}

/// `get_freebusy`: busy intervals per calendar.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreeBusy {
    /// Window start.
    pub time_min: String,
    /// Window end.
    pub time_max: String,
    /// Calendar id → its busy intervals.
    pub calendars: BTreeMap<String, Busy>,
}

/// One free slot.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FreeSlot {
    /// Start, RFC 3339.
    pub start: String,
    /// End, RFC 3339.
    pub end: String,
    /// Length in minutes.
    pub minutes: i64,
}

/// `find_free_slots`: the slots found.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreeSlots {
    /// In start order.
    pub slots: Vec<FreeSlot>,
    /// The zone of the times and the working hours.
    pub time_zone: String,
}

/// `get_current_time`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentTime {
    /// Now, RFC 3339 in the zone.
    pub date_time: String,
    /// The IANA zone.
    pub time_zone: &'static str,
    /// English weekday name.
    pub weekday: &'static str,
    /// The zone's offset now, `+01:00`.
    pub utc_offset: String,
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl CurrentTime {
    /// `now` as seen in `zone`. Written without chrono's format strings
    /// (`%A`, `%:z`), which it parses again on every call: the offset is the
    /// tail of the RFC 3339 text, which chrono writes with the same
    /// formatter as `%:z` (minutes, with a colon, never `Z` here), and the
    /// weekday comes from a table.
    pub fn at(now: DateTime<Utc>, zone: Tz) -> CurrentTime {
        let local = now.with_timezone(&zone);
        let date_time = local.to_rfc3339_opts(SecondsFormat::Secs, false);
        let utc_offset = date_time[date_time.len() - "+00:00".len()..].to_owned();
        CurrentTime {
            date_time,
            time_zone: zone.name(),
            weekday: WEEKDAYS[local.weekday().num_days_from_monday() as usize],
            utc_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use chrono_tz::Tz;

    use super::CurrentTime;

    /// The same text as chrono's own format strings, in zones east and west
    /// of UTC, on whole, half and quarter hours, across a year of days.
    #[test]
    fn current_time_matches_chronos_format_strings() {
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "America/St_Johns",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
        ];
        let start: DateTime<Utc> = "2026-01-01T00:17:43Z".parse().unwrap();
        for name in zones {
            let zone: Tz = name.parse().unwrap();
            for step in 0..800 {
                let now = start + Duration::hours(11 * step);
                let time = CurrentTime::at(now, zone);
                let local = now.with_timezone(&zone);
                assert_eq!(
                    time.date_time,
                    local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
                );
                assert_eq!(
                    time.utc_offset,
                    local.format("%:z").to_string(),
                    "{name} {now}"
                );
                assert_eq!(time.weekday, local.format("%A").to_string(), "{name} {now}");
                assert_eq!(time.time_zone, name);
            }
        }
    }
}
