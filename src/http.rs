//! Per-request HTTP handling on an authenticated connection: route the MCP
//! path to rmcp (through the session-ownership check), everything else 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tower_service::Service;

use crate::identity::ClientIdentity;
use crate::mcp::CalendarServer;
use crate::mcp::session::{SESSION_HEADER, SessionCheck, SessionOwners};

/// Response type of every handler.
pub type HttpResponse = Response<BoxBody<Bytes, Infallible>>;

/// What the connection established, attached to each of its requests (tools
/// read it from the request parts rmcp hands them).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Who the client certificate says the client is.
    pub identity: ClientIdentity,
}

/// The HTTP application shared by all connections.
pub struct App {
    /// Path of the MCP endpoint.
    mcp_path: String,
    /// The rmcp streamable HTTP service.
    mcp: StreamableHttpService<CalendarServer, LocalSessionManager>,
    /// Which identity owns which MCP session.
    sessions: SessionOwners,
}

/// A small JSON error body, shaped like a JSON-RPC error so MCP clients show it.
pub fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32600, "message": message }
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("static response parts are valid")
}

impl App {
    /// An application serving `mcp` at `mcp_path`.
    pub fn new(mcp_path: String, mcp: StreamableHttpService<CalendarServer, LocalSessionManager>) -> App {
        App { mcp_path, mcp, sessions: SessionOwners::default() }
    }

    /// Handles one request from an authenticated connection.
    pub async fn handle(self: Arc<Self>, mut request: Request<Incoming>, connection: ConnectionInfo) -> Result<HttpResponse, Infallible> {
        if request.uri().path() != self.mcp_path {
            return Ok(json_error(StatusCode::NOT_FOUND, "not found"));
        }
        let identity = connection.identity.id.clone();
        let requested = request.headers().get(SESSION_HEADER).cloned();
        if self.sessions.check(requested.as_ref(), &identity) == SessionCheck::NotFound {
            tracing::info!(client = %identity, "request for a session the client does not own, answered 404");
            return Ok(json_error(StatusCode::NOT_FOUND, "session not found"));
        }
        let method = request.method().clone();
        request.extensions_mut().insert(connection);
        let mut mcp = self.mcp.clone();
        let response = match mcp.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        self.sessions.record(&method, requested.as_ref(), response.status(), response.headers().get(SESSION_HEADER), &identity);
        Ok(response)
    }
}
