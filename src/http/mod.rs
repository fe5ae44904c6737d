//! Per-request HTTP handling on an authenticated connection, in order: the
//! logs must be writable, the address not banned meanwhile, the certificate
//! not revoked by a CRL loaded since the handshake, the address within its
//! request rate, an HTTP/2 header list within its size; then the authority
//! the request names, the metadata document, the MCP path, the origin and
//! token checks ([`crate::policy::resource`]); the protocol version, the tool a
//! `Mcp-Name` header names (its permission, before the body), the session's
//! owner; a bounded and timed body that must be one JSON-RPC message read
//! alike by the gateway and rmcp, the `Mcp-*` headers against it, the
//! session caps, a request id not already in flight in its session; then
//! the direct path or rmcp, and a session rmcp made without a reserved
//! place is closed. Every refusal is one [`crate::denial::Denial`], logged once and
//! answered through [`crate::http::refusal`] — after the request body has been read
//! (and discarded, within bounds), because an HTTP/2 answer sent before the
//! body ends in a stream reset that clients such as curl report as an error
//! instead of the refusal.

pub mod activity;
pub mod body;
pub mod checks;
pub mod refusal;
mod renewal;
mod stages;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::denial::Reason;
use crate::http::activity::Tracked;
use crate::http::stages::Route;
use crate::identity::ClientIdentity;
use crate::mcp::direct::DirectCalls;
use crate::mcp::session::{SESSION_HEADER, SessionOwners};
use crate::mcp::{CalendarServer, McpService};
use crate::observe::audit::AuditLog;
use crate::observe::seclog::SecurityLog;
use crate::policy::address::ClientIp;
use crate::policy::rate::RateLimits;
use crate::policy::resource::ProtectedResource;
use crate::policy::snapshot::Snapshot;

/// Response type of every handler.
pub type HttpResponse = Response<BoxBody<Bytes, Infallible>>;

/// What the connection established, attached to each of its requests (tools
/// read it from the request parts rmcp hands them).
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The socket peer (a load balancer, when the PROXY protocol is in use).
    pub peer: SocketAddr,
    /// The real client address (from the PROXY header when trusted), canonical form.
    pub client_ip: ClientIp,
    /// Who the client certificate says the client is.
    pub identity: ClientIdentity,
    /// What the connection is doing; [`crate::http::activity::Activity::close`]
    /// ends it once its address is banned.
    pub activity: Arc<crate::http::activity::Activity>,
}

/// Request-level limits, from `[listen]` and `[mcp]`.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Path of the MCP endpoint.
    pub mcp_path: String,
    /// Authorities (`Host`, `:authority`) accepted.
    pub allowed_hosts: Vec<String>,
    /// Largest accepted request body.
    pub max_body: usize,
    /// Time to receive a whole body.
    pub body_timeout: Duration,
    /// Largest HTTP/2 header list (HTTP/1.1 heads are bounded by hyper).
    pub max_header_list: usize,
}

/// The HTTP application shared by all connections.
pub struct App {
    /// Paths, hosts and body limits.
    limits: RequestLimits,
    /// The rmcp streamable HTTP service.
    mcp: StreamableHttpService<CalendarServer, LocalSessionManager>,
    /// rmcp's session table, to close a session made past the gateway's caps.
    rmcp_sessions: Arc<LocalSessionManager>,
    /// Plain stateless calls, answered without rmcp's per-request tasks.
    direct: DirectCalls,
    /// Which identity owns which MCP session, and the caps.
    sessions: Arc<SessionOwners>,
    /// What a reload replaces, swapped at once: this app reads the token
    /// checks, the metadata document and the revoked certificates from it.
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// Where every refusal is written.
    seclog: Arc<SecurityLog>,
    /// Where tool calls refused on their headers are recorded.
    audit: Arc<AuditLog>,
    /// Requests per address.
    rate: Arc<RateLimits>,
}

impl App {
    /// An application serving `mcp` under `limits`.
    pub fn new(
        limits: RequestLimits,
        mcp: McpService,
        sessions: Arc<SessionOwners>,
        snapshot: Arc<ArcSwap<Snapshot>>,
        seclog: Arc<SecurityLog>,
        audit: Arc<AuditLog>,
        rate: Arc<RateLimits>,
    ) -> App {
        App {
            limits,
            mcp: mcp.rmcp,
            rmcp_sessions: mcp.sessions,
            direct: mcp.direct,
            sessions,
            snapshot,
            seclog,
            audit,
            rate,
        }
    }

    /// Handles one request from an authenticated connection, counting its answer.
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        connection: ConnectionInfo,
    ) -> Result<HttpResponse, Infallible> {
        let response = self.respond(request, connection).await?;
        crate::telemetry::http_request(response.status());
        Ok(response)
    }

    /// The answer to one request: a refusal, the metadata document, or
    /// rmcp's. The stages, in order; each refusal is one [`Denial`], logged
    /// once by [`App::refuse`] or [`App::refuse_read`].
    async fn respond(
        &self,
        request: Request<Incoming>,
        connection: ConnectionInfo,
    ) -> Result<HttpResponse, Infallible> {
        let (parts, body) = request.into_parts();
        // The rare or large branches (renewal, refusal, and rmcp's own
        // service in `answer_mcp`) are boxed where taken: this whole future
        // is moved into a box per request (`transport::serving`), a copy of
        // its full size — 33.6 KB with them inline, 4.9 KB without.
        let grant = match self.check_headers(&parts, &connection) {
            Ok(Route::Mcp(grant)) => grant,
            Ok(Route::Metadata) => return Ok(metadata_response(&self.snapshot.load().resource)),
            Ok(Route::Renewal(grant)) => {
                return Ok(Box::pin(self.renew_token(&parts, body, &connection, grant)).await);
            }
            Err(denial) => {
                if matches!(denial.reason, Reason::Banned | Reason::CertificateRevoked) {
                    connection.activity.close();
                }
                return Ok(
                    Box::pin(self.refuse(denial, &connection, Some(body), &parts.method)).await,
                );
            }
        };
        let requested = parts.headers.get(SESSION_HEADER).cloned();
        if let Err(denial) = self.check_before_body(&parts, &grant, requested.as_ref(), &connection)
        {
            return Ok(Box::pin(self.refuse(denial, &connection, Some(body), &parts.method)).await);
        }
        let (body, message, plain) = match self.read_request(&parts, body, &connection).await {
            Ok(read) => read,
            Err(refused) => return Ok(refused),
        };
        let (slot, request_in_flight) =
            match self.hold_places(requested.as_ref(), &message, &connection) {
                Ok(places) => places,
                Err(denial) => return Ok(self.refuse_read(denial, &connection, &message)),
            };
        let method = parts.method.clone();
        let response = self
            .answer_mcp(
                parts,
                (body, plain),
                requested.is_some(),
                &connection,
                grant,
            )
            .await;
        let reserved = slot.is_some();
        let response = self
            .settle(
                (&method, requested.as_ref()),
                response,
                reserved,
                &message,
                &connection,
            )
            .await;
        drop(slot);
        // The id stays in flight until the answer (an event stream in a
        // session) has been sent.
        Ok(match request_in_flight {
            Some(guard) => response.map(|body| Tracked::boxed(body, guard)),
            None => response,
        })
    }
}

/// The RFC 9728 metadata document, served without a token: clients need it
/// to get one.
fn metadata_response(resource: &ProtectedResource) -> HttpResponse {
    Response::builder()
        .status(StatusCode::OK)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(resource.metadata()).boxed())
        .expect("static response parts are valid")
}
