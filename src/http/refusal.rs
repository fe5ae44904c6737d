//! The HTTP answer to a request-level [`Denial`]: the status and JSON-RPC
//! code its reason's row of [`crate::denial::TABLE`] gives, a message, and
//! for token refusals the `WWW-Authenticate` challenge MCP clients follow.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::denial::{Denial, Reason, Stage};
use crate::http::HttpResponse;

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
    let mut error = json!({ "code": denial.reason.rpc_code(), "message": message(denial) });
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
