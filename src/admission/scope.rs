//! Scope, per MCP message: which permission each tool needs and which
//! calendars a call touches, checked against the [`Grant`] before the tool
//! runs. Pure functions, so the whole table is easy to test.

use serde_json::{Map, Value};

use crate::admission::grant::{Grant, Permission};
use crate::denial::{Denial, Reason};

/// What calling a tool requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// This permission.
    Permission(Permission),
    /// Only a valid token (`get_access_info`).
    ValidToken,
    /// Nothing is known about this name: refused, so a tool added without a
    /// rule here fails closed instead of being open to every token.
    Unknown,
}

/// The rule for `tool`.
pub fn requirement(tool: &str) -> Requirement {
    match tool {
        "list_calendars" | "list_events" | "get_event" | "get_freebusy" | "find_free_slots"
        | "get_current_time" => Requirement::Permission(Permission::ReadCalendars),
        "create_event" => Requirement::Permission(Permission::CreateEvents),
        "update_event" | "respond_to_event" => Requirement::Permission(Permission::UpdateEvents),
        "delete_event" => Requirement::Permission(Permission::DeleteEvents),
        "get_access_info" => Requirement::ValidToken,
        _ => Requirement::Unknown,
    }
}

/// The calendar ids a call would touch, read from its arguments the way the
/// tools read them (`calendarId` defaults to `primary`; `calendarIds` lists several).
pub fn calendars_touched(tool: &str, arguments: Option<&Map<String, Value>>) -> Vec<String> {
    let get = |key: &str| arguments.and_then(|a| a.get(key));
    match tool {
        "get_freebusy" | "find_free_slots" => match get("calendarIds") {
            Some(Value::Array(ids)) => ids
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        },
        "list_events" | "get_event" | "create_event" | "update_event" | "delete_event"
        | "respond_to_event" => {
            match get("calendarId") {
                Some(Value::String(id)) => vec![id.clone()],
                // A non-string id fails the tool's own argument check; "primary" is what an absent one means.
                _ => vec!["primary".to_owned()],
            }
        }
        _ => Vec::new(),
    }
}

/// Whether `tools/list` shows `tool` to this grant.
pub fn tool_visible(tool: &str, grant: &Grant) -> bool {
    match requirement(tool) {
        Requirement::Permission(p) => grant.permits(p),
        Requirement::ValidToken => true,
        Requirement::Unknown => false,
    }
}

/// Admits or refuses one tool call that touches `calendars` (from [`calendars_touched`]).
pub fn check_call(tool: &str, calendars: &[String], grant: &Grant) -> Result<(), Denial> {
    match requirement(tool) {
        Requirement::Permission(permission) if !grant.permits(permission) => {
            let detail = format!("{tool} needs {}", permission.name());
            return Err(Denial::new(Reason::PermissionMissing).with_detail(detail));
        }
        Requirement::Unknown => {
            let detail = format!("no permission rule for tool {tool}");
            return Err(Denial::new(Reason::PermissionMissing).with_detail(detail));
        }
        Requirement::Permission(_) | Requirement::ValidToken => {}
    }
    for calendar in calendars {
        if !grant.calendars().allows(calendar) {
            return Err(Denial::new(Reason::CalendarNotAllowed).with_detail(calendar.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        Grant, Map, Permission, Reason, Value, calendars_touched, check_call, tool_visible,
    };
    use crate::admission::grant::CalendarScope;
    use crate::identity::ClientIdentity;
    use serde_json::json;

    fn grant(permissions: &[Permission], calendars: CalendarScope) -> Grant {
        let identity = ClientIdentity {
            id: "a".into(),
            fingerprint_sha256: String::new(),
            x5t_s256: String::new(),
            not_after: chrono::Utc::now(),
        };
        Grant::new(
            identity,
            "127.0.0.1".parse().unwrap(),
            permissions.iter().copied().collect(),
            calendars,
            chrono::Utc::now(),
            "j".into(),
        )
    }

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn permissions_gate_tools() {
        let reader = grant(&[Permission::ReadCalendars], CalendarScope::All);
        assert!(
            check_call(
                "list_events",
                &calendars_touched("list_events", None),
                &reader
            )
            .is_ok()
        );
        let denied = check_call(
            "delete_event",
            &calendars_touched("delete_event", Some(&args(json!({"eventId": "x"})))),
            &reader,
        )
        .unwrap_err();
        assert_eq!(
            (denied.reason, denied.detail.as_deref()),
            (
                Reason::PermissionMissing,
                Some("delete_event needs deleteEvents")
            )
        );
        assert!(tool_visible("get_access_info", &reader));
        assert!(!tool_visible("create_event", &reader));
    }

    #[test]
    fn every_calendar_touched_must_be_in_scope() {
        let team_only = grant(
            &Permission::ALL,
            CalendarScope::Only(["team".to_owned()].into()),
        );
        assert!(
            check_call(
                "get_event",
                &calendars_touched("get_event", Some(&args(json!({"calendarId": "team"})))),
                &team_only
            )
            .is_ok()
        );
        let implicit = check_call(
            "get_event",
            &calendars_touched("get_event", Some(&args(json!({"eventId": "e"})))),
            &team_only,
        )
        .unwrap_err();
        assert_eq!(
            (implicit.reason, implicit.detail.as_deref()),
            (Reason::CalendarNotAllowed, Some("primary"))
        );
        let several = check_call(
            "get_freebusy",
            &calendars_touched(
                "get_freebusy",
                Some(&args(json!({"calendarIds": ["team", "ceo"]}))),
            ),
            &team_only,
        )
        .unwrap_err();
        assert_eq!(several.detail.as_deref(), Some("ceo"));
    }
}
