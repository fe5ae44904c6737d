//! The MCP side: an rmcp server whose tools are the calendar operations,
//! served over streamable HTTP, with sessions bound to the client identity
//! that created them.

pub mod output;
pub mod params;
pub mod session;
mod tools;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{CallToolRequestParams, CallToolResponse, ContentBlock, ErrorCode, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};
use tokio_util::sync::CancellationToken;

use crate::calendar::CalendarBackend;

/// The MCP server: one per session, all sharing one backend.
#[derive(Clone)]
pub struct CalendarServer {
    /// Where the calendar data lives.
    backend: Arc<dyn CalendarBackend>,
    /// Built once per server; `#[tool_handler]` dispatches through it.
    tool_router: ToolRouter<CalendarServer>,
}

impl CalendarServer {
    /// A server over `backend`.
    pub fn new(backend: Arc<dyn CalendarBackend>) -> CalendarServer {
        CalendarServer { backend, tool_router: CalendarServer::tool_router() }
    }
}

const INSTRUCTIONS: &str = "Calendar tools. Times are RFC 3339; zones are IANA names. Start with list_calendars \
or get_current_time. Recurring events appear as instances whose ids are <seriesId>_<start>; update_event and \
delete_event take a scope (thisInstance, thisAndFollowing, all). Errors name the argument that is wrong.";

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CalendarServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcp-gateway", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS.to_owned())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let context = ToolCallContext::new(self, request, context);
        match self.tool_router.call(context).await {
            // Arguments that do not fit the schema are the caller's mistake: report
            // them as a tool error the model can read and fix, not a protocol error.
            Err(error) if error.code == ErrorCode::INVALID_PARAMS && error.message.starts_with("failed to deserialize") => {
                let message = error.message.replace("failed to deserialize parameters: ", "invalid arguments: ");
                let mut result = rmcp::model::CallToolResult::error(vec![ContentBlock::text(message.clone())]);
                result.structured_content =
                    Some(serde_json::json!({ "error": { "code": "invalid_argument", "field": null, "message": message } }));
                Ok(result.into())
            }
            other => other,
        }
    }
}

/// The rmcp streamable HTTP service for `backend`, accepting `allowed_hosts`.
pub fn http_service(
    backend: Arc<dyn CalendarBackend>,
    allowed_hosts: &[String],
    max_body: usize,
    shutdown: CancellationToken,
) -> StreamableHttpService<CalendarServer, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts.iter().cloned())
        .with_max_request_body_bytes(max_body)
        .with_cancellation_token(shutdown);
    StreamableHttpService::new(move || Ok(CalendarServer::new(Arc::clone(&backend))), Arc::default(), config)
}
