//! The MCP side: an rmcp server whose tools are the calendar operations,
//! served over streamable HTTP. Every `tools/list` and `tools/call` first finds
//! the [`Grant`] that admission attached to the HTTP request, and the scope
//! checks ([`crate::policy::scope`]) run before any tool: a refused call never
//! reaches the backend.

pub mod catalog;
pub mod direct;
pub mod header_names;
pub mod output;
pub mod params;
pub mod plain_request;
mod refusals;
pub mod results;
pub mod session;
pub mod strict_json;
mod structured;
mod tool_lists;
mod tool_support;
mod tools;

use std::sync::Arc;
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestMethod, CompleteRequestParams,
    CompleteResult, ErrorCode, Implementation, ListPromptsRequestMethod, ListPromptsResult,
    ListResourceTemplatesRequestMethod, ListResourceTemplatesResult, ListResourcesRequestMethod,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use tokio_util::sync::CancellationToken;

use crate::calendar::CalendarAccounts;
use crate::observe::audit::{AuditLog, Outcome, ToolCall};
use crate::observe::seclog::SecurityLog;
use crate::policy::grant::{CalendarRef, Grant};
use crate::policy::rate::RateLimits;
use crate::policy::scope;

/// JSON-RPC error code for a call the token does not permit (from the refusal table).
const FORBIDDEN: ErrorCode = ErrorCode(crate::denial::FORBIDDEN as i32);

/// The protocol revisions this gateway serves (and the README lists): what
/// `initialize` may agree to, what `server/discover` advertises, and what
/// an `MCP-Protocol-Version` header may name. rmcp also knows 2024-11-05,
/// which nobody tests here.
pub const PROTOCOL_VERSIONS: &[ProtocolVersion] = &[
    ProtocolVersion::V_2025_03_26,
    ProtocolVersion::V_2025_06_18,
    ProtocolVersion::V_2025_11_25,
    ProtocolVersion::V_2026_07_28,
];

/// The MCP server: one per session, all sharing one set of backends.
#[derive(Clone)]
pub struct CalendarServer {
    /// Where the calendar data lives.
    accounts: Arc<dyn CalendarAccounts>,
    /// Where scope denials are written.
    seclog: Arc<SecurityLog>,
    /// Where every tool call is recorded.
    audit: Arc<AuditLog>,
    /// Read and write budgets per client.
    rate: Arc<RateLimits>,
    /// Built once per gateway and shared by every session; `#[tool_handler]`
    /// dispatches through it.
    tool_router: Arc<ToolRouter<CalendarServer>>,
}

/// What every tool call needs besides its arguments, shared by all sessions.
#[derive(Clone)]
pub struct ToolDeps {
    /// Where the calendar data lives.
    pub accounts: Arc<dyn CalendarAccounts>,
    /// Where scope and rate refusals are written.
    pub seclog: Arc<SecurityLog>,
    /// Where every tool call is recorded.
    pub audit: Arc<AuditLog>,
    /// Read and write budgets per client.
    pub rate: Arc<RateLimits>,
}

impl CalendarServer {
    /// A server over `deps`, dispatching through `tool_router`.
    pub fn new(deps: ToolDeps, tool_router: Arc<ToolRouter<CalendarServer>>) -> CalendarServer {
        let ToolDeps {
            accounts,
            seclog,
            audit,
            rate,
        } = deps;
        CalendarServer {
            accounts,
            seclog,
            audit,
            rate,
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

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        std::borrow::Cow::Borrowed(PROTOCOL_VERSIONS)
    }

    // Only `tools` is declared: the methods of the other capabilities are
    // unknown here (-32601), not empty lists a client would take as an answer.
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListPromptsRequestMethod>())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListResourcesRequestMethod>())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Err(ErrorData::method_not_found::<
            ListResourceTemplatesRequestMethod,
        >())
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Err(ErrorData::method_not_found::<CompleteRequestMethod>())
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
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let grant = grant_of(&context.extensions)?;
        let started = Instant::now();
        let tool = request.name.to_string();
        // One lookup per call; names the gateway does not serve count as `unknown`.
        let rule = scope::rule_for(&tool);
        let metric_label = rule.map_or("unknown", |rule| rule.name);
        // Filled by the tool as it checks the calendars it names.
        let touched = CallCalendars::default();
        context.extensions.insert(touched.clone());
        let audit = |outcome: Outcome| {
            crate::telemetry::tool_call(metric_label, outcome.label(), started.elapsed());
            self.audit.record(&ToolCall {
                tool: &tool,
                client: grant.identity().id(),
                ip: grant.client_ip(),
                token_id: grant.token_id(),
                calendars: &touched.list(),
                outcome,
                millis: started.elapsed().as_millis(),
            })
        };
        let Some(rule) = rule else {
            // A typo, not a missing permission: a permission error would send
            // an OAuth-aware client off to ask for more scope.
            audit(Outcome::Failed);
            return Err(self.unknown_tool(&tool, &grant));
        };
        if let Err(denial) = scope::check_permission(rule, &grant) {
            audit(Outcome::Refused);
            return Err(self.refusal(&grant, &denial));
        }
        if let Err(denial) = self.rate.check_tool(grant.identity().id(), rule.writes()) {
            audit(Outcome::Refused);
            return Err(self.refusal(&grant, &denial));
        }
        let result = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await;
        audit(match &result {
            Ok(response) if response_is_error(response) => Outcome::ToolError,
            Ok(_) => Outcome::Ok,
            Err(e) if e.code == FORBIDDEN => Outcome::Refused,
            Err(_) => Outcome::Failed,
        });
        result
    }
}

/// The calendars one tool call named, in order, for its audit line.
#[derive(Clone, Default)]
pub(crate) struct CallCalendars(Arc<std::sync::Mutex<Vec<String>>>);

impl CallCalendars {
    fn push(&self, id: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id.to_owned());
    }

    fn list(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl CalendarServer {
    /// `id` as a handle the backend accepts, checked against the token's
    /// calendars: recorded for the audit line, refused (logged, -32003) when
    /// out of scope. The only way a tool can name a calendar to a backend.
    pub(crate) fn calendar(
        &self,
        context: &RequestContext<RoleServer>,
        id: &str,
    ) -> Result<CalendarRef, ErrorData> {
        let grant = grant_of(&context.extensions)?;
        if let Some(touched) = context.extensions.get::<CallCalendars>() {
            touched.push(id);
        }
        grant
            .calendar(id)
            .map_err(|denial| self.refusal(&grant, &denial))
    }

    /// Every id of a `calendarIds` list as checked handles; the first one out
    /// of scope refuses the call.
    pub(crate) fn calendars(
        &self,
        context: &RequestContext<RoleServer>,
        ids: &[String],
    ) -> Result<Vec<CalendarRef>, ErrorData> {
        ids.iter().map(|id| self.calendar(context, id)).collect()
    }
}

/// Whether a tool response reports an error to the caller.
fn response_is_error(response: &CallToolResponse) -> bool {
    matches!(response, CallToolResponse::Complete(result) if result.is_error == Some(true))
}

/// What serves MCP over HTTP: rmcp's streamable HTTP service, its session
/// manager (through which idle sessions are closed), and the direct way for
/// plain stateless calls.
pub struct McpService {
    /// rmcp's service: sessions, streams, and every request not answered directly.
    pub rmcp: StreamableHttpService<CalendarServer, LocalSessionManager>,
    /// rmcp's session table.
    pub sessions: Arc<LocalSessionManager>,
    /// Plain stateless `tools/call` and `tools/list`, without rmcp's per-request tasks.
    pub direct: direct::DirectCalls,
}

/// The MCP service over `deps`, accepting `allowed_hosts`. Must run inside the runtime.
pub fn http_service(
    deps: ToolDeps,
    allowed_hosts: &[String],
    max_body: usize,
    session_idle: std::time::Duration,
    shutdown: CancellationToken,
) -> McpService {
    // Every session gets its own server value; the tool table is built once.
    let mut tool_router = CalendarServer::tool_router();
    catalog::complete(&mut tool_router);
    let tool_router = Arc::new(tool_router);
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts.iter().cloned())
        .with_max_request_body_bytes(max_body)
        // A stateless (2026-07-28) call answered by one message gets it as plain
        // JSON, not an event stream: no stream to keep open, fewer bytes.
        .with_json_response(true)
        .with_cancellation_token(shutdown);
    let mut manager = LocalSessionManager::default();
    // The gateway closes idle sessions itself (crate::mcp::session); rmcp's own
    // keep-alive is only a safety net behind it.
    manager.session_config.keep_alive = Some(session_idle.saturating_mul(2));
    let manager = Arc::new(manager);
    let direct =
        direct::DirectCalls::new(CalendarServer::new(deps.clone(), Arc::clone(&tool_router)));
    let rmcp = StreamableHttpService::new(
        move || Ok(CalendarServer::new(deps.clone(), Arc::clone(&tool_router))),
        Arc::clone(&manager),
        config,
    );
    McpService {
        rmcp,
        sessions: manager,
        direct,
    }
}

#[cfg(test)]
mod tests {
    use super::{CalendarServer, scope};
    use crate::policy::scope::CalendarArgs;

    /// The tool table and the tools agree: every tool has a rule, every rule a
    /// tool, and the calendar argument the rule names is the one its schema has.
    #[test]
    fn the_tool_table_matches_the_tools() {
        let tools = CalendarServer::tool_router().list_all();
        assert_eq!(tools.len(), scope::TOOLS.len());
        for tool in tools {
            let rule = scope::rule_for(&tool.name)
                .unwrap_or_else(|| panic!("{} has no rule in admission::scope", tool.name));
            let properties = tool
                .input_schema
                .get("properties")
                .and_then(|p| p.as_object());
            let has = |name: &str| properties.is_some_and(|p| p.contains_key(name));
            let expected = match (has("calendarId"), has("calendarIds")) {
                (true, false) => CalendarArgs::One,
                (false, true) => CalendarArgs::Many,
                (false, false) => CalendarArgs::None,
                (true, true) => panic!("{} names calendars twice", tool.name),
            };
            assert_eq!(rule.calendars, expected, "{}", tool.name);
        }
    }
}
