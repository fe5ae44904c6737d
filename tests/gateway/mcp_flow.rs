//! The main flow with rmcp's own client: initialize, list tools, create, list,
//! get, update, delete — what was written is what is read back.

use serde_json::json;

use crate::common::{TestGateway, call_err, call_ok};
use crate::google_setup::Backend;

async fn create_list_get_update_delete_round_trip(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;

    let listed = client.list_all_tools().await.unwrap();
    let create = listed.iter().find(|t| t.name == "create_event").unwrap();
    let required: Vec<&str> = create.input_schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        ["start", "end"],
        "schema of create_event: {:?}",
        create.input_schema
    );
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    for expected in [
        "list_calendars",
        "list_events",
        "get_event",
        "create_event",
        "update_event",
        "delete_event",
        "respond_to_event",
        "get_freebusy",
        "find_free_slots",
        "get_current_time",
    ] {
        assert!(
            tools.contains(&expected.to_owned()),
            "{expected} missing from {tools:?}"
        );
    }

    let calendars = call_ok(&client, "list_calendars", json!({})).await;
    let ids: Vec<&str> = calendars["calendars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [backend.primary_id(), "ny", "team"]);

    let created = call_ok(
        &client,
        "create_event",
        json!({
            "calendarId": "team",
            "summary": "Planning",
            "description": "Q3 roadmap",
            "location": "Room 4",
            "start": { "dateTime": "2030-04-02T10:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2030-04-02T11:30:00", "timeZone": "Europe/Berlin" },
            "attendees": [{ "email": "ana@example.com" }, { "email": "bo@example.com", "optional": true }],
            "reminders": { "useDefault": false, "overrides": [{ "method": "popup", "minutes": 10 }] }
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["start"]["dateTime"], "2030-04-02T10:00:00+02:00");
    assert_eq!(created["attendees"][0]["responseStatus"], "needsAction");

    let listed = call_ok(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2030-04-01T00:00:00Z", "timeMax": "2030-04-03T00:00:00Z", "timeZone": "UTC" }),
    )
    .await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["summary"], "Planning");
    assert_eq!(items[0]["start"]["dateTime"], "2030-04-02T08:00:00+00:00");
    assert_eq!(items[0]["location"], "Room 4");
    assert_eq!(items[0]["reminders"]["overrides"][0]["minutes"], 10);

    let fetched = call_ok(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": id }),
    )
    .await;
    assert_eq!(fetched["description"], "Q3 roadmap");
    assert_eq!(fetched["etag"], created["etag"]);

    let updated = call_ok(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": id, "summary": "Planning (moved)" }),
    )
    .await;
    assert_eq!(updated["summary"], "Planning (moved)");
    assert_eq!(
        updated["location"], "Room 4",
        "patch keeps fields that were not sent"
    );
    assert_ne!(updated["etag"], created["etag"]);

    let rsvp = call_ok(
        &client,
        "respond_to_event",
        json!({ "calendarId": "team", "eventId": id, "attendeeEmail": "ANA@example.com", "response": "accepted", "comment": "see you" }),
    )
    .await;
    assert_eq!(rsvp["attendees"][0]["responseStatus"], "accepted");
    assert_eq!(rsvp["attendees"][0]["comment"], "see you");
    assert_eq!(rsvp["attendees"][1]["responseStatus"], "needsAction");

    call_ok(
        &client,
        "delete_event",
        json!({ "calendarId": "team", "eventId": id }),
    )
    .await;
    let gone = call_err(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": id }),
    )
    .await;
    assert_eq!(gone, format!("event not found: {id}"));
    let listed = call_ok(&client, "list_events", json!({ "calendarId": "team", "timeMin": "2030-04-01T00:00:00Z", "timeMax": "2030-04-03T00:00:00Z" })).await;
    assert!(listed["items"].as_array().unwrap().is_empty());

    let now = call_ok(
        &client,
        "get_current_time",
        json!({ "timeZone": "Asia/Tokyo" }),
    )
    .await;
    assert_eq!(now["utcOffset"], "+09:00");
    client.cancel().await.unwrap();
}

async fn pagination_never_truncates_silently(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    for hour in 0..5 {
        call_ok(
            &client,
            "create_event",
            json!({
                "summary": format!("slot {hour}"),
                "start": { "dateTime": format!("2030-01-01T0{hour}:00:00Z") },
                "end": { "dateTime": format!("2030-01-01T0{hour}:30:00Z") }
            }),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut args = json!({ "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "maxResults": 2 });
        if let Some(t) = &token {
            args["pageToken"] = json!(t);
        }
        let page = call_ok(&client, "list_events", args).await;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["summary"].as_str().unwrap().to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["slot 0", "slot 1", "slot 2", "slot 3", "slot 4"]);
    let text = call_ok(&client, "list_events", json!({ "timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-01-02T00:00:00Z", "query": "SLOT 3" })).await;
    assert_eq!(text["items"].as_array().unwrap().len(), 1);
}

// The same cases on both backends: what a tool does must not depend on where the calendar lives.

#[tokio::test]
async fn create_list_get_update_delete_round_trip_on_embedded() {
    create_list_get_update_delete_round_trip(Backend::Embedded).await;
}

#[tokio::test]
async fn create_list_get_update_delete_round_trip_on_google() {
    create_list_get_update_delete_round_trip(Backend::Google).await;
}

#[tokio::test]
async fn create_list_get_update_delete_round_trip_on_radicale() {
    create_list_get_update_delete_round_trip(Backend::Radicale).await;
}

#[tokio::test]
async fn create_list_get_update_delete_round_trip_on_xandikos() {
    create_list_get_update_delete_round_trip(Backend::Xandikos).await;
}

#[tokio::test]
async fn pagination_never_truncates_silently_on_embedded() {
    pagination_never_truncates_silently(Backend::Embedded).await;
}

#[tokio::test]
async fn pagination_never_truncates_silently_on_google() {
    pagination_never_truncates_silently(Backend::Google).await;
}

#[tokio::test]
async fn pagination_never_truncates_silently_on_radicale() {
    pagination_never_truncates_silently(Backend::Radicale).await;
}

#[tokio::test]
async fn pagination_never_truncates_silently_on_xandikos() {
    pagination_never_truncates_silently(Backend::Xandikos).await;
}
