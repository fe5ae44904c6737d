//! The admission matrix: attacks as table rows over real TLS connections.
//! Every row states what the client presents, what it must see, the one
//! security line the gateway must write (or none), and whether the shipped
//! fail2ban filter must match that line; [`ledger`] checks all of it, runs the
//! real `fail2ban-regex` at the end of each family and prints the case count.
//!
//! Families: [`tokens`] (the bearer token and its header), [`scope`] (what
//! an admitted token may call, and on which calendars), [`http`] (the
//! request itself: paths, hosts, smuggling, sizes, bodies), [`http2`] (HTTP/2
//! floods and forbidden frames), [`certificates`] (the client certificate and
//! the identity read from it).

pub mod bent_claims;
mod certificates;
mod http;
mod http2;
mod ledger;
mod proxy;
mod scope;
pub mod tls_client;
pub mod tokens;

use serde_json::Value;

use crate::common::TestGateway;
use ledger::Seen;

/// The stateless protocol version every row speaks unless it tests another.
pub use crate::clients::STATELESS as VERSION;

/// A stateless `tools/call` body of `tool` with `arguments`.
pub use crate::clients::stateless_tool_call as tool_call;

/// Posts `body` (stateless, with the `Mcp-*` headers its method and name
/// call for) with each of `authorization` as an `Authorization` header.
pub async fn post_stateless(
    gw: &TestGateway,
    client: &reqwest::Client,
    authorization: &[String],
    body: &Value,
) -> Seen {
    let mut request = client
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", VERSION);
    if let Some(method) = body["method"].as_str() {
        request = request.header("mcp-method", method);
    }
    if let Some(name) = body["params"]["name"].as_str()
        && let Ok(value) = reqwest::header::HeaderValue::from_str(name)
    {
        request = request.header("mcp-name", value);
    }
    for value in authorization {
        request = request.header("authorization", value);
    }
    seen(request.body(body.to_string()).send().await).await
}

/// What a client makes of `response`.
pub async fn seen(response: reqwest::Result<reqwest::Response>) -> Seen {
    let Ok(response) = response else {
        return Seen::NoAnswer;
    };
    let status = response.status().as_u16();
    let Ok(text) = response.text().await else {
        return Seen::NoAnswer;
    };
    if status != 200 {
        return Seen::Status(status);
    }
    let message = crate::common::rpc_message(&text);
    if let Some(code) = message["error"]["code"].as_i64() {
        return Seen::RpcError(code);
    }
    match message["result"]["isError"].as_bool() {
        Some(true) => Seen::ToolError,
        _ => Seen::Ok,
    }
}
