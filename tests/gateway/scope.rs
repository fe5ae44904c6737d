//! Scope per MCP message: tools/list shows only what the token permits, a call
//! without the permission or outside the token's calendars is a JSON-RPC error
//! naming what is missing, written to the security log, and the backend sees
//! nothing; get_access_info tells the client what it may do.

use mcp_gateway::cli::token::TokenRequest;
use mcp_gateway::policy::grant::Permission;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

use crate::common::{McpClient, TestGateway, call_ok};
use crate::google_setup::Backend;

fn reader_of_team() -> TokenRequest {
    TokenRequest {
        client_id: "agent-r".into(),
        permissions: vec![Permission::ReadCalendars.name().to_owned()],
        calendars: vec!["team".into()],
        allowed_ips: vec!["127.0.0.0/8".into()],
        ttl: std::time::Duration::from_secs(600),
        bind_cert_pem: None,
        renewable_for: None,
    }
}

async fn refused(client: &McpClient, tool: &str, arguments: Value) -> (i32, String, Value) {
    let Value::Object(arguments) = arguments else {
        unreachable!()
    };
    let err = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .expect_err("the call must be refused");
    match err {
        rmcp::ServiceError::McpError(e) => {
            (e.code.0, e.message.to_string(), e.data.unwrap_or_default())
        }
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

async fn a_read_only_token_for_one_calendar(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let reader = gw
        .mcp_with("agent-r", &gw.pki.token_with(&reader_of_team()))
        .await;

    let mut tools: Vec<String> = reader
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        [
            "find_free_slots",
            "get_access_info",
            "get_current_time",
            "get_event",
            "get_freebusy",
            "list_calendars",
            "list_events"
        ]
    );

    let access = call_ok(&reader, "get_access_info", json!({})).await;
    assert_eq!(access["identity"], "agent-r");
    assert_eq!(access["permissions"], json!(["readCalendars"]));
    assert_eq!(access["calendars"], json!(["team"]));
    assert!(access["tokenExpiresAt"].as_str().unwrap().ends_with('Z'));

    let calendars = call_ok(&reader, "list_calendars", json!({})).await;
    assert_eq!(
        calendars["calendars"].as_array().unwrap().len(),
        1,
        "{calendars}"
    );
    call_ok(
        &reader,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2030-01-01T00:00:00Z" }),
    )
    .await;

    let (code, message, data) = refused(
        &reader,
        "create_event",
        json!({ "calendarId": "team", "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } }),
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (-32003, "permission denied: create_event needs createEvents")
    );
    assert_eq!(data["reason"], "permission_missing");
    gw.expect_security_line("REFUSE stage=scope reason=permission_missing ip=127.0.0.1 client=agent-r detail=\"create_event needs createEvents\"").await;

    let (code, message, _) = refused(
        &reader,
        "list_events",
        json!({ "timeMin": "2030-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(
        (code, message.as_str()),
        (-32003, "calendar not allowed for this token: primary")
    );
    gw.expect_security_line(
        "REFUSE stage=scope reason=calendar_not_allowed ip=127.0.0.1 client=agent-r detail=primary",
    )
    .await;
    let (_, message, _) = refused(
        &reader,
        "get_freebusy",
        json!({ "calendarIds": ["team", "ny"], "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z" }),
    )
    .await;
    assert_eq!(message, "calendar not allowed for this token: ny");

    // Every call is one audit line, refused ones included; the token itself never appears.
    let audit = gw.audit_lines();
    let jti_free: Vec<String> = audit
        .iter()
        .map(|l| {
            l.split(' ')
                .filter(|f| !f.starts_with("jti=") && !f.starts_with("ms="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    for expected in [
        "AUDIT tool=get_access_info client=agent-r ip=127.0.0.1 calendars=- outcome=ok",
        "AUDIT tool=list_events client=agent-r ip=127.0.0.1 calendars=team outcome=ok",
        // Refused for its permission before its arguments are read.
        "AUDIT tool=create_event client=agent-r ip=127.0.0.1 calendars=- outcome=refused",
        "AUDIT tool=list_events client=agent-r ip=127.0.0.1 calendars=primary outcome=refused",
        "AUDIT tool=get_freebusy client=agent-r ip=127.0.0.1 calendars=team,ny outcome=refused",
    ] {
        assert!(
            jti_free.iter().any(|l| l == expected),
            "missing {expected:?} in {jti_free:#?}"
        );
    }
    let token = gw.pki.token_with(&reader_of_team());
    assert!(audit.iter().all(|l| !l.contains(&token)));

    // The refused create never reached the store.
    let admin = gw.mcp("agent-a").await;
    let listed = call_ok(
        &admin,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2029-01-01T00:00:00Z" }),
    )
    .await;
    assert!(listed["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_writer_without_delete_may_create_and_update_only() {
    let gw = TestGateway::start().await;
    let request = TokenRequest {
        client_id: "agent-w".into(),
        permissions: vec![
            "readCalendars".into(),
            "createEvents".into(),
            "updateEvents".into(),
        ],
        calendars: vec!["*".into()],
        ..reader_of_team()
    };
    let writer = gw.mcp_with("agent-w", &gw.pki.token_with(&request)).await;
    let event = call_ok(
        &writer,
        "create_event",
        json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } }),
    )
    .await;
    call_ok(
        &writer,
        "update_event",
        json!({ "eventId": event["id"], "summary": "y" }),
    )
    .await;
    let (_, message, _) = refused(&writer, "delete_event", json!({ "eventId": event["id"] })).await;
    assert_eq!(
        message,
        "permission denied: delete_event needs deleteEvents"
    );
    call_ok(&writer, "get_event", json!({ "eventId": event["id"] })).await;
    let bad = writer
        .call_tool(
            CallToolRequestParams::new("get_event")
                .with_arguments(json!({ "eventId": "nope" }).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(bad.is_error, Some(true));
    for _ in 0..100 {
        if gw.audit_lines().iter().any(|l| {
            l.starts_with("AUDIT tool=get_event client=agent-w ip=127.0.0.1 ")
                && l.contains(" outcome=tool_error ")
        }) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no tool_error audit line: {:#?}", gw.audit_lines());
}

// The same case on both backends: scope is checked before any backend is asked.

#[tokio::test]
async fn a_read_only_token_for_one_calendar_on_embedded() {
    a_read_only_token_for_one_calendar(Backend::Embedded).await;
}

#[tokio::test]
async fn a_read_only_token_for_one_calendar_on_google() {
    a_read_only_token_for_one_calendar(Backend::Google).await;
}

#[tokio::test]
async fn a_read_only_token_for_one_calendar_on_radicale() {
    a_read_only_token_for_one_calendar(Backend::Radicale).await;
}

#[tokio::test]
async fn a_read_only_token_for_one_calendar_on_xandikos() {
    a_read_only_token_for_one_calendar(Backend::Xandikos).await;
}
