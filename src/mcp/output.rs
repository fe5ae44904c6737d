//! Shaping tool results: JSON structured content plus a one-line summary, the
//! same JSON as text for clients that ignore structured content, and tool
//! errors that name the bad field.

use chrono_tz::Tz;
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::json;

use crate::calendar::CalendarError;
use crate::calendar::model::{Event, EventDateTime};
use crate::calendar::time::{render, resolve};

/// A successful result: `summary` for people, `value` (one of
/// [`crate::mcp::results`], or an event) for programs.
pub fn success(summary: String, value: &impl serde::Serialize) -> CallToolResult {
    // These types have string keys only: serialising them cannot fail.
    let value = serde_json::to_value(value).unwrap_or_default();
    let mut result = CallToolResult::structured(value);
    result.content.insert(0, ContentBlock::text(summary));
    result
}

/// A tool error the calling model can read and correct.
pub fn failure(error: &CalendarError) -> CallToolResult {
    let (code, field) = match error {
        CalendarError::InvalidArgument { field, .. } => ("invalid_argument", Some(field.clone())),
        CalendarError::NotFound { .. } => ("not_found", None),
        CalendarError::PermissionDenied(_) => ("permission_denied", None),
        CalendarError::Conflict(_) => ("conflict", None),
        CalendarError::Gone(_) => ("gone", None),
        CalendarError::Reauthorize(_) => ("reauthorization_required", None),
        CalendarError::Unavailable(_) => ("unavailable", None),
        CalendarError::Backend(detail) => {
            tracing::error!(%detail, "calendar backend failure");
            ("backend_unavailable", None)
        }
    };
    let message = error.to_string();
    let mut result = CallToolResult::structured_error(json!({
        "error": { "code": code, "field": field, "message": message }
    }));
    result.content.insert(0, ContentBlock::text(message));
    result
}

fn in_zone(value: &EventDateTime, zone: Tz) -> EventDateTime {
    match resolve("time", value) {
        Ok(when) => render(&when, zone),
        Err(_) => value.clone(),
    }
}

/// The event with its times expressed in `zone`.
pub fn event_in_zone(mut event: Event, zone: Tz) -> Event {
    event.start = in_zone(&event.start, zone);
    event.end = in_zone(&event.end, zone);
    event.original_start_time = event.original_start_time.map(|o| in_zone(&o, zone));
    event
}

/// A short human description of an event: `"Standup" 2026-03-02T09:00:00+01:00`.
pub fn describe(event: &Event) -> String {
    let when = event
        .start
        .date_time
        .as_deref()
        .or(event.start.date.as_deref())
        .unwrap_or("?");
    format!(
        "\"{}\" {when} (id {})",
        event.summary.as_deref().unwrap_or("(no title)"),
        event.id
    )
}
