//! `create_event` with an `idempotencyKey`: a re-send (after a timeout, say)
//! returns the event the first call made instead of a second one — on every
//! backend, each in its own way (the embedded store's row key, Google's
//! client-chosen id, the CalDAV object's UID under `If-None-Match: *`). A
//! key reused for a different event is refused, and two clients using the
//! same key never meet each other's event. Two gateways over one CalDAV
//! server racing with the same key make one event.

use serde_json::{Value, json};

use crate::caldav_setup::{caldav_tables, shared_calendars};
use crate::common::{McpClient, TestGateway, call_err, call_ok, team_ids_on};
use crate::google_setup::Backend;

fn review(summary: &str, key: &str) -> Value {
    json!({
        "calendarId": "team",
        "summary": summary,
        "start": { "dateTime": "2030-05-06T10:00:00", "timeZone": "Europe/Berlin" },
        "end": { "dateTime": "2030-05-06T11:00:00", "timeZone": "Europe/Berlin" },
        "idempotencyKey": key
    })
}

/// The ids of the events `client` sees on `team` on the review's day.
async fn team_ids(client: &McpClient) -> Vec<String> {
    team_ids_on(client, "2030-05-06").await
}

async fn a_repeated_create_makes_one_event(backend: Backend) {
    let gw = TestGateway::start_on(backend).await;
    let a = gw.mcp("agent-a").await;
    let first = call_ok(&a, "create_event", review("Review", "7c1f-retry")).await;
    let again = call_ok(&a, "create_event", review("Review", "7c1f-retry")).await;
    assert_eq!(
        first["id"].as_str().unwrap(),
        again["id"].as_str().unwrap(),
        "{again}"
    );
    assert_eq!(team_ids(&a).await.len(), 1);

    let refused = call_err(&a, "create_event", review("Another meeting", "7c1f-retry")).await;
    assert!(
        refused.contains("already used to create a different event"),
        "{refused}"
    );

    // Another client's same key is its own.
    let b = gw.mcp("agent-b").await;
    let theirs = call_ok(&b, "create_event", review("Review", "7c1f-retry")).await;
    assert_ne!(
        theirs["id"].as_str().unwrap(),
        first["id"].as_str().unwrap()
    );
    assert_eq!(team_ids(&a).await.len(), 2);

    let refused = call_err(&a, "create_event", review("Review", "has space")).await;
    assert!(refused.starts_with("idempotencyKey:"), "{refused}");
}

#[tokio::test]
async fn a_repeated_create_makes_one_event_on_embedded() {
    a_repeated_create_makes_one_event(Backend::Embedded).await;
}

#[tokio::test]
async fn a_repeated_create_makes_one_event_on_google() {
    a_repeated_create_makes_one_event(Backend::Google).await;
}

#[tokio::test]
async fn a_repeated_create_makes_one_event_on_radicale() {
    a_repeated_create_makes_one_event(Backend::Radicale).await;
}

#[tokio::test]
async fn a_repeated_create_makes_one_event_on_xandikos() {
    a_repeated_create_makes_one_event(Backend::Xandikos).await;
}

/// Two gateways on one Radicale, the same client sending the same create
/// to both at once: one event, and both answers name it.
#[tokio::test]
async fn two_gateways_racing_with_one_key_make_one_event() {
    let (server, _) = shared_calendars(Backend::Radicale).await;
    let tables = caldav_tables(&server, &[], "");
    let one = TestGateway::start_custom(|_, _, setup| setup.backend = tables.clone()).await;
    let two = TestGateway::start_custom(|_, _, setup| setup.backend = tables.clone()).await;
    let (a1, a2) = (one.mcp("agent-a").await, two.mcp("agent-a").await);
    for round in 0..5 {
        let key = format!("race-{round}");
        let (x, y) = tokio::join!(
            call_ok(&a1, "create_event", review("Review", &key)),
            call_ok(&a2, "create_event", review("Review", &key)),
        );
        assert_eq!(
            x["id"].as_str().unwrap(),
            y["id"].as_str().unwrap(),
            "round {round}"
        );
    }
    assert_eq!(team_ids(&a1).await.len(), 5, "{}", server.log());
}
