//! A plain stateless `tools/call` or `tools/list` body, read once for both
//! the gateway's checks and the MCP handler.
//!
//! Any other body is read twice: by the gateway (the duplicate-key check of
//! [`crate::mcp::strict_json`], then the head the checks decide on) and again
//! by rmcp, through its untagged message types. For a stateless call that is
//! a quarter of the instructions of the whole admitted call
//! (bench/README.md). A body is read here only when it holds exactly the
//! keys these types name, so one reading can serve both:
//!
//! - no key is written twice anywhere: the derived structs refuse a field
//!   named twice, [`UniqueValue`] and [`UniqueObject`] any key named twice
//!   in the free-form parts (the id, `arguments`, `_meta`);
//! - no key is unknown (`deny_unknown_fields` on every struct), so nothing
//!   in the body is left for another parser to read its own way;
//! - each value is read by the type rmcp reads it with (`JsonRpcVersion2_0`,
//!   `RequestId`) or as serde_json's `Value` reads it.
//!
//! Whatever these types refuse is not refused here: it is read the usual
//! way, and refused or answered there. A test reads bodies both ways and
//! compares what the checks and rmcp get (`plain_reads_match_the_usual_reads`
//! in `http::checks`, and the tests below).

use rmcp::model::{
    CallToolRequestParams, ClientRequest, JsonRpcVersion2_0, PaginatedRequestParams, Request,
    RequestId, RequestMetaObject, RequestOptionalParam,
};
use serde::Deserialize;
use serde_json::Value;

use crate::mcp::strict_json::{UniqueObject, UniqueValue};

/// A body this module reads, as a JSON-RPC request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[allow(
        dead_code,
        reason = "read to refuse anything but \"2.0\", as rmcp does"
    )]
    jsonrpc: JsonRpcVersion2_0,
    id: UniqueValue,
    method: Method,
    params: Params,
}

#[derive(Clone, Copy, Deserialize)]
enum Method {
    #[serde(rename = "tools/call")]
    Call,
    #[serde(rename = "tools/list")]
    List,
}

/// The params of either method: which keys each may hold is checked after
/// reading ([`PlainRequest::read`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<UniqueObject>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(rename = "_meta")]
    meta: UniqueObject,
}

/// A plain stateless request, read once.
pub struct PlainRequest {
    /// The id as written, for the gateway's checks and refusals.
    id_json: Value,
    /// The id as rmcp reads it.
    id: RequestId,
    /// The request as rmcp's model holds it, its `_meta` taken out.
    request: ClientRequest,
    /// The request's `_meta`.
    meta: RequestMetaObject,
}

impl PlainRequest {
    /// `body` read as a plain `tools/call` (a `name`, optional `arguments`,
    /// a `_meta` object) or `tools/list` (an optional `cursor`, a `_meta`
    /// object) with a number or string id, or `None` when it is anything else.
    pub fn read(body: &[u8]) -> Option<PlainRequest> {
        // Checked as UTF-8 once, whole: read from bytes, serde_json would check
        // each string again (a fifth of this reading's instructions). A body
        // that is not UTF-8 is not JSON either way.
        let Body {
            jsonrpc: _,
            id: UniqueValue(id_json),
            method,
            params,
        } = serde_json::from_str(std::str::from_utf8(body).ok()?).ok()?;
        if !(id_json.is_number() || id_json.is_string()) {
            return None;
        }
        let id = RequestId::deserialize(&id_json).ok()?;
        let Params {
            name,
            arguments,
            cursor,
            meta: UniqueObject(meta),
        } = params;
        let arguments = arguments.map(|UniqueObject(arguments)| arguments);
        let request = match (method, name, cursor) {
            (Method::Call, Some(name), None) => {
                let mut params = CallToolRequestParams::new(name);
                params.arguments = arguments;
                ClientRequest::CallToolRequest(Request::new(params))
            }
            (Method::List, None, cursor) if arguments.is_none() => {
                ClientRequest::ListToolsRequest(RequestOptionalParam::with_param(
                    PaginatedRequestParams::default().with_cursor(cursor),
                ))
            }
            _ => return None,
        };
        Some(PlainRequest {
            id_json,
            id,
            request,
            meta: RequestMetaObject::from(meta),
        })
    }

    /// The JSON-RPC method.
    pub fn method(&self) -> &'static str {
        match self.request {
            ClientRequest::CallToolRequest(_) => "tools/call",
            _ => "tools/list",
        }
    }

    /// The tool a `tools/call` names.
    pub fn tool_name(&self) -> Option<&str> {
        match &self.request {
            ClientRequest::CallToolRequest(call) => Some(&call.params.name),
            _ => None,
        }
    }

    /// The id as the body writes it.
    pub fn id_json(&self) -> &Value {
        &self.id_json
    }

    /// The request's `_meta`.
    pub fn meta(&self) -> &RequestMetaObject {
        &self.meta
    }

    /// The id, the request and its `_meta`, as rmcp's model holds them.
    pub fn into_parts(self) -> (RequestId, ClientRequest, RequestMetaObject) {
        (self.id, self.request, self.meta)
    }
}

#[cfg(test)]
mod tests;
