//! Bad input gets an error that names the problem, and the server keeps serving.

use rmcp::model::CallToolRequestParams;
use serde_json::json;

use crate::common::{TestGateway, call_err, call_ok, initialize_body, post, rpc_message};
use crate::google_setup::Backend;

fn event(start: serde_json::Value, end: serde_json::Value) -> serde_json::Value {
    json!({ "summary": "x", "start": start, "end": end })
}

async fn each_bad_field_is_named(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    let ok_end = json!({ "dateTime": "2030-01-01T11:00:00Z" });
    let cases = [
        (
            "create_event",
            event(json!({ "dateTime": "tomorrow at nine" }), ok_end.clone()),
            "start.dateTime: `tomorrow at nine` is not an RFC 3339 date-time",
        ),
        (
            "create_event",
            event(
                json!({ "dateTime": "2030-01-01T10:00:00", "timeZone": "Mars/Base" }),
                ok_end.clone(),
            ),
            "start.timeZone: unknown time zone `Mars/Base`",
        ),
        (
            "create_event",
            event(json!({ "dateTime": "2030-01-01T10:00:00" }), ok_end.clone()),
            "start.dateTime: `2030-01-01T10:00:00` has no UTC offset",
        ),
        (
            "create_event",
            event(
                json!({ "dateTime": "2030-01-01T12:00:00Z" }),
                ok_end.clone(),
            ),
            "end: must be after start",
        ),
        (
            "create_event",
            event(
                json!({ "date": "2030-01-05" }),
                json!({ "date": "2030-01-05" }),
            ),
            "end: must be after start (an all-day end date is exclusive)",
        ),
        (
            "create_event",
            event(
                json!({ "date": "2030-02-30" }),
                json!({ "date": "2030-03-01" }),
            ),
            "start.date: `2030-02-30` is not a date",
        ),
        (
            "create_event",
            json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": ok_end, "recurrence": ["RRULE:FREQ=SOMETIMES"] }),
            "recurrence[0]: `RRULE:FREQ=SOMETIMES`",
        ),
        (
            "create_event",
            json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": ok_end, "recurrence": ["DTSTART:20300101T000000Z"] }),
            "recurrence[0]: `DTSTART:20300101T000000Z`: only RRULE, EXDATE and RDATE lines are allowed",
        ),
        (
            "create_event",
            json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": ok_end, "attendees": [{ "email": "not-an-address" }] }),
            "attendees[0].email: `not-an-address` is not an email address",
        ),
        (
            "create_event",
            json!({ "calendarId": "nope", "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": ok_end }),
            "calendar not found: nope",
        ),
        (
            "get_event",
            json!({ "eventId": "does-not-exist" }),
            "event not found: does-not-exist",
        ),
        (
            "update_event",
            json!({ "eventId": "does-not-exist", "summary": "y" }),
            "event not found: does-not-exist",
        ),
        (
            "list_events",
            json!({ "timeMin": "yesterday" }),
            "timeMin: `yesterday` is not an RFC 3339 date-time",
        ),
        (
            "list_events",
            json!({ "timeZone": "Nowhere/City" }),
            "timeZone: unknown time zone `Nowhere/City`",
        ),
        (
            "list_events",
            json!({ "pageToken": "garbage!" }),
            "pageToken: not a token returned by a previous list_events call",
        ),
        (
            "list_events",
            json!({ "maxResults": 0 }),
            "maxResults: must be between 1 and 2500",
        ),
        (
            "get_freebusy",
            json!({ "calendarIds": ["primary"], "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-06-01T00:00:00Z" }),
            "timeMax: window is longer than 90 days",
        ),
        (
            "get_freebusy",
            json!({ "calendarIds": ["primary", "ghost"], "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z" }),
            "calendar not found: ghost",
        ),
        (
            "find_free_slots",
            json!({ "calendarIds": ["primary"], "durationMinutes": 30, "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "workingHours": { "start": "9am", "end": "17:00" } }),
            "workingHours.start: `9am` is not a time HH:MM",
        ),
        (
            "find_free_slots",
            json!({ "calendarIds": ["primary"], "durationMinutes": 30, "timeMin": "2030-01-02T00:00:00Z", "timeMax": "2030-01-01T00:00:00Z" }),
            "timeMax: must be after timeMin",
        ),
        (
            "get_current_time",
            json!({ "timeZone": "Europe/Atlantis" }),
            "timeZone: unknown time zone `Europe/Atlantis`",
        ),
        (
            "create_event",
            json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" } }),
            "missing field `end`",
        ),
        (
            "list_events",
            json!({ "maxResults": "ten" }),
            "maxResults: invalid type: string \"ten\", expected u32",
        ),
        (
            "create_event",
            json!({ "summary": "x", "colour": "red", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": ok_end }),
            "unknown field `colour`",
        ),
    ];
    for (tool, args, expected) in cases {
        let message = call_err(&client, tool, args.clone()).await;
        assert!(
            message.contains(expected),
            "{tool} {args}: expected `{expected}`, got `{message}`"
        );
    }
    // Nothing half-written: every create above failed, so the calendar is empty.
    let listed = call_ok(
        &client,
        "list_events",
        json!({ "timeMin": "2029-01-01T00:00:00Z", "timeMax": "2031-01-01T00:00:00Z" }),
    )
    .await;
    assert!(listed["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_tool_is_a_protocol_error_and_the_server_keeps_serving() {
    let gw = TestGateway::start().await;
    let client = gw.mcp("agent-a").await;
    let err = client
        .call_tool(CallToolRequestParams::new("drop_all_calendars"))
        .await
        .unwrap_err();
    assert!(
        format!("{err}").contains("drop_all_calendars") || format!("{err:?}").contains("not found"),
        "{err:?}"
    );
    call_ok(&client, "list_calendars", json!({})).await;
}

#[tokio::test]
async fn malformed_json_rpc_and_oversize_bodies_are_refused() {
    let gw = TestGateway::start().await;
    let http = gw.http(Some(&gw.client_cert("agent-a")));

    let garbage = post(&http, &gw.url(), "{this is not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(
        rpc_message(&garbage.text().await.unwrap())["error"]["code"],
        -32700
    );

    let not_rpc = post(&http, &gw.url(), r#"{"hello":"world"}"#)
        .send()
        .await
        .unwrap();
    assert!(not_rpc.status().is_client_error(), "{}", not_rpc.status());

    // The test config caps bodies at 64 KiB.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(200_000)
    );
    let oversize = post(&http, &gw.url(), huge).send().await.unwrap();
    assert_eq!(oversize.status(), 413);

    let elsewhere = http
        .get(format!(
            "https://127.0.0.1:{}/admin",
            gw.gateway.local_addr.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);

    // Still serving.
    let fine = post(&http, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
    assert_eq!(
        rpc_message(&fine.text().await.unwrap())["result"]["protocolVersion"],
        "2025-11-25"
    );
}

// The same cases on both backends: what a tool does must not depend on where the calendar lives.

#[tokio::test]
async fn each_bad_field_is_named_on_embedded() {
    each_bad_field_is_named(Backend::Embedded).await;
}

#[tokio::test]
async fn each_bad_field_is_named_on_google() {
    each_bad_field_is_named(Backend::Google).await;
}

#[tokio::test]
async fn each_bad_field_is_named_on_radicale() {
    each_bad_field_is_named(Backend::Radicale).await;
}

#[tokio::test]
async fn each_bad_field_is_named_on_xandikos() {
    each_bad_field_is_named(Backend::Xandikos).await;
}
