//! Scope, per MCP message: the one table of tools — the permission each needs
//! and how it names calendars — checked against the [`Grant`] before a tool
//! runs. The calendars themselves are checked where a tool turns its typed
//! arguments into [`crate::policy::grant::CalendarRef`]s (the only handle a
//! backend accepts), so there is no second reading of raw arguments to drift.

use crate::denial::{Denial, Reason};
use crate::policy::grant::{Grant, Permission};

/// What calling a tool requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// This permission.
    Permission(Permission),
    /// Only a valid token (`get_access_info`).
    ValidToken,
}

/// How a tool names the calendars it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarArgs {
    /// It touches none (or, like `list_calendars`, only lists those in scope).
    None,
    /// `calendarId`, default `primary`.
    One,
    /// `calendarIds`, a list.
    Many,
}

/// One row of the tool table.
#[derive(Debug, Clone, Copy)]
pub struct ToolRule {
    /// The MCP tool name.
    pub name: &'static str,
    /// What the token must carry.
    pub requirement: Requirement,
    /// Which argument names calendars.
    pub calendars: CalendarArgs,
}

const fn rule(name: &'static str, permission: Permission, calendars: CalendarArgs) -> ToolRule {
    ToolRule {
        name,
        requirement: Requirement::Permission(permission),
        calendars,
    }
}

/// Every tool the gateway serves. A tool missing here is refused to every
/// token (and a unit test fails), never open to all.
pub const TOOLS: &[ToolRule] = &[
    ToolRule {
        name: "get_access_info",
        requirement: Requirement::ValidToken,
        calendars: CalendarArgs::None,
    },
    rule(
        "list_calendars",
        Permission::ReadCalendars,
        CalendarArgs::None,
    ),
    rule("list_events", Permission::ReadCalendars, CalendarArgs::One),
    rule("get_event", Permission::ReadCalendars, CalendarArgs::One),
    rule(
        "get_freebusy",
        Permission::ReadCalendars,
        CalendarArgs::Many,
    ),
    rule(
        "find_free_slots",
        Permission::ReadCalendars,
        CalendarArgs::Many,
    ),
    rule(
        "get_current_time",
        Permission::ReadCalendars,
        CalendarArgs::None,
    ),
    rule("create_event", Permission::CreateEvents, CalendarArgs::One),
    rule("update_event", Permission::UpdateEvents, CalendarArgs::One),
    rule(
        "respond_to_event",
        Permission::UpdateEvents,
        CalendarArgs::One,
    ),
    rule("delete_event", Permission::DeleteEvents, CalendarArgs::One),
];

impl ToolRule {
    /// Whether calling the tool changes a calendar (it spends the write budget).
    pub fn writes(&self) -> bool {
        !matches!(
            self.requirement,
            Requirement::ValidToken | Requirement::Permission(Permission::ReadCalendars)
        )
    }
}

/// The rule for `tool`, if it is one the gateway serves.
pub fn rule_for(tool: &str) -> Option<&'static ToolRule> {
    TOOLS.iter().find(|r| r.name == tool)
}

/// Whether `tools/list` shows `tool` to this grant.
pub fn tool_visible(tool: &str, grant: &Grant) -> bool {
    rule_for(tool).is_some_and(|rule| check_permission(rule, grant).is_ok())
}

/// Admits or refuses a call of the tool `rule` describes, by its permission
/// (a name the gateway does not serve has no rule: callers answer it as an
/// unknown tool). Its calendars are checked as the tool names them
/// ([`Grant::calendar`]).
pub fn check_permission(rule: &ToolRule, grant: &Grant) -> Result<(), Denial> {
    match rule.requirement {
        Requirement::Permission(permission) if !grant.permits(permission) => {
            let detail = format!("{} needs {}", rule.name, permission.name());
            Err(Denial::new(Reason::PermissionMissing).with_detail(detail))
        }
        Requirement::Permission(_) | Requirement::ValidToken => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Grant, Permission, Reason, check_permission, rule_for, tool_visible};
    use crate::policy::grant::CalendarScope;

    #[test]
    fn permissions_gate_tools() {
        let reader = Grant::for_tests(&[Permission::ReadCalendars], CalendarScope::All);
        let rule = |name| rule_for(name).unwrap();
        assert!(check_permission(rule("list_events"), &reader).is_ok());
        let denied = check_permission(rule("delete_event"), &reader).unwrap_err();
        assert_eq!(
            (denied.reason, denied.detail.as_deref()),
            (
                Reason::PermissionMissing,
                Some("delete_event needs deleteEvents")
            )
        );
        // A name with no rule is shown to nobody.
        assert!(rule_for("drop_calendars").is_none());
        assert!(!tool_visible("drop_calendars", &reader));
        assert!(tool_visible("get_access_info", &reader));
        assert!(!tool_visible("create_event", &reader));
    }

    #[test]
    fn only_calendars_in_scope_become_handles() {
        let team_only = Grant::for_tests(
            &Permission::ALL,
            CalendarScope::Only(["team".to_owned()].into()),
        );
        assert_eq!(team_only.calendar("team").unwrap().id(), "team");
        let refused = team_only.calendar("primary").unwrap_err();
        assert_eq!(
            (refused.reason, refused.detail.as_deref()),
            (Reason::CalendarNotAllowed, Some("primary"))
        );
        // Ids are compared exactly: no case folding, no trimming.
        assert!(team_only.calendar("Team").is_err());
        assert!(team_only.calendar("team ").is_err());
    }
}
