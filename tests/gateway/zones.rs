//! The zone given is the zone returned: an event created in `Europe/Paris` on
//! a calendar kept in UTC comes back in Paris time with `timeZone:
//! "Europe/Paris"`, its series repeats at 09:00 Paris time across the DST
//! change, and an explicit output zone changes how `dateTime` is written, not
//! the event's own `timeZone` (as in Google Calendar) — on both backends.

use serde_json::{Value, json};

use crate::common::{TestGateway, call_ok};
use crate::google_setup::Backend;

fn starts(page: &Value) -> Vec<(String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["start"]["dateTime"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                i["start"]["timeZone"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

async fn the_zone_given_is_the_zone_returned(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let client = gw.mcp("agent-a").await;
    // Paris moves to summer time on 2026-03-29; primary is a UTC calendar.
    let created = call_ok(
        &client,
        "create_event",
        json!({
            "summary": "Paris standup",
            "start": { "dateTime": "2026-03-23T09:00:00", "timeZone": "Europe/Paris" },
            "end": { "dateTime": "2026-03-23T09:15:00", "timeZone": "Europe/Paris" },
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"]
        }),
    )
    .await;
    assert_eq!(
        created["start"],
        json!({ "dateTime": "2026-03-23T09:00:00+01:00", "timeZone": "Europe/Paris" })
    );
    let fetched = call_ok(&client, "get_event", json!({ "eventId": created["id"] })).await;
    assert_eq!(fetched["start"]["timeZone"], "Europe/Paris");
    let window = json!({ "timeMin": "2026-03-20T00:00:00Z", "timeMax": "2026-04-10T00:00:00Z" });
    let own = call_ok(&client, "list_events", window.clone()).await;
    let paris = |t: &str| (t.to_owned(), "Europe/Paris".to_owned());
    assert_eq!(
        starts(&own),
        [
            paris("2026-03-23T09:00:00+01:00"),
            paris("2026-03-30T09:00:00+02:00"),
            paris("2026-04-06T09:00:00+02:00")
        ]
    );
    let mut in_utc = window;
    in_utc["timeZone"] = json!("UTC");
    let utc = call_ok(&client, "list_events", in_utc).await;
    assert_eq!(
        starts(&utc),
        [
            paris("2026-03-23T08:00:00+00:00"),
            paris("2026-03-30T07:00:00+00:00"),
            paris("2026-04-06T07:00:00+00:00")
        ]
    );
}

#[tokio::test]
async fn the_zone_given_is_the_zone_returned_on_embedded() {
    the_zone_given_is_the_zone_returned(Backend::Embedded).await;
}

#[tokio::test]
async fn the_zone_given_is_the_zone_returned_on_google() {
    the_zone_given_is_the_zone_returned(Backend::Google).await;
}

#[tokio::test]
async fn the_zone_given_is_the_zone_returned_on_radicale() {
    the_zone_given_is_the_zone_returned(Backend::Radicale).await;
}

#[tokio::test]
async fn the_zone_given_is_the_zone_returned_on_xandikos() {
    the_zone_given_is_the_zone_returned(Backend::Xandikos).await;
}
