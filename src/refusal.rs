//! The HTTP answer to a request-level [`Denial`]: one mapping from reason to
//! status ([`crate::denial::Reason::status`]), JSON-RPC error body and, for
//! token refusals, the `WWW-Authenticate` challenge MCP clients follow.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::denial::{Denial, Reason, Stage};
use crate::http::HttpResponse;

/// JSON-RPC code for a body that is not JSON.
const PARSE_ERROR: i64 = -32700;
/// JSON-RPC code for a request the server will not process.
const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC code MCP clients read as "not authorized" (token, origin).
const UNAUTHORIZED: i64 = -32001;
/// JSON-RPC code rmcp uses for `Mcp-Method`/`Mcp-Name` headers that disagree with the body.
const HEADER_MISMATCH: i64 = -32020;
/// JSON-RPC code of a call the token's scope does not permit (as the MCP layer answers it).
const FORBIDDEN: i64 = -32003;
/// JSON-RPC code for a protocol version the server does not serve (MCP 2026-07-28).
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// What the client is told: the reason's label and, where it helps the caller
/// fix its request, the detail (already bounded by whoever made the denial).
fn message(denial: &Denial) -> String {
    let label = denial.reason.label();
    match (denial.reason, denial.reason.stage(), &denial.detail) {
        (Reason::OriginNotAllowed, _, _) => "origin not allowed".to_owned(),
        (Reason::PermissionMissing, _, Some(detail)) => format!("permission denied: {detail}"),
        (_, Stage::Jwt, _) => format!("token refused: {label}"),
        (Reason::BodyNotJson, _, Some(detail)) => format!("request body is not JSON: {detail}"),
        (Reason::ProtocolVersionUnsupported, _, Some(requested)) => format!(
            "unsupported MCP-Protocol-Version `{requested}`; supported: {}",
            supported_versions().join(", ")
        ),
        (_, _, Some(detail)) => format!("{label}: {detail}"),
        (_, _, None) => label.replace('_', " "),
    }
}

fn code(reason: Reason) -> i64 {
    match reason {
        Reason::BodyNotJson => PARSE_ERROR,
        Reason::McpHeaderMismatch => HEADER_MISMATCH,
        Reason::ProtocolVersionUnsupported => UNSUPPORTED_PROTOCOL_VERSION,
        Reason::OriginNotAllowed => UNAUTHORIZED,
        reason if reason.stage() == Stage::Scope => FORBIDDEN,
        reason if reason.stage() == Stage::Jwt => UNAUTHORIZED,
        _ => INVALID_REQUEST,
    }
}

/// The protocol versions served, as text.
fn supported_versions() -> Vec<&'static str> {
    crate::mcp::PROTOCOL_VERSIONS
        .iter()
        .map(rmcp::model::ProtocolVersion::as_str)
        .collect()
}

/// The answer to `denial`; `id` is the request's JSON-RPC id when its body
/// was read (`null` otherwise, as JSON-RPC asks); `metadata_url` goes into
/// the 401 challenge.
pub fn response(
    denial: &Denial,
    id: Option<&serde_json::Value>,
    metadata_url: &str,
) -> HttpResponse {
    let status = denial.reason.status().unwrap_or(StatusCode::FORBIDDEN);
    let mut error = json!({ "code": code(denial.reason), "message": message(denial) });
    if denial.reason == Reason::ProtocolVersionUnsupported {
        error["data"] = json!({
            "supported": supported_versions(),
            "requested": denial.detail.as_deref().unwrap_or_default(),
        });
    }
    let body = json!({
        "jsonrpc": "2.0",
        // Only an id JSON-RPC allows (a string or a number) is echoed.
        "id": id.filter(|id| id.is_string() || id.is_number()).unwrap_or(&serde_json::Value::Null),
        "error": error
    });
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json");
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{metadata_url}\"",
            denial.reason.label(),
        );
        builder = builder.header(header::WWW_AUTHENTICATE, challenge);
    }
    if let Some(wait) = denial.retry_after {
        builder = builder.header(header::RETRY_AFTER, wait.as_secs().max(1));
    }
    if denial.reason == Reason::PermissionMissing {
        // RFC 6750 §3.1, as the MCP authorization spec asks for a scope refusal.
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", error_description=\"permission_missing\", resource_metadata=\"{metadata_url}\""
        );
        builder = builder.header(header::WWW_AUTHENTICATE, challenge);
    }
    builder
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .expect("static response parts are valid")
}
