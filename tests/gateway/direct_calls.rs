//! Plain stateless calls are answered by the gateway's direct path
//! (`mcp::direct`), everything else by rmcp. The same request sent both ways
//! — once plain, once with a quality value in `Accept`, which rmcp reads the
//! same but sends the request through rmcp — must get the same status, content
//! type and JSON-RPC message, and the same one audit or security line.

use serde_json::{Value, json};

use mcp_gateway::cli::token::TokenRequest;

use crate::common::{TestGateway, call_ok, http_client_with_token, rpc_message, stateless_params};

use crate::common::STATELESS as VERSION;
const DIRECT_ACCEPT: &str = "application/json, text/event-stream";
const RMCP_ACCEPT: &str = "application/json;q=1, text/event-stream";

/// A stateless request of `method` (its `Mcp-Name` is `name`, when given).
fn message(method: &str, name: Option<&str>, params: Value) -> Value {
    let mut params = stateless_params(params);
    if let Some(name) = name {
        params["name"] = json!(name);
    }
    json!({ "jsonrpc": "2.0", "id": 11, "method": method, "params": params })
}

/// A `list_calendars` call with `key` set to `value` at its top level.
fn list_calendars_with(key: &str, value: Value) -> Value {
    let mut message = message(
        "tools/call",
        Some("list_calendars"),
        json!({ "arguments": {} }),
    );
    message[key] = value;
    message
}

/// The status, content type and message of `body` posted with `accept`.
async fn send(gw: &TestGateway, token: &str, accept: &str, body: &Value) -> (u16, String, Value) {
    let cert = gw.client_cert("agent-d");
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(token));
    let mut request = client
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", accept)
        .header("mcp-protocol-version", VERSION)
        .header("mcp-method", body["method"].as_str().unwrap());
    if let Some(name) = body["params"]["name"].as_str() {
        request = request.header("mcp-name", name);
    }
    let response = request.body(body.to_string()).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    // rmcp refuses a body it cannot read as a message with plain text.
    let message = if serde_json::from_str::<Value>(&text).is_err() && !text.contains("data:") {
        Value::String(text)
    } else {
        rpc_message(&text)
    };
    (status, content_type, message)
}

#[tokio::test]
async fn direct_answers_are_rmcp_answers() {
    let gw = TestGateway::start().await;
    // Events to list: the answer written once (`mcp::structured`) must read
    // as rmcp's, attendees, reminders and a series' instances included.
    let writer = gw.mcp("agent-a").await;
    call_ok(
        &writer,
        "create_event",
        json!({
            "calendarId": "team", "summary": "Review \"Q1\" ✓", "location": "Room 4",
            "start": { "dateTime": "2030-01-01T09:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2030-01-01T10:00:00", "timeZone": "Europe/Berlin" },
            "attendees": [{ "email": "a@example.com", "displayName": "A" }],
        }),
    )
    .await;
    call_ok(
        &writer,
        "create_event",
        json!({
            "calendarId": "team", "summary": "Standup",
            "start": { "dateTime": "2029-12-31T08:00:00Z" },
            "end": { "dateTime": "2029-12-31T08:15:00Z" },
            "recurrence": ["RRULE:FREQ=DAILY;COUNT=5"],
        }),
    )
    .await;
    call_ok(
        &writer,
        "create_event",
        json!({
            "calendarId": "team", "summary": "Holiday",
            "start": { "date": "2030-01-01" }, "end": { "date": "2030-01-02" },
        }),
    )
    .await;
    let reader = gw.pki.token_with(&TokenRequest {
        permissions: vec!["readCalendars".into()],
        calendars: vec!["team".into()],
        ..TokenRequest::full_access(
            "agent-d",
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    });
    let cases = [
        message("tools/list", None, json!({})),
        // The same list again: its JSON is reused (`mcp::tool_lists`).
        message("tools/list", None, json!({})),
        message(
            "tools/call",
            Some("list_calendars"),
            json!({ "arguments": {} }),
        ),
        message(
            "tools/call",
            Some("list_events"),
            json!({ "arguments": { "calendarId": "team", "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z" } }),
        ),
        // Out of the token's calendars: a -32003 error and a security line.
        message(
            "tools/call",
            Some("list_events"),
            json!({ "arguments": { "calendarId": "ny", "timeMin": "2030-01-01T00:00:00Z" } }),
        ),
        // Arguments the tool cannot take.
        message(
            "tools/call",
            Some("list_events"),
            json!({ "arguments": { "calendarId": 5 } }),
        ),
        message(
            "tools/call",
            Some("get_current_time"),
            json!({ "arguments": { "timeZone": "Mars/Olympus" } }),
        ),
        // Keys rmcp reads by their presence, whatever their value: a
        // `result` key (even null) makes the message no request to rmcp;
        // an unknown key is read by the same request type both ways.
        list_calendars_with("result", Value::Null),
        list_calendars_with("error", Value::Null),
        list_calendars_with("extra", json!(1)),
        // A tool that does not exist.
        message(
            "tools/call",
            Some("no_such_tool"),
            json!({ "arguments": {} }),
        ),
        // A cursor the gateway never gave out.
        message("tools/list", None, json!({ "cursor": "no-such-page" })),
        // An event that does not exist.
        message(
            "tools/call",
            Some("get_event"),
            json!({ "arguments": { "calendarId": "team", "eventId": "missing" } }),
        ),
    ];
    for body in &cases {
        let audit_before = gw.audit_lines().len();
        let security_before = gw.security_lines().len();
        let direct = send(&gw, &reader, DIRECT_ACCEPT, body).await;
        let direct_lines = (
            gw.audit_lines()[audit_before..].to_vec(),
            gw.security_lines()[security_before..].to_vec(),
        );
        let rmcp = send(&gw, &reader, RMCP_ACCEPT, body).await;
        let rmcp_lines = (
            gw.audit_lines()[audit_before + direct_lines.0.len()..].to_vec(),
            gw.security_lines()[security_before + direct_lines.1.len()..].to_vec(),
        );
        assert_eq!(direct, rmcp, "{body}");
        assert_eq!(
            strip_times(&direct_lines.0),
            strip_times(&rmcp_lines.0),
            "{body}"
        );
        assert_eq!(
            strip_times(&direct_lines.1),
            strip_times(&rmcp_lines.1),
            "{body}"
        );
        // A call rmcp refused to read is no tool call: its line is a security one.
        if body["method"] == "tools/call" && direct.2.is_object() {
            assert_eq!(direct_lines.0.len(), 1, "one audit line: {body}");
        }
    }
    let (_, _, answer) = send(&gw, &reader, DIRECT_ACCEPT, &cases[4]).await;
    assert_eq!(answer["error"]["code"], -32003, "{answer}");
    let (_, _, answer) = send(&gw, &reader, DIRECT_ACCEPT, &cases[3]).await;
    let items = &answer["result"]["structuredContent"]["items"];
    assert_eq!(items.as_array().map(Vec::len), Some(3), "{answer}");
    let text = answer["result"]["content"][1]["text"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        answer["result"]["structuredContent"],
        "the text block is the structured content"
    );
    let (_, _, answer) = send(&gw, &reader, DIRECT_ACCEPT, &cases[2]).await;
    let calendars = &answer["result"]["structuredContent"]["calendars"];
    assert_eq!(calendars.as_array().map(Vec::len), Some(1), "{answer}");
}

/// Log lines without the parts that differ from one call to the next (the
/// time stamp and the duration).
fn strip_times(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            line.split(' ')
                .filter(|field| !field.starts_with("ms=") && !field.starts_with("time="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}
