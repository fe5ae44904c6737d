//! The MCP side: an rmcp server whose tools are the calendar operations,
//! served over streamable HTTP. Every `tools/list` and `tools/call` first finds
//! the [`Grant`] that admission attached to the HTTP request, and the scope
//! checks ([`crate::admission::scope`]) run before any tool: a refused call never
//! reaches the backend.

pub mod output;
pub mod params;
pub mod session;
mod tool_support;
mod tools;

use std::sync::Arc;
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ErrorCode, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::admission::grant::Grant;
use crate::admission::scope;
use crate::audit::{AuditLog, Outcome, ToolCall};
use crate::calendar::CalendarAccounts;
use crate::seclog::SecurityLog;

/// JSON-RPC error code for a call the token does not permit.
const FORBIDDEN: ErrorCode = ErrorCode(-32003);

/// The MCP server: one per session, all sharing one set of backends.
#[derive(Clone)]
pub struct CalendarServer {
    /// Where the calendar data lives.
    accounts: Arc<dyn CalendarAccounts>,
    /// Where scope denials are written.
    seclog: Arc<SecurityLog>,
    /// Where every tool call is recorded.
    audit: Arc<AuditLog>,
    /// Built once per gateway and shared by every session; `#[tool_handler]`
    /// dispatches through it.
    tool_router: Arc<ToolRouter<CalendarServer>>,
}

impl CalendarServer {
    /// A server over `accounts`, dispatching through `tool_router`.
    pub fn new(
        accounts: Arc<dyn CalendarAccounts>,
        seclog: Arc<SecurityLog>,
        audit: Arc<AuditLog>,
        tool_router: Arc<ToolRouter<CalendarServer>>,
    ) -> CalendarServer {
        CalendarServer {
            accounts,
            seclog,
            audit,
            tool_router,
        }
    }
}

/// The grant admission attached to the HTTP request behind this message.
pub(crate) fn grant_of(extensions: &rmcp::model::Extensions) -> Result<Grant, ErrorData> {
    extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Grant>())
        .cloned()
        // Unreachable through the gateway's HTTP layer; fail closed all the same.
        .ok_or_else(|| ErrorData::new(FORBIDDEN, "no admission grant for this request", None))
}

const INSTRUCTIONS: &str = "Calendar tools. Times are RFC 3339; zones are IANA names. Start with get_access_info \
(what this token may do), list_calendars or get_current_time. Recurring events appear as instances whose ids are \
<seriesId>_<start>; update_event and delete_event take a scope (thisInstance, thisAndFollowing, all). Errors name \
the argument that is wrong.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CalendarServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "mcp-gateway",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS.to_owned())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let grant = grant_of(&context.extensions)?;
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|t| scope::tool_visible(&t.name, &grant))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let grant = grant_of(&context.extensions)?;
        let started = Instant::now();
        let tool = request.name.to_string();
        let calendars = scope::calendars_touched(&tool, request.arguments.as_ref());
        let audit = |outcome: Outcome| {
            self.audit.record(&ToolCall {
                tool: &tool,
                client: &grant.identity().id,
                ip: grant.client_ip(),
                token_id: grant.token_id(),
                calendars: &calendars,
                outcome,
                millis: started.elapsed().as_millis(),
            })
        };
        if let Err(denial) = scope::check_call(&tool, &calendars, &grant) {
            self.seclog
                .deny(&denial, grant.client_ip(), Some(&grant.identity().id));
            audit(Outcome::Refused);
            let detail = denial.detail.clone().unwrap_or_default();
            let message = match denial.reason {
                crate::denial::Reason::PermissionMissing => format!("permission denied: {detail}"),
                _ => format!("calendar not allowed for this token: {detail}"),
            };
            let data =
                json!({ "stage": "scope", "reason": denial.reason.label(), "detail": detail });
            return Err(ErrorData::new(FORBIDDEN, message, Some(data)));
        }
        let result = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await;
        audit(match &result {
            Ok(response) if response_is_error(response) => Outcome::ToolError,
            Ok(_) => Outcome::Ok,
            Err(_) => Outcome::Failed,
        });
        result
    }
}

/// Whether a tool response reports an error to the caller.
fn response_is_error(response: &CallToolResponse) -> bool {
    matches!(response, CallToolResponse::Complete(result) if result.is_error == Some(true))
}

/// The rmcp streamable HTTP service over `accounts`, accepting `allowed_hosts`,
/// and its session manager (through which idle sessions are closed).
pub fn http_service(
    accounts: Arc<dyn CalendarAccounts>,
    seclog: Arc<SecurityLog>,
    audit: Arc<AuditLog>,
    allowed_hosts: &[String],
    max_body: usize,
    session_idle: std::time::Duration,
    shutdown: CancellationToken,
) -> (
    StreamableHttpService<CalendarServer, LocalSessionManager>,
    Arc<LocalSessionManager>,
) {
    // Every session gets its own server value; the tool table is built once.
    let tool_router = Arc::new(CalendarServer::tool_router());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts.iter().cloned())
        .with_max_request_body_bytes(max_body)
        .with_cancellation_token(shutdown);
    let mut manager = LocalSessionManager::default();
    // The gateway closes idle sessions itself (crate::mcp::session); rmcp's own
    // keep-alive is only a safety net behind it.
    manager.session_config.keep_alive = Some(session_idle.saturating_mul(2));
    let manager = Arc::new(manager);
    let service = StreamableHttpService::new(
        move || {
            Ok(CalendarServer::new(
                Arc::clone(&accounts),
                Arc::clone(&seclog),
                Arc::clone(&audit),
                Arc::clone(&tool_router),
            ))
        },
        Arc::clone(&manager),
        config,
    );
    (service, manager)
}

#[cfg(test)]
mod tests {
    use super::{CalendarServer, scope};

    #[test]
    fn every_tool_has_a_scope_rule() {
        for tool in CalendarServer::tool_router().list_all() {
            assert_ne!(
                scope::requirement(&tool.name),
                scope::Requirement::Unknown,
                "{} has no rule in admission::scope",
                tool.name
            );
        }
    }
}
