//! Matrix rows for scope: what an admitted token may call, and on which
//! calendars. An authorised client that oversteps its token is refused with
//! one `REFUSE stage=scope` line that fail2ban never matches (a bug in an
//! agent is not an attack on the gateway); a tool name or calendar id bent to
//! look like an allowed one is refused like any other.

use mcp_gateway::cli::token::TokenRequest;
use serde_json::{Value, json};

use super::ledger::{Ledger, Line, Seen};
use super::{post_stateless, tool_call};
use crate::common::{TestGateway, http_client, open_session, post};

const CLIENT: &str = "agent-s";
/// The calendar both tokens name; the gateway also has `ny` (and `primary`).
const ALLOWED: &str = "team";

fn token(gw: &TestGateway, permissions: &[&str]) -> String {
    gw.pki.token_with(&TokenRequest {
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        calendars: vec![ALLOWED.into()],
        ..TokenRequest::full_access(
            CLIENT,
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(3600),
        )
    })
}

const WHEN: &str = "2030-01-01T10:00:00Z";
const UNTIL: &str = "2030-01-01T11:00:00Z";

/// Arguments that `tool` accepts, naming calendar `calendar` (a list for the
/// tools that take several).
fn arguments(tool: &str, calendar: Value) -> Value {
    let list = match &calendar {
        Value::Array(_) => calendar.clone(),
        other => json!([other]),
    };
    match tool {
        "list_events" => json!({ "calendarId": calendar, "timeMin": WHEN, "timeMax": UNTIL }),
        "get_event" | "delete_event" => json!({ "calendarId": calendar, "eventId": "e1" }),
        "create_event" => json!({ "calendarId": calendar, "summary": "x",
            "start": { "dateTime": WHEN }, "end": { "dateTime": UNTIL } }),
        "update_event" => json!({ "calendarId": calendar, "eventId": "e1", "summary": "y" }),
        "respond_to_event" => json!({ "calendarId": calendar, "eventId": "e1",
            "attendeeEmail": "a@example.test", "response": "accepted" }),
        "get_freebusy" => json!({ "calendarIds": list, "timeMin": WHEN, "timeMax": UNTIL }),
        "find_free_slots" => json!({ "calendarIds": list, "durationMinutes": 30,
            "timeMin": WHEN, "timeMax": UNTIL }),
        other => panic!("no arguments for {other}"),
    }
}

const ONE_CALENDAR: [&str; 6] = [
    "list_events",
    "get_event",
    "create_event",
    "update_event",
    "respond_to_event",
    "delete_event",
];
const MANY_CALENDARS: [&str; 2] = ["get_freebusy", "find_free_slots"];
const WRITES: [(&str, &str); 4] = [
    ("create_event", "createEvents"),
    ("update_event", "updateEvents"),
    ("respond_to_event", "updateEvents"),
    ("delete_event", "deleteEvents"),
];

/// Spellings of a calendar id that are not `team`, however close they look.
fn bent_ids() -> Vec<(&'static str, Value)> {
    vec![
        ("another calendar", json!("ny")),
        ("primary, not granted", json!("primary")),
        ("capitalised", json!("Team")),
        ("upper case", json!("TEAM")),
        ("trailing space", json!("team ")),
        ("leading space", json!(" team")),
        ("zero-width space", json!("team\u{200b}")),
        ("fullwidth letters", json!("ｔｅａｍ")),
        ("Cyrillic e", json!("t\u{0435}am")),
        ("path traversal", json!("team/../ny")),
        ("parent path", json!("../team")),
        ("percent-encoded", json!("%74eam")),
        ("a wildcard", json!("*")),
        ("a comma list", json!("team,ny")),
        ("a newline", json!("team\nny")),
        ("a NUL", json!("team\u{0}")),
        ("a 4 KB id", json!("t".repeat(4096))),
    ]
}

/// Calendar values of the wrong JSON type: a tool error naming the argument,
/// before any scope check (so no scope line).
fn wrong_types() -> Vec<(&'static str, Value)> {
    vec![
        ("a number", json!(5)),
        ("an object", json!({ "id": "team" })),
        ("a boolean", json!(true)),
    ]
}

#[tokio::test]
async fn every_overstep_is_refused_once_and_never_banned() {
    let gw = TestGateway::start().await;
    let client = http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert(CLIENT)));
    let reader = vec![format!("Bearer {}", token(&gw, &["readCalendars"]))];
    let writer = vec![format!(
        "Bearer {}",
        token(
            &gw,
            &[
                "readCalendars",
                "createEvents",
                "updateEvents",
                "deleteEvents"
            ]
        )
    )];
    let refuse =
        |reason: &str| format!("REFUSE stage=scope reason={reason} ip=127.0.0.1 client={CLIENT}");
    let mut ledger = Ledger::new("scope", &gw);

    // A read-only token on every write tool, refused on its Mcp-Name header.
    for (tool, permission) in WRITES {
        let body = tool_call(&json!(tool), arguments(tool, json!(ALLOWED)));
        let seen = post_stateless(&gw, &client, &reader, &body).await;
        let line = format!(
            "{} detail=\"{tool} needs {permission}\"",
            refuse("permission_missing")
        );
        ledger
            .row(
                &gw,
                &format!("read-only token calls {tool}"),
                seen,
                Seen::Status(403),
                Line::Refuse(&line),
            )
            .await;
    }
    // The same in a session (2025-11-25), where the message itself is checked.
    let session_client = crate::common::http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert(CLIENT)),
        Some(reader[0].trim_start_matches("Bearer ")),
    );
    let session = open_session(&session_client, &gw.url()).await;
    for (tool, permission) in WRITES {
        let body = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": { "name": tool, "arguments": arguments(tool, json!(ALLOWED)) } });
        let response = post(&session_client, &gw.url(), body.to_string())
            .header("mcp-session-id", &session)
            .send()
            .await;
        let line = format!(
            "{} detail=\"{tool} needs {permission}\"",
            refuse("permission_missing")
        );
        ledger
            .row(
                &gw,
                &format!("read-only token calls {tool} in a session"),
                super::seen(response).await,
                Seen::RpcError(-32003),
                Line::Refuse(&line),
            )
            .await;
    }

    // Every bent calendar id on every tool that names calendars.
    for tool in ONE_CALENDAR.iter().chain(MANY_CALENDARS.iter()) {
        for (spelling, id) in bent_ids() {
            let body = tool_call(&json!(tool), arguments(tool, id));
            let seen = post_stateless(&gw, &client, &writer, &body).await;
            ledger
                .row(
                    &gw,
                    &format!("{tool} on {spelling}"),
                    seen,
                    Seen::RpcError(-32003),
                    Line::Refuse(&refuse("calendar_not_allowed")),
                )
                .await;
        }
        for (spelling, id) in wrong_types() {
            let body = tool_call(&json!(tool), arguments(tool, id));
            let seen = post_stateless(&gw, &client, &writer, &body).await;
            ledger
                .row(
                    &gw,
                    &format!("{tool} on {spelling}"),
                    seen,
                    Seen::ToolError,
                    Line::None,
                )
                .await;
        }
    }
    // Lists that mix an allowed calendar with one that is not.
    for tool in MANY_CALENDARS {
        for (name, list) in [
            ("allowed then not", json!([ALLOWED, "ny"])),
            ("not then allowed", json!(["ny", ALLOWED])),
            ("allowed and a look-alike", json!([ALLOWED, "team\u{200b}"])),
            (
                "allowed twice and primary",
                json!([ALLOWED, ALLOWED, "primary"]),
            ),
        ] {
            let body = tool_call(&json!(tool), arguments(tool, list));
            let seen = post_stateless(&gw, &client, &writer, &body).await;
            ledger
                .row(
                    &gw,
                    &format!("{tool}: {name}"),
                    seen,
                    Seen::RpcError(-32003),
                    Line::Refuse(&refuse("calendar_not_allowed")),
                )
                .await;
        }
    }
    // Tool names bent to look like a permitted one: no such tool, so no
    // scope question (a permission error would send an OAuth-aware client
    // off for more scope): -32602 naming the tools, its audit line `failed`.
    for (name, tool) in [
        ("capitalised", "List_events"),
        ("upper case", "LIST_EVENTS"),
        ("trailing space", "list_events "),
        ("empty", ""),
        ("a path", "../list_events"),
        ("list_event", "list_event"),
    ] {
        let body = tool_call(&json!(tool), arguments("list_events", json!(ALLOWED)));
        let seen = post_stateless(&gw, &client, &writer, &body).await;
        ledger
            .row(
                &gw,
                &format!("tool name {name}"),
                seen,
                Seen::RpcError(-32602),
                Line::None,
            )
            .await;
    }
    let http_refuse =
        format!("REFUSE stage=http reason=mcp_header_mismatch ip=127.0.0.1 client={CLIENT}");
    for (name, tool) in [
        ("zero-width space", "list_events\u{200b}"),
        ("fullwidth", "ｌｉｓｔ_ｅｖｅｎｔｓ"),
    ] {
        let body = tool_call(&json!(tool), arguments("list_events", json!(ALLOWED)));
        let seen = post_stateless(&gw, &client, &writer, &body).await;
        ledger
            .row(
                &gw,
                &format!("tool name {name}, raw in Mcp-Name"),
                seen,
                Seen::Status(400),
                Line::Refuse(&http_refuse),
            )
            .await;
    }
    // Controls: the allowed calendar passes on every tool that reads.
    for tool in ["list_events", "get_freebusy", "find_free_slots"] {
        let body = tool_call(&json!(tool), arguments(tool, json!(ALLOWED)));
        let seen = post_stateless(&gw, &client, &writer, &body).await;
        ledger
            .row(
                &gw,
                &format!("control: {tool} on {ALLOWED}"),
                seen,
                Seen::Ok,
                Line::None,
            )
            .await;
    }
    ledger.finish(&gw);
}
