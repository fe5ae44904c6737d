//! A successful tool answer's JSON written once.
//!
//! rmcp's `CallToolResult` holds structured content as a `serde_json::Value`:
//! a tool's result became a tree (`to_value`), the tree became the text
//! block (`to_string`), and the whole message was written again with that
//! text escaped. For a week of 168 events that was about a third of the
//! gateway's CPU (bench/README.md). On the direct path
//! ([`crate::mcp::direct`]), which writes the answer itself, the result is
//! serialized once, into the text block; the answer places those bytes
//! escaped as the block and unchanged as `structuredContent`. rmcp's path
//! (sessions, anything unusual) still gets a `Value`; both carry the same text.
//!
//! The direct path marks the task that runs the handler
//! ([`with_structured_as_text`]); [`structured_result`] looks for the mark
//! and leaves the address and length of the text it wrote, so that the
//! answer uses exactly that string ([`written_once`]).

use std::cell::Cell;

use rmcp::model::{CallToolResult, ContentBlock, RequestId, TextContent};
use serde::Serialize;

tokio::task_local! {
    /// Present while a direct call's handler runs: where the JSON text of
    /// its successful result lies, once the tool has written it.
    static WRITTEN_ONCE: Cell<Option<TextAt>>;
}

/// Where a text block's string lies: its address and length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TextAt(usize, usize);

impl TextAt {
    fn of(text: &str) -> TextAt {
        TextAt(text.as_ptr() as usize, text.len())
    }
}

/// A successful result with `summary` first, then `value` as JSON text, and
/// `value` as structured content: a `Value` for rmcp, or, inside
/// [`with_structured_as_text`], left in the text block for the direct path.
pub fn structured_result(summary: String, value: &impl Serialize) -> CallToolResult {
    // Room up front: a listing's JSON grew by doubling, copied each time.
    let mut json = Vec::with_capacity(4096);
    // The tools' result types have string keys only: serialising them cannot fail.
    if serde_json::to_writer(&mut json, value).is_err() {
        json = b"null".to_vec();
    }
    // serde_json writes UTF-8.
    let text = String::from_utf8(json).unwrap_or_default();
    let at = TextAt::of(&text);
    let mut result =
        CallToolResult::success(vec![ContentBlock::text(summary), ContentBlock::text(text)]);
    if WRITTEN_ONCE.try_with(|slot| slot.set(Some(at))).is_err() {
        result.structured_content = Some(serde_json::to_value(value).unwrap_or_default());
    }
    result
}

/// Runs `handler` with the mark; returns its output and where the JSON text
/// of a successful result lies (its structured content then only there).
pub async fn with_structured_as_text<T>(handler: impl Future<Output = T>) -> (T, Option<TextAt>) {
    WRITTEN_ONCE
        .scope(Cell::new(None), async {
            let output = handler.await;
            (output, WRITTEN_ONCE.with(Cell::get))
        })
        .await
}

/// The JSON text `result` carries as its structured content: its last
/// block, when that block is the very string [`structured_result`] wrote
/// (`at`) in a plain `ContentBlock::text` (no annotations, no `_meta`), and
/// no `Value` was made. (A field rmcp may add to text blocks would be
/// missing from [`write_response`]'s block: `tests/gateway/direct_calls.rs`
/// compares the answer with rmcp's.)
pub fn written_once(result: &CallToolResult, at: TextAt) -> Option<&str> {
    if result.structured_content.is_some() {
        return None;
    }
    match result.content.last() {
        Some(ContentBlock::Text(TextContent {
            text,
            meta: None,
            annotations: None,
            ..
        })) if TextAt::of(text) == at => Some(text),
        _ => None,
    }
}

/// The JSON-RPC response carrying `result`, whose last block is `json`
/// ([`written_once`]): rmcp's fields, in rmcp's order, with `json` written
/// escaped as that block and unchanged as `structuredContent`.
pub fn write_response(
    id: &RequestId,
    result: &CallToolResult,
    json: &str,
) -> serde_json::Result<Vec<u8>> {
    // Room for the escaper's worst case (six bytes per byte) and the text again.
    let mut body = Vec::with_capacity(json.len() * 7 + 512);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    serde_json::to_writer(&mut body, id)?;
    body.extend_from_slice(br#","result":{"#);
    if let Some(result_type) = &result.result_type {
        body.extend_from_slice(br#""resultType":"#);
        serde_json::to_writer(&mut body, result_type)?;
        body.push(b',');
    }
    body.extend_from_slice(br#""content":["#);
    for block in &result.content[..result.content.len().saturating_sub(1)] {
        serde_json::to_writer(&mut body, block)?;
        body.push(b',');
    }
    body.extend_from_slice(br#"{"type":"text","text":"#);
    // The JSON as a string, quotes included, byte for byte as serde_json
    // writes it. JSON is quote-dense (one every few bytes): a byte loop cost
    // ~10 instructions per byte, a search per quote more; the SIMD kernel
    // compares 32 bytes at once (bench/README.md).
    json_escape_simd::escape_into(json, &mut body);
    body.extend_from_slice(br#"}],"structuredContent":"#);
    body.extend_from_slice(json.as_bytes());
    if let Some(is_error) = result.is_error {
        body.extend_from_slice(br#","isError":"#);
        serde_json::to_writer(&mut body, &is_error)?;
    }
    if let Some(meta) = &result.meta {
        body.extend_from_slice(br#","_meta":"#);
        serde_json::to_writer(&mut body, meta)?;
    }
    body.extend_from_slice(b"}}");
    Ok(body)
}

/// The JSON-RPC response carrying `result`, already JSON.
pub fn write_raw_response(id: &RequestId, result: &str) -> serde_json::Result<Vec<u8>> {
    let mut body = Vec::with_capacity(result.len() + 64);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    serde_json::to_writer(&mut body, id)?;
    body.extend_from_slice(br#","result":"#);
    body.extend_from_slice(result.as_bytes());
    body.push(b'}');
    Ok(body)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{any, prop, prop_assert_eq, proptest};
    use serde_json::{Value, json};

    /// The escaped text reads back as the JSON it was made from, whatever
    /// serde_json put in its strings (quotes, backslashes, control
    /// characters, non-ASCII).
    #[test]
    fn the_text_block_reads_back_as_the_json() {
        let value = json!({
            "a": "say \"hi\"\\", "b": "line\nbreak\ttab\u{1}", "c": "Zürich ✓ 𝄞",
            "d": [1, -2.5, null, true], "e": { "\"k\"": "\\\\" }, "f": ""
        });
        let text = serde_json::to_string(&value).unwrap();
        let mut quoted = Vec::new();
        json_escape_simd::escape_into(&text, &mut quoted);
        // Byte for byte what serde_json writes for that string.
        assert_eq!(quoted, serde_json::to_vec(&text).unwrap());
        let read: String = serde_json::from_slice(&quoted).unwrap();
        assert_eq!(read, text);
        assert_eq!(serde_json::from_str::<Value>(&read).unwrap(), value);
    }

    proptest! {
        /// Any string, control characters and DEL included, of any length
        /// around the kernel's 32-byte blocks, escapes as serde_json's, and
        /// after what the buffer already held.
        #[test]
        fn any_text_escapes_as_serde_json_does(
            chars in prop::collection::vec(any::<char>(), 0..40),
            repeat in 1usize..8,
        ) {
            let text = chars.iter().collect::<String>().repeat(repeat);
            let mut out = b"prefix".to_vec();
            json_escape_simd::escape_into(&text, &mut out);
            let mut expected = b"prefix".to_vec();
            serde_json::to_writer(&mut expected, &text).unwrap();
            prop_assert_eq!(out, expected);
        }
    }
}
