//! MCP 2026-07-28, stateless (no initialize, no session; `_meta` on every
//! request; `Mcp-Method`/`Mcp-Name` headers), over raw HTTP: the pipeline and
//! the scope apply exactly as with sessions. A tool the token may not call is
//! refused on its headers before the body is read; a calendar out of scope is
//! refused by the tool; a `Mcp-Name` that lies about the body is refused.

use serde_json::{Value, json};

use mcp_gateway::cli::token::TokenRequest;

use crate::common::{TestGateway, http_client_with_token, post, rpc_message, stateless_tool_call};

use crate::common::STATELESS as VERSION;

/// A reader of the `team` calendar only.
fn reader_of_team(identity: &str) -> TokenRequest {
    TokenRequest {
        permissions: vec!["readCalendars".into()],
        calendars: vec!["team".into()],
        ..TokenRequest::full_access(
            identity,
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    }
}

/// A stateless `tools/call` of `body_tool`, whose `Mcp-Name` header says `header_tool`.
async fn call(
    gw: &TestGateway,
    token: &str,
    header_tool: &str,
    body_tool: &str,
    arguments: Value,
) -> (u16, Option<String>, Value) {
    let cert = gw.client_cert("agent-r");
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(token));
    let body = stateless_tool_call(&json!(body_tool), arguments);
    let response = post(&client, &gw.url(), body.to_string())
        .header("mcp-protocol-version", VERSION)
        .header("mcp-method", "tools/call")
        .header("mcp-name", header_tool)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        challenge,
        rpc_message(&response.text().await.unwrap()),
    )
}

const CREATE: &str = "create_event";

fn new_event() -> Value {
    json!({ "calendarId": "team", "summary": "smuggled", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } })
}

#[tokio::test]
async fn stateless_calls_meet_the_same_pipeline_and_scope() {
    let gw = TestGateway::start().await;
    let reader = gw.pki.token_with(&reader_of_team("agent-r"));

    let (status, _, answer) = call(
        &gw,
        &reader,
        "get_current_time",
        "get_current_time",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["structuredContent"]["timeZone"], "UTC");

    // A write with a read-only token: refused on its headers, before its body.
    let (status, challenge, answer) = call(&gw, &reader, CREATE, CREATE, new_event()).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        challenge
            .unwrap()
            .starts_with("Bearer error=\"insufficient_scope\"")
    );
    assert_eq!(answer["error"]["code"], -32003);
    assert_eq!(
        answer["error"]["message"],
        "permission denied: create_event needs createEvents"
    );
    gw.expect_security_line("REFUSE stage=scope reason=permission_missing ip=127.0.0.1 client=agent-r detail=\"create_event needs createEvents\"")
        .await;

    // A calendar outside the token's scope: refused by the tool's scope check.
    let (status, _, answer) = call(
        &gw,
        &reader,
        "list_events",
        "list_events",
        json!({ "calendarId": "ny", "timeMin": "2030-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["error"]["code"], -32003, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "calendar not allowed for this token: ny"
    );

    // A header that lies about the body: refused, logged, nothing written.
    let (status, _, answer) = call(&gw, &reader, "get_current_time", CREATE, new_event()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["code"], -32020, "{answer}");
    gw.expect_security_line_starting(
        "REFUSE stage=http reason=mcp_header_mismatch ip=127.0.0.1 client=agent-r",
    )
    .await;
    let admin = gw.pki.token("agent-r");
    let (_, _, listed) = call(
        &gw,
        &admin,
        "list_events",
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2029-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(
        listed["result"]["structuredContent"]["items"],
        json!([]),
        "{listed}"
    );
    let refused_audit = gw
        .audit_lines()
        .iter()
        .filter(|l| {
            l.starts_with("AUDIT tool=create_event client=agent-r") && l.contains("outcome=refused")
        })
        .count();
    assert_eq!(refused_audit, 1, "{:?}", gw.audit_lines());
}
