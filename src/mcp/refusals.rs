//! How the MCP layer says no to a tool call: a call of a tool that does
//! not exist (-32602, naming the tools the token can call: never a
//! permission error, which would send an OAuth-aware client off for more
//! scope), and a scope or rate refusal (its one security line, and -32003
//! naming what is missing or -32029 saying when to retry).

use rmcp::ErrorData;
use serde_json::json;

use crate::denial::{Denial, Reason};
use crate::mcp::CalendarServer;
use crate::policy::grant::Grant;
use crate::policy::scope;
use rmcp::model::ErrorCode;

impl CalendarServer {
    /// The answer to a call of a tool that does not exist: -32602, naming the
    /// tools this token can call.
    pub(crate) fn unknown_tool(&self, tool: &str, grant: &Grant) -> ErrorData {
        let callable: Vec<String> = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| scope::tool_visible(&t.name, grant))
            .map(|t| t.name.to_string())
            .collect();
        let shown: String = tool.chars().take(64).collect();
        ErrorData::invalid_params(
            format!(
                "unknown tool `{shown}`; this token can call: {}",
                callable.join(", ")
            ),
            Some(json!({ "reason": "unknown_tool", "tools": callable })),
        )
    }

    /// A refusal of a tool call (scope or rate): its one security line, and the
    /// JSON-RPC error that names what is missing (-32003) or when to retry (-32029).
    pub(crate) fn refusal(&self, grant: &Grant, denial: &Denial) -> ErrorData {
        self.seclog
            .deny(denial, grant.client_ip(), Some(grant.identity().id()));
        let detail = denial.detail.clone().unwrap_or_default();
        let stage = denial.reason.stage().label();
        let reason = denial.reason.label();
        match denial.reason {
            Reason::RateLimited => {
                let wait = denial.retry_after.map_or(1, |w| w.as_secs());
                let data = json!({ "stage": stage, "reason": reason, "retryAfterSeconds": wait });
                ErrorData::new(
                    ErrorCode(denial.reason.rpc_code() as i32),
                    format!("rate limited: {detail}"),
                    Some(data),
                )
            }
            Reason::PermissionMissing => {
                let data = json!({ "stage": stage, "reason": reason, "detail": detail });
                ErrorData::new(
                    ErrorCode(denial.reason.rpc_code() as i32),
                    format!("permission denied: {detail}"),
                    Some(data),
                )
            }
            _ => {
                let data = json!({ "stage": stage, "reason": reason, "detail": detail });
                let message = format!("calendar not allowed for this token: {detail}");
                ErrorData::new(
                    ErrorCode(denial.reason.rpc_code() as i32),
                    message,
                    Some(data),
                )
            }
        }
    }
}
