//! Stateless (2026-07-28) `tools/call` and `tools/list` answered by calling the
//! MCP handler directly, instead of through rmcp's HTTP service.
//!
//! For a stateless request rmcp builds a one-message transport, spawns a
//! service loop, spawns the handler in a second task, checks the `Mcp-*`
//! headers again by serializing the whole message back to JSON, and waits on a
//! channel for the answer: about a third of the CPU of a cheap admitted call.
//! Here the same handler methods (`call_tool`, `list_tools`) run inside the
//! request's own future, after the `_meta` and version checks rmcp's
//! `Service::handle_request` would make ([`direct_call`]).
//!
//! Only requests whose answer cannot differ from rmcp's take this way: a
//! body read once as a plain request ([`crate::mcp::plain_request`]) and
//! headers that [`direct_call`] finds plain. Everything unusual (a key no
//! plain call has, parameters in `Accept`, `Mcp-Param-*` headers, a missing
//! `_meta` key, another version) goes to rmcp, which answers or refuses it
//! as before. A test sends each request both ways and
//! compares the answers (`tests/gateway/direct_calls.rs`).

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use rmcp::model::{
    CallToolResponse, ClientCapabilities, ClientRequest, ErrorCode, ProtocolVersion, RequestId,
    RequestMetaObject, ServerJsonRpcMessage, ServerResult,
};
use rmcp::service::{
    Peer, RequestContext, RoleServer, RxJsonRpcMessage, TxJsonRpcMessage, serve_directly,
};
use rmcp::transport::Transport;
use rmcp::{ErrorData, ServerHandler};

use crate::mcp::CalendarServer;
use crate::mcp::header_names;
use crate::mcp::plain_request::PlainRequest;
use crate::mcp::structured::{
    with_structured_as_text, write_raw_response, write_response, written_once,
};
use crate::mcp::tool_lists::ToolListAnswers;

/// The only protocol version served this way: the stateless one.
const STATELESS: &str = "2026-07-28";
const JSON: &str = "application/json";
const EVENT_STREAM: &str = "text/event-stream";

/// A stateless request the gateway answers itself, as rmcp would.
pub struct DirectCall {
    id: RequestId,
    request: ClientRequest,
    meta: RequestMetaObject,
}

/// `request` as a [`DirectCall`] when `headers` and it are plain enough that
/// rmcp's answer is the handler's answer: POST without a session (the caller's
/// check), `Accept` naming JSON and event streams without parameters, a JSON
/// content type, one `MCP-Protocol-Version` equal to the `_meta` version
/// 2026-07-28 with every `_meta` key that version requires, one `Mcp-Method`
/// and (for `tools/call`) one `Mcp-Name` equal to the body's, and no
/// `Mcp-Param-*` header.
pub fn direct_call(headers: &HeaderMap, request: PlainRequest) -> Option<DirectCall> {
    let meta = request.meta();
    let plain = accepts_json_and_events(headers)
        && content_type_is_json(headers)
        && meta.protocol_version() == Some(ProtocolVersion::V_2026_07_28)
        && meta
            .missing_required_keys(&ProtocolVersion::V_2026_07_28)
            .is_empty()
        && only_value(headers, header_names::PROTOCOL_VERSION) == Some(STATELESS)
        && only_value(headers, header_names::METHOD) == Some(request.method())
        && match request.tool_name() {
            Some(name) => only_value(headers, header_names::NAME) == Some(name),
            None => !headers.contains_key(header_names::NAME),
        }
        && !headers
            .keys()
            .any(|key| key.as_str().starts_with("mcp-param-"));
    plain.then(|| {
        let (id, request, meta) = request.into_parts();
        DirectCall { id, request, meta }
    })
}

/// The one value of header `name`, as text.
fn only_value(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    match values.next() {
        Some(_) => None,
        None => value.to_str().ok(),
    }
}

/// `Accept` names both types rmcp requires, without quality values or other
/// parameters (whose reading is left to rmcp).
fn accepts_json_and_events(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut events = false;
    for value in headers.get_all(http::header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        if value.contains([';', '"']) {
            return false;
        }
        for essence in value.split(',').map(str::trim) {
            json |= essence.eq_ignore_ascii_case(JSON);
            events |= essence.eq_ignore_ascii_case(EVENT_STREAM);
        }
    }
    json && events
}

/// One `Content-Type`, JSON (parameters such as a charset allowed, as rmcp does).
fn content_type_is_json(headers: &HeaderMap) -> bool {
    only_value(headers, http::header::CONTENT_TYPE).is_some_and(|value| {
        let essence = value.split_once(';').map_or(value, |(essence, _)| essence);
        essence.trim().eq_ignore_ascii_case(JSON)
    })
}

/// The handler and the peer every direct call's context names.
pub struct DirectCalls {
    /// The same server rmcp would build per stateless request.
    server: CalendarServer,
    /// A peer with no client behind it: a stateless request cannot carry
    /// server-to-client messages, so a tool that tried would get an error.
    peer: Peer<RoleServer>,
    /// `tools/list` results already written.
    tool_lists: ToolListAnswers,
}

impl DirectCalls {
    /// Direct calls into `server`. rmcp makes a [`Peer`] only for a running
    /// service, so one is run over a transport that ends at once; its peer
    /// stays usable and sends nowhere. Must run inside the runtime.
    pub fn new(server: CalendarServer) -> DirectCalls {
        let running = serve_directly(server.clone(), NoClient, None);
        let peer = running.peer().clone();
        DirectCalls {
            server,
            peer,
            tool_lists: ToolListAnswers::default(),
        }
    }

    /// The answer to `call`, whose HTTP request head is `parts` (the grant and
    /// the connection in its extensions), exactly as rmcp's stateless path
    /// with JSON answers would give it.
    pub async fn answer(
        &self,
        call: DirectCall,
        parts: http::request::Parts,
    ) -> Response<BoxBody<Bytes, Infallible>> {
        let DirectCall { id, request, meta } = call;
        let mut context = RequestContext::new(id.clone(), self.peer.clone());
        context.meta = meta;
        context.extensions.insert(parts);
        // Boxed: the handler future (every tool's state) would otherwise be
        // copied whole into each request's future (see `App::respond`).
        let handler = Box::pin(self.handle(request, context));
        let (answer, written) = with_structured_as_text(handler).await;
        if let (Ok(ServerResult::CallToolResult(result)), Some(at)) = (&answer, written)
            && let Some(json) = written_once(result, at)
        {
            return match write_response(&id, result, json) {
                Ok(body) => json_response(StatusCode::OK, body),
                Err(e) => unserializable(&e),
            };
        }
        if let Ok(ServerResult::ListToolsResult(list)) = &answer {
            let body = self
                .tool_lists
                .json(list)
                .and_then(|json| write_raw_response(&id, json.get()));
            return match body {
                Ok(body) => json_response(StatusCode::OK, body),
                Err(e) => unserializable(&e),
            };
        }
        let message: ServerJsonRpcMessage = match answer {
            Ok(result) => ServerJsonRpcMessage::response(result, id),
            Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
        };
        match serde_json::to_vec(&message) {
            Ok(body) => json_response(status_of(&message), body),
            Err(e) => unserializable(&e),
        }
    }

    /// What rmcp's `Service::handle_request` does with a plain stateless
    /// request, without the checks [`direct_call`] already made: the `_meta`
    /// version is 2026-07-28, which the gateway serves
    /// ([`crate::mcp::PROTOCOL_VERSIONS`]), and no key that version requires
    /// is missing. rmcp would check both again and dispatch to the same two
    /// handler methods (3 % of the call's instructions). What rmcp
    /// does to a 2026-07-28 answer is done here too: cache hints filled in,
    /// and resource-not-found reported as invalid params.
    async fn handle(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        let mut answer = self.dispatch(request, context).await;
        match &mut answer {
            Ok(result) => result.fill_missing_cache_hints(),
            Err(error) if error.code == ErrorCode::RESOURCE_NOT_FOUND => {
                error.code = ErrorCode::INVALID_PARAMS;
            }
            Err(_) => {}
        }
        answer
    }

    /// The handler method `request` names.
    async fn dispatch(
        &self,
        request: ClientRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        match request {
            ClientRequest::CallToolRequest(call) => {
                match self.server.call_tool(call.params, context).await? {
                    // No tool of the gateway answers with a task. Were one to,
                    // the client is refused as rmcp refuses one that did not
                    // declare the tasks capability: a client that did not
                    // could not read the task handle.
                    CallToolResponse::Task(_) => {
                        Err(ErrorData::missing_required_client_capability(
                            ClientCapabilities::builder().enable_tasks().build(),
                        ))
                    }
                    response => Ok(ServerResult::from(response)),
                }
            }
            ClientRequest::ListToolsRequest(list) => self
                .server
                .list_tools(list.params, context)
                .await
                .map(ServerResult::ListToolsResult),
            // `PlainRequest` holds only these two.
            _ => Err(ErrorData::invalid_request(
                "not a plain stateless request",
                None,
            )),
        }
    }
}

/// A JSON answer of `body`.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response<BoxBody<Bytes, Infallible>> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, JSON)
        .body(Full::new(Bytes::from(body)).boxed())
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad answer"))
}

fn unserializable(error: &serde_json::Error) -> Response<BoxBody<Bytes, Infallible>> {
    tracing::error!(%error, "a tool answer could not be serialized");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "answer not serializable")
}

/// The HTTP status rmcp gives a stateless answer: JSON-RPC errors stay 200
/// except a version, capability or header error (400) and an unknown method (404).
fn status_of(message: &ServerJsonRpcMessage) -> StatusCode {
    let ServerJsonRpcMessage::Error(error) = message else {
        return StatusCode::OK;
    };
    match error.error.code {
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION
        | ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY
        | ErrorCode::HEADER_MISMATCH => StatusCode::BAD_REQUEST,
        ErrorCode::METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<BoxBody<Bytes, Infallible>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    response
}

/// A transport with no client: it receives nothing and refuses to send.
struct NoClient;

impl Transport<RoleServer> for NoClient {
    type Error = std::io::Error;

    fn send(
        &mut self,
        _item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        std::future::ready(Err(std::io::Error::other(
            "a stateless call has no client to send to",
        )))
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        None
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;
    use serde_json::{Value, json};

    use super::direct_call;
    use crate::mcp::plain_request::PlainRequest;

    fn call_body() -> Value {
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "list_calendars", "arguments": {}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": { "name": "t", "version": "1" }
            } }
        })
    }

    fn plain_headers() -> Vec<(&'static str, &'static str)> {
        vec![
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "list_calendars"),
        ]
    }

    fn direct(headers: &[(&'static str, &'static str)], body: &Value) -> bool {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        PlainRequest::read(body.to_string().as_bytes())
            .is_some_and(|request| direct_call(&map, request).is_some())
    }

    /// `headers` with `name` set to `value` (or removed, for `None`).
    fn with(name: &'static str, value: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
        let mut headers: Vec<_> = plain_headers()
            .into_iter()
            .filter(|(n, _)| *n != name)
            .collect();
        if let Some(value) = value {
            headers.push((name, value));
        }
        headers
    }

    #[test]
    fn only_plain_stateless_calls_are_answered_directly() {
        let body = call_body();
        assert!(direct(&plain_headers(), &body));
        assert!(direct(
            &with("content-type", Some("application/json; charset=utf-8")),
            &body
        ));
        assert!(direct(
            &with("accept", Some("text/event-stream,APPLICATION/JSON")),
            &body
        ));

        // Whatever rmcp reads in ways of its own goes to rmcp.
        assert!(!direct(
            &with("accept", Some("application/json;q=1, text/event-stream")),
            &body
        ));
        assert!(!direct(&with("accept", Some("application/json")), &body));
        assert!(!direct(&with("accept", None), &body));
        assert!(!direct(&with("content-type", Some("text/plain")), &body));
        assert!(!direct(
            &with("mcp-protocol-version", Some("2025-11-25")),
            &body
        ));
        assert!(!direct(&with("mcp-protocol-version", None), &body));
        assert!(!direct(&with("mcp-method", None), &body));
        assert!(!direct(&with("mcp-method", Some("tools/list")), &body));
        assert!(!direct(&with("mcp-name", None), &body));
        assert!(!direct(
            &with("mcp-name", Some("=?base64?bGlzdF9jYWxlbmRhcnM=?=")),
            &body
        ));
        let mut twice = plain_headers();
        twice.push(("mcp-method", "tools/call"));
        assert!(!direct(&twice, &body));
        let mut param = plain_headers();
        param.push(("mcp-param-calendar", "team"));
        assert!(!direct(&param, &body));

        // The body's _meta must be whole and name the stateless version.
        let mut older = body.clone();
        older["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-11-25");
        assert!(!direct(
            &with("mcp-protocol-version", Some("2025-11-25")),
            &older
        ));
        let mut partial = body.clone();
        partial["params"]["_meta"]
            .as_object_mut()
            .unwrap()
            .remove("io.modelcontextprotocol/clientCapabilities");
        assert!(!direct(&plain_headers(), &partial));

        // Only tools/call and tools/list; a list names nothing.
        let list = json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list",
            "params": { "_meta": body["params"]["_meta"].clone() } });
        let list_headers = with("mcp-method", Some("tools/list"));
        let unnamed: Vec<_> = list_headers
            .iter()
            .copied()
            .filter(|(n, _)| *n != "mcp-name")
            .collect();
        assert!(direct(&unnamed, &list));
        assert!(!direct(&list_headers, &list));
        let ping = json!({ "jsonrpc": "2.0", "id": 3, "method": "ping",
            "params": { "_meta": body["params"]["_meta"].clone() } });
        assert!(!direct(&with("mcp-method", Some("ping")), &ping));
    }
}
