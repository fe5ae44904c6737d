//! The stages of [`App::respond`], in the order it runs them: what the
//! headers alone decide, what the grant decides before the body, reading the
//! body, holding the session places, answering, and settling what rmcp did;
//! and the two ways a refusal is answered, before and after the body is read.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use rmcp::transport::streamable_http_server::session::SessionManager;

use crate::config::RENEWAL_PATH;
use crate::denial::{Denial, Reason};
use crate::http::body::read_body;
use crate::http::checks::{
    MessageHead, check_authority, check_header_list_size, check_mcp_headers,
    check_protocol_version, named_tool, read_message,
};
use crate::mcp::direct::direct_call;
use crate::mcp::header_names;
use crate::mcp::plain_request::PlainRequest;
use crate::mcp::session::{RequestInFlight, SESSION_HEADER, SessionCheck, SessionSlot};
use crate::observe::audit::{Outcome, ToolCall};
use crate::policy::grant::Grant;
use crate::policy::resource::METADATA_PATH;
use crate::policy::scope;

use crate::http::refusal;
use crate::http::{App, ConnectionInfo, HttpResponse};

/// Where a request that passed the header checks goes.
pub(super) enum Route {
    /// The RFC 9728 metadata document: no token needed.
    Metadata,
    /// The MCP endpoint, with the token's grant.
    Mcp(Grant),
    /// A token renewal ([`crate::policy::token::renewal`]), with the grant of
    /// the token to renew.
    Renewal(Grant),
}

impl App {
    /// A `tools/call` whose headers name a tool the token may not call is
    /// refused before its body is read (its one audit line says so).
    pub(super) fn check_named_tool(
        &self,
        headers: &http::HeaderMap,
        grant: &Grant,
    ) -> Result<(), Denial> {
        let Some(tool) = named_tool(headers) else {
            return Ok(());
        };
        let Some(rule) = scope::rule_for(&tool) else {
            // Not a tool: no permission question. The body is read and must
            // agree with the header (400 -32020), else the call is answered
            // "unknown tool" (-32602) like any other.
            return Ok(());
        };
        scope::check_permission(rule, grant).inspect_err(|_| {
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
    pub(super) fn check_logs_writable(&self) -> Result<(), Denial> {
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
    pub(super) async fn refuse(
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
    pub(super) fn refuse_read(
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
    pub(super) async fn answer_mcp(
        &self,
        mut parts: http::request::Parts,
        (body, plain): (Bytes, Option<PlainRequest>),
        in_session: bool,
        connection: &ConnectionInfo,
        grant: Grant,
    ) -> HttpResponse {
        parts.extensions.insert(connection.clone());
        parts.extensions.insert(grant);
        if !in_session
            && let Some(plain) = plain
            && let Some(call) = direct_call(&parts.headers, plain)
        {
            return self.direct.answer(call, parts).await;
        }
        // `handle` borrows the service; the tower `call` would clone it (and its
        // config) on every request.
        Box::pin(self.mcp.handle(Request::from_parts(parts, Full::new(body)))).await
    }

    /// Stage 1, the headers alone, cheapest first: the logs writable, the
    /// address not banned meanwhile, the certificate not revoked since the
    /// handshake, the request rate, the HTTP/2 header list, the authority,
    /// the path; on the MCP and renewal paths, the `Origin` and the token
    /// (the grant); on the metadata path, nothing more.
    pub(super) fn check_headers(
        &self,
        parts: &http::request::Parts,
        connection: &ConnectionInfo,
    ) -> Result<Route, Denial> {
        self.check_logs_writable()?;
        if self.seclog.is_banned(connection.client_ip.ip()) {
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
        let admit = || {
            snapshot
                .resource
                .admit(&parts.headers, &connection.identity, connection.client_ip)
        };
        match parts.uri.path() {
            METADATA_PATH if parts.method == http::Method::GET => Ok(Route::Metadata),
            path if path == self.limits.mcp_path => admit().map(Route::Mcp),
            RENEWAL_PATH
                if parts.method == http::Method::POST && snapshot.resource.renewer().is_some() =>
            {
                admit().map(Route::Renewal)
            }
            path => Err(Denial::new(Reason::PathNotFound)
                .with_detail(path.chars().take(128).collect::<String>())),
        }
    }

    /// Stage 2, what the grant decides before the body is read: the
    /// protocol version, the permission of a tool a `Mcp-Name` header
    /// names, and that a named session is this identity's.
    pub(super) fn check_before_body(
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
    /// A plain stateless call is read once, for the checks and the tool
    /// ([`PlainRequest`]); any other body is read for the checks here and
    /// by rmcp again.
    pub(super) async fn read_request(
        &self,
        parts: &http::request::Parts,
        body: Incoming,
        connection: &ConnectionInfo,
    ) -> Result<(Bytes, MessageHead, Option<PlainRequest>), HttpResponse> {
        let refuse = |denial| self.refuse(denial, connection, None, &parts.method);
        let body = match read_body(body, self.limits.max_body, self.limits.body_timeout).await {
            Ok(bytes) => bytes,
            Err(denial) => return Err(refuse(denial).await),
        };
        let plain = may_be_plain(parts)
            .then(|| PlainRequest::read(&body))
            .flatten();
        let message = match &plain {
            Some(plain) => MessageHead::of_plain(plain),
            None => match read_message(&parts.method, &body) {
                Ok(message) => message,
                Err(denial) => return Err(refuse(denial).await),
            },
        };
        if let Err(denial) = check_mcp_headers(&parts.headers, &message) {
            return Err(self.refuse_read(denial, connection, &message));
        }
        Ok((body, message, plain))
    }

    /// Stage 4, the places a request holds while rmcp answers it: a session
    /// slot for an `initialize` without a session (the caps), and its id in
    /// flight within a session (one of two requests with the same id would
    /// never be answered and would hold its connection; only requests count:
    /// a client's answer to a server request carries the server's id and no
    /// method).
    pub(super) fn hold_places(
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
    pub(super) async fn settle(
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

/// Whether a request may carry a plain stateless call: a POST outside any
/// session whose `Mcp-Method` header names `tools/call` or `tools/list`
/// (every other body is read only the usual way).
fn may_be_plain(parts: &http::request::Parts) -> bool {
    parts.method == http::Method::POST
        && !parts.headers.contains_key(SESSION_HEADER)
        && parts
            .headers
            .get(header_names::METHOD)
            .is_some_and(|method| method == "tools/call" || method == "tools/list")
}
