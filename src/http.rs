//! Per-request HTTP handling on an authenticated connection: the metadata
//! document, then for the MCP path the origin and token checks
//! ([`crate::resource`]), the session-ownership check, a bounded JSON body, and
//! rmcp; everything else 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::identity::ClientIdentity;
use crate::mcp::CalendarServer;
use crate::mcp::session::{SESSION_HEADER, SessionCheck, SessionOwners};
use crate::resource::{METADATA_PATH, ProtectedResource};

/// Response type of every handler.
pub type HttpResponse = Response<BoxBody<Bytes, Infallible>>;

/// What the connection established, attached to each of its requests (tools
/// read it from the request parts rmcp hands them).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The socket peer (a load balancer, when the PROXY protocol is in use).
    pub peer: SocketAddr,
    /// The real client address (from the PROXY header when trusted), canonical form.
    pub client_ip: std::net::IpAddr,
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
    /// Largest accepted request body.
    max_body: usize,
    /// Origin and bearer-token checks, and the metadata document.
    resource: ProtectedResource,
}

/// JSON-RPC code for a body that is not JSON.
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC code for a request the server will not process.
const INVALID_REQUEST: i64 = -32600;

/// A small JSON error body, shaped like a JSON-RPC error so MCP clients show it.
pub fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    rpc_error(status, INVALID_REQUEST, message)
}

fn rpc_error(status: StatusCode, code: i64, message: &str) -> HttpResponse {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message }
    });
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("static response parts are valid")
}

impl App {
    /// An application serving `mcp` at `mcp_path`, refusing bodies over `max_body` bytes.
    pub fn new(
        mcp_path: String,
        mcp: StreamableHttpService<CalendarServer, LocalSessionManager>,
        max_body: usize,
        resource: ProtectedResource,
    ) -> App {
        App {
            mcp_path,
            mcp,
            sessions: SessionOwners::default(),
            max_body,
            resource,
        }
    }

    /// Reads the whole body within the limit and checks that it is JSON, so that
    /// rmcp (and every later check) only ever sees a bounded, well-formed message.
    async fn read_json_body(&self, body: Incoming) -> Result<Bytes, HttpResponse> {
        let bytes = match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                let message = format!("request body larger than {} bytes", self.max_body);
                return Err(rpc_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    INVALID_REQUEST,
                    &message,
                ));
            }
            Err(e) => {
                return Err(rpc_error(
                    StatusCode::BAD_REQUEST,
                    INVALID_REQUEST,
                    &format!("cannot read request body: {e}"),
                ));
            }
        };
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
            return Err(rpc_error(
                StatusCode::BAD_REQUEST,
                PARSE_ERROR,
                &format!("request body is not JSON: {e}"),
            ));
        }
        Ok(bytes)
    }

    /// Handles one request from an authenticated connection.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: ConnectionInfo,
    ) -> Result<HttpResponse, Infallible> {
        if request.uri().path() == METADATA_PATH && request.method() == http::Method::GET {
            return Ok(self.resource.metadata_response());
        }
        if request.uri().path() != self.mcp_path {
            return Ok(json_error(StatusCode::NOT_FOUND, "not found"));
        }
        // Authorization before anything else looks at the request: sessions are
        // never authentication, and a refused request never reaches rmcp.
        let grant = match self.resource.admit(request.headers(), &connection) {
            Ok(grant) => grant,
            Err(denial) => return Ok(self.resource.refusal(&denial)),
        };
        let identity = connection.identity.id.clone();
        let requested = request.headers().get(SESSION_HEADER).cloned();
        if self.sessions.check(requested.as_ref(), &identity) == SessionCheck::NotFound {
            tracing::info!(client = %identity, "request for a session the client does not own, answered 404");
            return Ok(json_error(StatusCode::NOT_FOUND, "session not found"));
        }
        let method = request.method().clone();
        let (parts, body) = request.into_parts();
        let body = if method == http::Method::POST {
            match self.read_json_body(body).await {
                Ok(bytes) => bytes,
                Err(response) => return Ok(response),
            }
        } else {
            Bytes::new()
        };
        let mut request = Request::from_parts(parts, Full::new(body));
        request.extensions_mut().insert(connection);
        request.extensions_mut().insert(grant);
        // `handle` borrows the service; the tower `call` would clone it (and its
        // config) on every request.
        let mut response = self.mcp.handle(request).await;
        if method == http::Method::DELETE && response.status() == StatusCode::ACCEPTED {
            // rmcp answers an ended session with 202; clients (the Python SDK among
            // them) expect the usual 200/204 for a DELETE that took effect.
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        self.sessions.record(
            &method,
            requested.as_ref(),
            response.status(),
            response.headers().get(SESSION_HEADER),
            &identity,
        );
        Ok(response)
    }
}
