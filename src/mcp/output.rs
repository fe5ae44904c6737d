//! Shaping tool results: JSON structured content plus a one-line summary, the
//! same JSON as text for clients that ignore structured content, and tool
//! errors that name the bad field.

use chrono_tz::Tz;
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::json;

use crate::calendar::CalendarError;
use crate::calendar::listed::event_written_in;
use crate::calendar::model::Event;

/// A successful result: `summary` for people, `value` (one of
/// [`crate::mcp::results`], or an event) for programs.
/// Written once on the direct path ([`crate::mcp::structured`]).
pub fn success(summary: String, value: &impl serde::Serialize) -> CallToolResult {
    crate::mcp::structured::structured_result(summary, value)
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
    if !matches!(code, "invalid_argument" | "not_found") {
        crate::telemetry::backend_error(code);
    }
    let message = error.to_string();
    let mut result = CallToolResult::structured_error(json!({
        "error": { "code": code, "field": field, "message": message }
    }));
    result.content.insert(0, ContentBlock::text(message));
    result
}

/// The zone a tool writes an event's times in.
#[derive(Debug, Clone, Copy)]
pub struct OutputZone {
    /// The `timeZone` argument, else the calendar's zone.
    pub zone: Tz,
    /// Whether the caller asked for it: then every time is written in it;
    /// otherwise an event that has a zone of its own is written in that.
    pub requested: bool,
}

/// The event with its times written for `out`.
pub fn event_in_zone(event: Event, out: OutputZone) -> Event {
    event_written_in(event, out.zone, out.requested)
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
