//! Client helpers: HTTPS clients with certificates and tokens, tool calls
//! through rmcp, and raw JSON-RPC requests.

use rmcp::model::{CallToolRequestParams, CallToolResult};
use serde_json::Value;

use mcp_gateway::cli::pki::Issued;

use crate::common::McpClient;

/// An HTTPS client trusting `ca_pem`, presenting `cert` when given (no token).
pub fn http_client(ca_pem: &str, cert: Option<&Issued>) -> reqwest::Client {
    http_client_with_token(ca_pem, cert, None)
}

/// An HTTPS client trusting `ca_pem`, presenting `cert` and sending `token` when given.
pub fn http_client_with_token(
    ca_pem: &str,
    cert: Option<&Issued>,
    token: Option<&str>,
) -> reqwest::Client {
    http_client_builder(ca_pem, cert, token).build().unwrap()
}

/// The builder behind every test client, for tests that need one more setting
/// (a source address, HTTP/1.1 only).
pub fn http_client_builder(
    ca_pem: &str,
    cert: Option<&Issued>,
    token: Option<&str>,
) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .timeout(std::time::Duration::from_secs(20));
    if let Some(cert) = cert {
        let pem = format!("{}{}", cert.cert_pem, cert.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    if let Some(token) = token {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        builder = builder.default_headers(headers);
    }
    builder
}

/// Initializes over `client` at `url` with `version`; the session id and the answer.
pub async fn initialize(client: &reqwest::Client, url: &str, version: &str) -> (String, Value) {
    let response = post(client, url, initialize_body(version))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let message = rpc_message(&response.text().await.unwrap());
    (session, message)
}

/// A ready session: initialize, then the `initialized` notification.
pub async fn open_session(client: &reqwest::Client, url: &str) -> String {
    let (session, _) = initialize(client, url, "2025-11-25").await;
    let ack = post(
        client,
        url,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .header("mcp-session-id", &session)
    .send()
    .await
    .unwrap();
    assert_eq!(ack.status(), 202);
    session
}

/// Calls a tool and returns its result (tool errors included).
pub async fn call(client: &McpClient, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// Calls a tool that must succeed and returns its structured content.
pub async fn call_ok(client: &McpClient, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments).await;
    assert_eq!(
        result.is_error,
        Some(false),
        "{tool} returned an error: {result:?}"
    );
    result.structured_content.expect("structured content")
}

/// Calls a tool that must fail and returns its error message.
pub async fn call_err(client: &McpClient, tool: &str, arguments: Value) -> String {
    let result = call(client, tool, arguments).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} unexpectedly succeeded: {result:?}"
    );
    // Argument-shape errors come from rmcp as text only; our own errors are structured too.
    match &result.structured_content {
        Some(content) => content["error"]["message"]
            .as_str()
            .expect("error message")
            .to_owned(),
        None => result.content[0]
            .as_text()
            .expect("text error")
            .text
            .clone(),
    }
}

/// Raw JSON-RPC initialize body for `version`.
pub fn initialize_body(version: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"raw","version":"1"}}}}}}"#
    )
}

/// Posts a JSON-RPC body with the headers MCP requires.
pub fn post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<String>,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.into())
}

/// The JSON-RPC message in a response that may be JSON or a server-sent event stream.
pub fn rpc_message(body: &str) -> Value {
    if let Ok(v) = serde_json::from_str(body) {
        return v;
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .find_map(|d| serde_json::from_str(d).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}

/// The stateless MCP version: no session, `_meta` on every request.
pub const STATELESS: &str = "2026-07-28";

/// `params` with the `_meta` every stateless request carries.
pub fn stateless_params(mut params: Value) -> Value {
    params["_meta"] = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": { "name": "test", "version": "1" }
    });
    params
}

/// A stateless `tools/call` body of `tool` (any JSON value, for odd names).
pub fn stateless_tool_call(tool: &Value, arguments: Value) -> Value {
    serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": stateless_params(serde_json::json!({ "name": tool, "arguments": arguments })),
    })
}

/// Posts a stateless `tools/call` of `tool` with the `Mcp-*` headers it
/// calls for; the status and the JSON-RPC answer.
pub async fn call_stateless(
    client: &reqwest::Client,
    url: &str,
    tool: &str,
    arguments: Value,
) -> (u16, Value) {
    let body = stateless_tool_call(&Value::from(tool), arguments);
    let response = post(client, url, body.to_string())
        .header("mcp-protocol-version", STATELESS)
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, rpc_message(&response.text().await.unwrap()))
}

/// The ids of the events `client` sees on calendar `team` in one day
/// (`YYYY-MM-DD`, UTC), in start order.
pub async fn team_ids_on(client: &McpClient, day: &str) -> Vec<String> {
    let page = call_ok(
        client,
        "list_events",
        serde_json::json!({
            "calendarId": "team", "timeMin": format!("{day}T00:00:00Z"),
            "timeMax": format!("{day}T23:59:59Z"), "maxResults": 250
        }),
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}
