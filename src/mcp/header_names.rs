//! The MCP transport's HTTP header names, each parsed once: a lookup by a
//! `&str` name checks and hashes the text again on every request.

use http::HeaderName;

/// `MCP-Protocol-Version`.
pub const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// `Mcp-Method`: the JSON-RPC method of the body (2026-07-28).
pub const METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// `Mcp-Name`: the tool, prompt or resource the body names (2026-07-28).
pub const NAME: HeaderName = HeaderName::from_static("mcp-name");
/// `Mcp-Session-Id`: the session of the streamable HTTP transport.
pub const SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");
