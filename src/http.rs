//! Per-request HTTP handling on an authenticated connection, in order: the
//! logs must be writable, the address not banned meanwhile, the certificate
//! not revoked by a CRL loaded since the handshake, the address within its
//! request rate, an HTTP/2 header list within its size; then the authority
//! the request names, the metadata document, the MCP path, the origin and
//! token checks ([`crate::resource`]); the protocol version, the tool a
//! `Mcp-Name` header names (its permission, before the body), the session's
//! owner; a bounded and timed body that must be one JSON-RPC message read
//! alike by the gateway and rmcp, the `Mcp-*` headers against it, the
//! session caps, a request id not already in flight in its session; then
//! the direct path or rmcp, and a session rmcp made without a reserved
//! place is closed. Every refusal is one [`Denial`], logged once and
//! answered through [`crate::refusal`] — after the request body has been read
//! (and discarded, within bounds), because an HTTP/2 answer sent before the
//! body ends in a stream reset that clients such as curl report as an error
//! instead of the refusal.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_server::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use crate::activity::Tracked;
use crate::admission::grant::Grant;
use crate::admission::scope;
use crate::audit::{AuditLog, Outcome, ToolCall};
use crate::denial::{Denial, Reason};
use crate::http_body::read_body;
use crate::http_checks::{
    MessageHead, check_authority, check_header_list_size, check_mcp_headers,
    check_protocol_version, named_tool, read_message,
};
use crate::identity::ClientIdentity;
use crate::mcp::direct::{DirectCalls, direct_call};
use crate::mcp::session::{
    RequestInFlight, SESSION_HEADER, SessionCheck, SessionOwners, SessionSlot,
};
use crate::mcp::{CalendarServer, McpService};
use crate::rate::RateLimits;
use crate::refusal;
use crate::resource::METADATA_PATH;
use crate::seclog::SecurityLog;
use crate::snapshot::Snapshot;

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
    /// What the connection is doing; [`crate::activity::Activity::close`]
    /// ends it once its address is banned.
    pub activity: Arc<crate::activity::Activity>,
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

    /// A `tools/call` whose headers name a tool the token may not call is
    /// refused before its body is read (its one audit line says so).
    fn check_named_tool(&self, headers: &http::HeaderMap, grant: &Grant) -> Result<(), Denial> {
        let Some(tool) = named_tool(headers) else {
            return Ok(());
        };
        if scope::rule_for(&tool).is_none() {
            // Not a tool: no permission question. The body is read and must
            // agree with the header (400 -32020), else the call is answered
            // "unknown tool" (-32602) like any other.
            return Ok(());
        }
        scope::check_permission(&tool, grant).inspect_err(|_| {
            self.audit.record(&ToolCall {
                tool: &tool,
                client: grant.identity().id(),
                ip: grant.client_ip(),
                token_id: grant.token_id(),
                calendars: &[],
                outcome: Outcome::Refused,
                millis: 0,
            });
        })
    }

    /// Fails closed while the security or audit log cannot be written: a
    /// refusal nobody could see, or a tool call nobody could account for, is
    /// worse than a 503 (docs/SECURITY.md, "Disks").
    fn check_logs_writable(&self) -> Result<(), Denial> {
        let unwritable = if !self.seclog.writable() {
            "security"
        } else if !self.audit.writable() {
            "audit"
        } else {
            return Ok(());
        };
        Err(Denial::new(Reason::LogUnavailable)
            .with_detail(format!("the {unwritable} log cannot be written")))
    }

    /// Logs `denial` once and answers it, after reading (and dropping) the
    /// body when there is one still unread; the answer carries the request's
    /// JSON-RPC id when that body reads as one message.
    async fn refuse(
        &self,
        denial: Denial,
        connection: &ConnectionInfo,
        unread: Option<Incoming>,
        method: &http::Method,
    ) -> HttpResponse {
        self.seclog.deny(
            &denial,
            connection.client_ip,
            Some(connection.identity.id()),
        );
        let mut message = MessageHead::default();
        if let Some(body) = unread
            && let Ok(body) = read_body(body, self.limits.max_body, self.limits.body_timeout).await
        {
            message = read_message(method, &body).unwrap_or_default();
        }
        refusal::response(
            &denial,
            message.id(),
            self.snapshot.load().resource.metadata_url(),
        )
    }

    /// Like [`App::refuse`] for a request whose body has been read: the answer
    /// carries the request's JSON-RPC id, as clients match errors to requests by it.
    fn refuse_read(
        &self,
        denial: Denial,
        connection: &ConnectionInfo,
        message: &MessageHead,
    ) -> HttpResponse {
        self.seclog.deny(
            &denial,
            connection.client_ip,
            Some(connection.identity.id()),
        );
        refusal::response(
            &denial,
            message.id(),
            self.snapshot.load().resource.metadata_url(),
        )
    }

    /// Stage 5, the MCP answer to an admitted request: the direct one for a plain
    /// stateless call ([`crate::mcp::direct`]), rmcp's for everything else.
    async fn answer_mcp(
        &self,
        mut parts: http::request::Parts,
        body: Bytes,
        message: &MessageHead,
        in_session: bool,
        connection: &ConnectionInfo,
        grant: Grant,
    ) -> HttpResponse {
        parts.extensions.insert(connection.clone());
        parts.extensions.insert(grant);
        if !in_session
            && parts.method == http::Method::POST
            && matches!(message.method(), Some("tools/call" | "tools/list"))
            && let Ok(parsed) = serde_json::from_slice::<ClientJsonRpcMessage>(&body)
            && let Some(call) = direct_call(&parts.headers, parsed)
        {
            return self.direct.answer(call, parts).await;
        }
        // `handle` borrows the service; the tower `call` would clone it (and its
        // config) on every request.
        self.mcp
            .handle(Request::from_parts(parts, Full::new(body)))
            .await
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
        let grant = match self.check_headers(&parts, &connection) {
            Ok(Some(grant)) => grant,
            Ok(None) => return Ok(self.snapshot.load().resource.metadata_response()),
            Err(denial) => {
                if matches!(denial.reason, Reason::Banned | Reason::CertificateRevoked) {
                    connection.activity.close();
                }
                return Ok(self
                    .refuse(denial, &connection, Some(body), &parts.method)
                    .await);
            }
        };
        let requested = parts.headers.get(SESSION_HEADER).cloned();
        if let Err(denial) = self.check_before_body(&parts, &grant, requested.as_ref(), &connection)
        {
            return Ok(self
                .refuse(denial, &connection, Some(body), &parts.method)
                .await);
        }
        let (body, message) = match self.read_request(&parts, body, &connection).await {
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
                body,
                &message,
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

    /// Stage 1, the headers alone, cheapest first: the logs writable, the
    /// address not banned meanwhile, the certificate not revoked since the
    /// handshake, the request rate, the HTTP/2 header list, the authority,
    /// the path; on the MCP path, the `Origin` and the token (the grant); on
    /// the metadata path, nothing more (`None`).
    fn check_headers(
        &self,
        parts: &http::request::Parts,
        connection: &ConnectionInfo,
    ) -> Result<Option<Grant>, Denial> {
        self.check_logs_writable()?;
        if self.seclog.is_banned(connection.client_ip) {
            // Banned while this connection was open: it serves no more.
            return Err(Denial::new(Reason::Banned));
        }
        // One snapshot for this request's every check.
        let snapshot = self.snapshot.load();
        if snapshot
            .revoked
            .contains(connection.identity.revocation_key())
        {
            return Err(Denial::new(Reason::CertificateRevoked)
                .with_detail("revoked by a CRL loaded after the handshake"));
        }
        self.rate.check_request(connection.client_ip)?;
        if parts.version == http::Version::HTTP_2 {
            check_header_list_size(parts, self.limits.max_header_list)?;
        }
        check_authority(&parts.uri, &parts.headers, &self.limits.allowed_hosts)?;
        match parts.uri.path() {
            METADATA_PATH if parts.method == http::Method::GET => Ok(None),
            path if path == self.limits.mcp_path => snapshot
                .resource
                .admit(&parts.headers, connection)
                .map(Some),
            path => Err(Denial::new(Reason::PathNotFound)
                .with_detail(path.chars().take(128).collect::<String>())),
        }
    }

    /// Stage 2, what the grant decides before the body is read: the
    /// protocol version, the permission of a tool a `Mcp-Name` header
    /// names, and that a named session is this identity's.
    fn check_before_body(
        &self,
        parts: &http::request::Parts,
        grant: &Grant,
        requested: Option<&http::HeaderValue>,
        connection: &ConnectionInfo,
    ) -> Result<(), Denial> {
        check_protocol_version(&parts.headers)?;
        self.check_named_tool(&parts.headers, grant)?;
        match self.sessions.check(requested, connection.identity.id()) {
            SessionCheck::Proceed => Ok(()),
            SessionCheck::NotFound => Err(Denial::new(Reason::SessionNotFound)),
        }
    }

    /// Stage 3, the body: read within its size and time limits, one JSON-RPC
    /// message the gateway and rmcp read alike, its `Mcp-*` headers agreeing.
    async fn read_request(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        connection: &ConnectionInfo,
    ) -> Result<(Bytes, MessageHead), HttpResponse> {
        let refuse = |denial| self.refuse(denial, connection, None, &parts.method);
        let body = match read_body(body, self.limits.max_body, self.limits.body_timeout).await {
            Ok(bytes) => bytes,
            Err(denial) => return Err(refuse(denial).await),
        };
        let message = match read_message(&parts.method, &body) {
            Ok(message) => message,
            Err(denial) => return Err(refuse(denial).await),
        };
        if let Err(denial) = check_mcp_headers(&parts.headers, &message) {
            return Err(self.refuse_read(denial, connection, &message));
        }
        Ok((body, message))
    }

    /// Stage 4, the places a request holds while rmcp answers it: a session
    /// slot for an `initialize` without a session (the caps), and its id in
    /// flight within a session (one of two requests with the same id would
    /// never be answered and would hold its connection; only requests count:
    /// a client's answer to a server request carries the server's id and no
    /// method).
    fn hold_places(
        &self,
        requested: Option<&http::HeaderValue>,
        message: &MessageHead,
        connection: &ConnectionInfo,
    ) -> Result<(Option<SessionSlot<'_>>, Option<RequestInFlight>), Denial> {
        let slot = if requested.is_none() && message.method() == Some("initialize") {
            Some(self.sessions.reserve(connection.identity.id())?)
        } else {
            None
        };
        let request_id = message.method().and(message.id());
        let in_flight = match (requested.and_then(|v| v.to_str().ok()), request_id) {
            (Some(session), Some(id)) => Some(self.sessions.begin_request(session, id)?),
            _ => None,
        };
        Ok((slot, in_flight))
    }

    /// Stage 6, after rmcp answered: a DELETE's 202 as 204, the session
    /// recorded (one rmcp made without a reserved place closed and refused),
    /// and rmcp's own refusals given their one line.
    async fn settle(
        &self,
        (method, requested): (&http::Method, Option<&http::HeaderValue>),
        mut response: HttpResponse,
        reserved: bool,
        message: &MessageHead,
        connection: &ConnectionInfo,
    ) -> HttpResponse {
        if method == http::Method::DELETE && response.status() == StatusCode::ACCEPTED {
            // rmcp answers an ended session with 202; clients (the Python SDK among
            // them) expect the usual 200/204 for a DELETE that took effect.
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        let recorded = self.sessions.record(
            method,
            requested,
            response.status(),
            response.headers().get(SESSION_HEADER),
            connection.identity.id(),
            reserved,
        );
        if let Err(unreserved) = recorded {
            // rmcp made a session for a request the gateway did not read as
            // an initialize: it would escape every cap, so it goes at once.
            let id: rmcp::transport::common::server_side_http::SessionId = unreserved.into();
            if let Err(e) = self.rmcp_sessions.close_session(&id).await {
                tracing::warn!(error = %e, "closing a session made without a reserved place");
            }
            let denial = Denial::new(Reason::RequestRejected)
                .with_detail("a session was made for a request not read as initialize; closed");
            return self.refuse_read(denial, connection, message);
        }
        if response.status().is_client_error() {
            // rmcp's own refusals (wrong Accept, content type, a header a protocol
            // version requires) get their one log line too.
            // A 404 means an unknown session only when the request named one
            // (stateless requests get 404 for an unknown method).
            let denial = match response.status() {
                StatusCode::NOT_FOUND if requested.is_some() => {
                    Denial::new(Reason::SessionNotFound)
                }
                status => Denial::new(Reason::RequestRejected)
                    .with_detail(format!("status {}", status.as_u16())),
            };
            self.seclog.deny(
                &denial,
                connection.client_ip,
                Some(connection.identity.id()),
            );
        }
        response
    }
}
