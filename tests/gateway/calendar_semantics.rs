//! Recurrence across DST, instance and this-and-following edits, all-day events
//! with exclusive ends, and free slots across calendars in different zones.

use serde_json::{Value, json};

use crate::common::{McpClient, TestGateway, call_err, call_ok};
use crate::google_setup::Backend;

async fn instances(
    client: &McpClient,
    calendar: &str,
    min: &str,
    max: &str,
    zone: &str,
) -> Vec<Value> {
    let page = call_ok(
        client,
        "list_events",
        json!({ "calendarId": calendar, "timeMin": min, "timeMax": max, "timeZone": zone }),
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

fn starts(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["start"]["dateTime"].as_str().unwrap().to_owned())
        .collect()
}

async fn weekly_standup(client: &McpClient) -> Value {
    // Berlin moves to summer time on 2026-03-29: the 09:00 local time must stay.
    call_ok(
        client,
        "create_event",
        json!({
            "calendarId": "team",
            "summary": "Standup",
            "start": { "dateTime": "2026-03-16T09:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2026-03-16T09:15:00", "timeZone": "Europe/Berlin" },
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"]
        }),
    )
    .await
}

const MIN: &str = "2026-03-01T00:00:00Z";
const MAX: &str = "2026-05-01T00:00:00Z";

async fn weekly_series_keeps_local_time_across_dst(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    let series = weekly_standup(&client).await;
    let items = instances(&client, "team", MIN, MAX, "Europe/Berlin").await;
    assert_eq!(
        starts(&items),
        [
            "2026-03-16T09:00:00+01:00",
            "2026-03-23T09:00:00+01:00",
            "2026-03-30T09:00:00+02:00",
            "2026-04-06T09:00:00+02:00",
            "2026-04-13T09:00:00+02:00"
        ]
    );
    assert!(items.iter().all(|i| i["recurringEventId"] == series["id"]));
    // In UTC the wall-clock hour shifts by one after the change.
    let utc = instances(&client, "team", MIN, MAX, "UTC").await;
    assert_eq!(
        starts(&utc)[1..3],
        [
            "2026-03-23T08:00:00+00:00".to_owned(),
            "2026-03-30T07:00:00+00:00".to_owned()
        ]
    );
}

async fn instance_edit_and_this_and_following_edit(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    weekly_standup(&client).await;
    let items = instances(&client, "team", MIN, MAX, "Europe/Berlin").await;
    let second = items[1]["id"].as_str().unwrap().to_owned();
    let fourth = items[3]["id"].as_str().unwrap().to_owned();

    // One instance: only it changes, and it keeps its id.
    let edited = call_ok(&client, "update_event", json!({ "calendarId": "team", "eventId": second, "summary": "Standup (demo day)", "scope": "thisInstance" })).await;
    assert_eq!(edited["id"], second.as_str());
    let fetched = call_ok(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": second }),
    )
    .await;
    assert_eq!(fetched["summary"], "Standup (demo day)");
    let items = instances(&client, "team", MIN, MAX, "Europe/Berlin").await;
    let titles: Vec<&str> = items
        .iter()
        .map(|i| i["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Standup",
            "Standup (demo day)",
            "Standup",
            "Standup",
            "Standup"
        ]
    );

    // This and following: from the fourth on, 10:00; earlier ones untouched; still five in all.
    let tail = call_ok(
        &client,
        "update_event",
        json!({
            "calendarId": "team", "eventId": fourth, "scope": "thisAndFollowing",
            "start": { "dateTime": "2026-04-06T10:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2026-04-06T10:15:00", "timeZone": "Europe/Berlin" }
        }),
    )
    .await;
    assert_ne!(
        tail["id"].as_str().unwrap(),
        items[0]["recurringEventId"].as_str().unwrap()
    );
    let items = instances(&client, "team", MIN, MAX, "Europe/Berlin").await;
    assert_eq!(
        starts(&items),
        [
            "2026-03-16T09:00:00+01:00",
            "2026-03-23T09:00:00+01:00",
            "2026-03-30T09:00:00+02:00",
            "2026-04-06T10:00:00+02:00",
            "2026-04-13T10:00:00+02:00"
        ]
    );
    assert_eq!(
        items[1]["summary"], "Standup (demo day)",
        "the earlier instance edit survives the split"
    );

    // Delete one instance, then the rest of the first half.
    call_ok(
        &client,
        "delete_event",
        json!({ "calendarId": "team", "eventId": items[2]["id"], "scope": "thisInstance" }),
    )
    .await;
    assert_eq!(instances(&client, "team", MIN, MAX, "UTC").await.len(), 4);
    let deleted = call_err(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": items[2]["id"] }),
    )
    .await;
    assert!(deleted.starts_with("event not found"), "{deleted}");
    call_ok(
        &client,
        "delete_event",
        json!({ "calendarId": "team", "eventId": items[1]["id"], "scope": "thisAndFollowing" }),
    )
    .await;
    assert_eq!(
        starts(&instances(&client, "team", MIN, MAX, "Europe/Berlin").await),
        [
            "2026-03-16T09:00:00+01:00",
            "2026-04-06T10:00:00+02:00",
            "2026-04-13T10:00:00+02:00"
        ]
    );

    // A series id with an instance-only scope is refused by name.
    let err = call_err(&client, "update_event", json!({ "calendarId": "team", "eventId": tail["id"], "scope": "thisInstance", "summary": "x" })).await;
    assert!(
        err.starts_with("scope: `thisInstance` needs an instance id"),
        "{err}"
    );
    // Whole series through an instance id: every remaining instance of that series changes.
    call_ok(&client, "update_event", json!({ "calendarId": "team", "eventId": items[4]["id"], "scope": "all", "location": "Room 2" })).await;
    let items = instances(&client, "team", MIN, MAX, "Europe/Berlin").await;
    let rooms: Vec<Option<&str>> = items.iter().map(|i| i["location"].as_str()).collect();
    assert_eq!(rooms, [None, Some("Room 2"), Some("Room 2")]);
    // Deleting "all" through an instance id removes that whole series, nothing else.
    call_ok(
        &client,
        "delete_event",
        json!({ "calendarId": "team", "eventId": items[2]["id"], "scope": "all" }),
    )
    .await;
    assert_eq!(
        starts(&instances(&client, "team", MIN, MAX, "Europe/Berlin").await),
        ["2026-03-16T09:00:00+01:00"]
    );
    let gone = call_err(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": tail["id"] }),
    )
    .await;
    assert!(gone.starts_with("event not found"), "{gone}");
}

async fn all_day_events_use_an_exclusive_end_date(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    let created = call_ok(
        &client,
        "create_event",
        json!({ "calendarId": "team", "summary": "Offsite", "start": { "date": "2026-06-10" }, "end": { "date": "2026-06-12" } }),
    )
    .await;
    assert_eq!(created["start"], json!({ "date": "2026-06-10" }));
    assert_eq!(created["end"], json!({ "date": "2026-06-12" }));
    // Berlin midnight of 06-11 is 22:00Z on 06-10: inside.
    assert_eq!(
        instances(
            &client,
            "team",
            "2026-06-11T12:00:00Z",
            "2026-06-11T13:00:00Z",
            "UTC"
        )
        .await
        .len(),
        1
    );
    // From Berlin midnight of 06-12 on, the event is over (exclusive end).
    assert!(
        instances(
            &client,
            "team",
            "2026-06-11T22:00:00Z",
            "2026-06-13T00:00:00Z",
            "UTC"
        )
        .await
        .is_empty()
    );
    let busy = call_ok(&client, "get_freebusy", json!({ "calendarIds": ["team"], "timeMin": "2026-06-01T00:00:00Z", "timeMax": "2026-06-30T00:00:00Z" })).await;
    assert_eq!(
        busy["calendars"]["team"]["busy"],
        json!([{ "start": "2026-06-09T22:00:00+00:00", "end": "2026-06-11T22:00:00+00:00" }])
    );

    // A daily all-day series with an EXDATE.
    call_ok(
        &client,
        "create_event",
        json!({ "summary": "On call", "start": { "date": "2026-07-01" }, "end": { "date": "2026-07-02" }, "recurrence": ["RRULE:FREQ=DAILY;UNTIL=20260704", "EXDATE;VALUE=DATE:20260702"] }),
    )
    .await;
    let page = call_ok(
        &client,
        "list_events",
        json!({ "timeMin": "2026-06-30T00:00:00Z", "timeMax": "2026-07-10T00:00:00Z" }),
    )
    .await;
    let dates: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["start"]["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-07-01", "2026-07-03", "2026-07-04"]);
}

async fn free_slots_across_two_calendars_in_different_zones(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    // 09:00-10:00 in Berlin (winter, UTC+1) is 08:00-09:00Z.
    call_ok(
        &client,
        "create_event",
        json!({ "calendarId": "team", "summary": "Berlin sync",
        "start": { "dateTime": "2027-01-11T09:00:00", "timeZone": "Europe/Berlin" },
        "end": { "dateTime": "2027-01-11T10:00:00", "timeZone": "Europe/Berlin" } }),
    )
    .await;
    // 09:00-10:00 in New York (winter, UTC-5) is 14:00-15:00Z.
    call_ok(
        &client,
        "create_event",
        json!({ "calendarId": "ny", "summary": "NY sync",
        "start": { "dateTime": "2027-01-11T09:00:00", "timeZone": "America/New_York" },
        "end": { "dateTime": "2027-01-11T10:00:00", "timeZone": "America/New_York" } }),
    )
    .await;
    let found = call_ok(
        &client,
        "find_free_slots",
        json!({ "calendarIds": ["team", "ny"], "durationMinutes": 60,
        "timeMin": "2027-01-11T07:00:00Z", "timeMax": "2027-01-11T16:00:00Z" }),
    )
    .await;
    let slots: Vec<(String, String)> = found["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start"].as_str().unwrap().to_owned(),
                s["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        slots,
        [
            (
                "2027-01-11T07:00:00+00:00".to_owned(),
                "2027-01-11T08:00:00+00:00".to_owned()
            ),
            (
                "2027-01-11T09:00:00+00:00".to_owned(),
                "2027-01-11T14:00:00+00:00".to_owned()
            ),
            (
                "2027-01-11T15:00:00+00:00".to_owned(),
                "2027-01-11T16:00:00+00:00".to_owned()
            ),
        ]
    );
    // Working hours 10:00-17:00 in New York (15:00-22:00Z) leave only the afternoon.
    let found = call_ok(&client, "find_free_slots", json!({ "calendarIds": ["team", "ny"], "durationMinutes": 90,
        "timeMin": "2027-01-11T00:00:00Z", "timeMax": "2027-01-12T00:00:00Z", "timeZone": "America/New_York",
        "workingHours": { "start": "10:00", "end": "17:00" } })).await;
    assert_eq!(
        found["slots"],
        json!([{ "start": "2027-01-11T10:00:00-05:00", "end": "2027-01-11T17:00:00-05:00", "minutes": 420 }])
    );
}

// The same cases on both backends: what a tool does must not depend on where the calendar lives.

#[tokio::test]
async fn weekly_series_keeps_local_time_across_dst_on_embedded() {
    weekly_series_keeps_local_time_across_dst(Backend::Embedded).await;
}

#[tokio::test]
async fn weekly_series_keeps_local_time_across_dst_on_google() {
    weekly_series_keeps_local_time_across_dst(Backend::Google).await;
}

#[tokio::test]
async fn weekly_series_keeps_local_time_across_dst_on_radicale() {
    weekly_series_keeps_local_time_across_dst(Backend::Radicale).await;
}

#[tokio::test]
async fn weekly_series_keeps_local_time_across_dst_on_xandikos() {
    weekly_series_keeps_local_time_across_dst(Backend::Xandikos).await;
}

#[tokio::test]
async fn instance_edit_and_this_and_following_edit_on_embedded() {
    instance_edit_and_this_and_following_edit(Backend::Embedded).await;
}

#[tokio::test]
async fn instance_edit_and_this_and_following_edit_on_google() {
    instance_edit_and_this_and_following_edit(Backend::Google).await;
}

#[tokio::test]
async fn instance_edit_and_this_and_following_edit_on_radicale() {
    instance_edit_and_this_and_following_edit(Backend::Radicale).await;
}

#[tokio::test]
async fn instance_edit_and_this_and_following_edit_on_xandikos() {
    instance_edit_and_this_and_following_edit(Backend::Xandikos).await;
}

#[tokio::test]
async fn all_day_events_use_an_exclusive_end_date_on_embedded() {
    all_day_events_use_an_exclusive_end_date(Backend::Embedded).await;
}

#[tokio::test]
async fn all_day_events_use_an_exclusive_end_date_on_google() {
    all_day_events_use_an_exclusive_end_date(Backend::Google).await;
}

#[tokio::test]
async fn all_day_events_use_an_exclusive_end_date_on_radicale() {
    all_day_events_use_an_exclusive_end_date(Backend::Radicale).await;
}

#[tokio::test]
async fn all_day_events_use_an_exclusive_end_date_on_xandikos() {
    all_day_events_use_an_exclusive_end_date(Backend::Xandikos).await;
}

#[tokio::test]
async fn free_slots_across_two_calendars_in_different_zones_on_embedded() {
    free_slots_across_two_calendars_in_different_zones(Backend::Embedded).await;
}

#[tokio::test]
async fn free_slots_across_two_calendars_in_different_zones_on_google() {
    free_slots_across_two_calendars_in_different_zones(Backend::Google).await;
}

#[tokio::test]
async fn free_slots_across_two_calendars_in_different_zones_on_radicale() {
    free_slots_across_two_calendars_in_different_zones(Backend::Radicale).await;
}

#[tokio::test]
async fn free_slots_across_two_calendars_in_different_zones_on_xandikos() {
    free_slots_across_two_calendars_in_different_zones(Backend::Xandikos).await;
}
