//! The MCP side: an rmcp server whose tools are the calendar operations,
//! served over streamable HTTP, with sessions bound to the client identity
//! that created them.

pub mod output;
pub mod params;
pub mod session;
mod tools;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool_handler};
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
        CalendarServer {
            backend,
            tool_router: CalendarServer::tool_router(),
        }
    }
}

const INSTRUCTIONS: &str = "Calendar tools. Times are RFC 3339; zones are IANA names. Start with list_calendars \
or get_current_time. Recurring events appear as instances whose ids are <seriesId>_<start>; update_event and \
delete_event take a scope (thisInstance, thisAndFollowing, all). Errors name the argument that is wrong.";

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
    StreamableHttpService::new(
        move || Ok(CalendarServer::new(Arc::clone(&backend))),
        Arc::default(),
        config,
    )
}
