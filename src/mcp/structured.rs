//! A successful tool answer's JSON written once.
//!
//! rmcp's `CallToolResult` holds structured content as a `serde_json::Value`:
//! a tool's result became a tree (`to_value`), the tree became the text
//! block (`to_string`), and the whole message was written again with that
//! text escaped. For a week of 168 events that was about a third of the
//! gateway's CPU (bench/README.md). On the direct path
//! ([`crate::mcp::direct`]), which writes the answer itself, the result is
//! serialized once: the text block is that JSON, and the same bytes are
//! placed unparsed as `structuredContent`. rmcp's path (sessions, anything
//! unusual) still gets a `Value`; both paths carry the same text.
//!
//! The direct path marks the task that runs the handler
//! ([`with_structured_as_text`]); [`structured_result`] looks for the mark.

use std::cell::RefCell;

use rmcp::model::{CallToolResult, ContentBlock, MetaObject, RequestId, ResultType};
use serde::Serialize;
use serde_json::value::RawValue;

tokio::task_local! {
    /// Present while a direct call's handler runs: the structured content
    /// of its successful result, once the tool has written it.
    static WRITTEN_ONCE: RefCell<Option<Box<RawValue>>>;
}

/// A successful result with `summary` first, then `value` as JSON text, and
/// `value` as structured content: kept for the direct path when inside
/// [`with_structured_as_text`], else as a `Value` for rmcp.
pub fn structured_result(summary: String, value: &impl Serialize) -> CallToolResult {
    // The tools' result types have string keys only: serialising them cannot fail.
    let raw = serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned());
    let text = raw.get().to_owned();
    let mut result =
        CallToolResult::success(vec![ContentBlock::text(summary), ContentBlock::text(text)]);
    let kept = WRITTEN_ONCE.try_with(move |slot| *slot.borrow_mut() = Some(raw));
    if kept.is_err() {
        result.structured_content = Some(serde_json::to_value(value).unwrap_or_default());
    }
    result
}

/// Runs `handler` with the mark; returns its output and the structured
/// content a successful result left (then absent from the result itself:
/// see [`written_once`]).
pub async fn with_structured_as_text<T>(
    handler: impl Future<Output = T>,
) -> (T, Option<Box<RawValue>>) {
    WRITTEN_ONCE
        .scope(RefCell::new(None), async {
            let output = handler.await;
            (output, WRITTEN_ONCE.with(|slot| slot.borrow_mut().take()))
        })
        .await
}

/// Whether `structured`, left by the handler, is `result`'s own: a result
/// made by [`structured_result`] has no `Value` and ends with that text.
pub fn written_once(result: &CallToolResult, structured: &RawValue) -> bool {
    result.structured_content.is_none()
        && result
            .content
            .last()
            .and_then(|block| block.as_text())
            .is_some_and(|text| text.text == structured.get())
}

/// The JSON-RPC response carrying `result` with `structured` as its
/// `structuredContent`, in the field order rmcp writes.
pub fn write_response(
    id: &RequestId,
    result: &CallToolResult,
    structured: &RawValue,
) -> serde_json::Result<Vec<u8>> {
    let response = Response {
        jsonrpc: "2.0",
        id,
        result: ResultWithRaw {
            result_type: result.result_type.as_ref(),
            content: &result.content,
            structured_content: structured,
            is_error: result.is_error,
            meta: result.meta.as_ref(),
        },
    };
    // The text block and the structured content hold the same JSON, the
    // block escaped: room for both up front.
    let mut body = Vec::with_capacity(structured.get().len() * 2 + 256);
    serde_json::to_writer(&mut body, &response)?;
    Ok(body)
}

/// The JSON-RPC response carrying `result`, already JSON.
pub fn write_raw_response(id: &RequestId, result: &RawValue) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(result.get().len() + 64);
    serde_json::to_writer(
        &mut body,
        &Response {
            jsonrpc: "2.0",
            id,
            result,
        },
    )?;
    Ok(body)
}

#[derive(Serialize)]
struct Response<'a, R> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    result: R,
}

/// rmcp's `CallToolResult`, field for field, with the structured content raw.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultWithRaw<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    result_type: Option<&'a ResultType>,
    content: &'a [ContentBlock],
    structured_content: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_error: Option<bool>,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<&'a MetaObject>,
}
