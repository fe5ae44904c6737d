//! One recurring event cannot freeze the store (issue 21, item 2): rules the
//! calendar cannot serve are refused when written, naming why; a series read
//! far from its start answers at once; what must still walk stops at its
//! bound with a tool error and an audit line; and none of it holds up
//! another identity's calls.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{McpClient, TestGateway, call_err, call_ok};

async fn create_series(client: &McpClient, rule: &str) -> Result<String, String> {
    let arguments = json!({
        "calendarId": "primary",
        "summary": "Series",
        "start": { "dateTime": "2026-01-05T08:00:00Z" },
        "end": { "dateTime": "2026-01-05T08:30:00Z" },
        "recurrence": [rule]
    });
    let result = crate::clients::call(client, "create_event", arguments).await;
    match result.is_error {
        Some(true) => Err(result.structured_content.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned()),
        _ => Ok(result.structured_content.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()),
    }
}

/// Rewrites a stored series' rule behind the gateway's back, as a gateway
/// from before the write check would have stored it.
fn store_rule(gw: &TestGateway, id: &str, rule: &str) {
    let db = rusqlite::Connection::open(gw.dir_path().join("calendar.db")).unwrap();
    db.busy_timeout(Duration::from_secs(5)).unwrap();
    let body: String = db
        .query_row("SELECT body FROM events WHERE id = ?1", [id], |r| r.get(0))
        .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&body).unwrap();
    event["recurrence"] = json!([rule]);
    db.execute(
        "UPDATE events SET body = ?1 WHERE id = ?2",
        rusqlite::params![event.to_string(), id],
    )
    .unwrap();
}

#[tokio::test]
async fn rules_the_calendar_cannot_serve_are_refused_at_create() {
    let gw = TestGateway::start().await;
    let client = gw.mcp("agent-a").await;
    let finer = create_series(&client, "RRULE:FREQ=SECONDLY")
        .await
        .unwrap_err();
    assert!(
        finer.contains("finer than this calendar can list"),
        "{finer}"
    );
    let never = create_series(&client, "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")
        .await
        .unwrap_err();
    assert!(never.contains("places no occurrence"), "{never}");
    // The calendar still lists: nothing was stored.
    let page = call_ok(
        &client,
        "list_events",
        json!({ "calendarId": "primary", "timeMin": "2026-01-01T00:00:00Z", "timeMax": "2026-03-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let refused = gw
        .audit_lines()
        .iter()
        .filter(|l| {
            l.starts_with("AUDIT tool=create_event client=agent-a")
                && l.contains("outcome=tool_error")
        })
        .count();
    assert_eq!(refused, 2, "{:?}", gw.audit_lines());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_read_far_from_its_start_holds_up_nobody() {
    let gw = TestGateway::start().await;
    let attacker = gw.mcp("agent-a").await;
    let other = gw.mcp("agent-b").await;
    let fine = create_series(&attacker, "RRULE:FREQ=DAILY").await.unwrap();
    store_rule(&gw, &fine, "RRULE:FREQ=SECONDLY");
    let dense = create_series(&attacker, "RRULE:FREQ=DAILY").await.unwrap();
    store_rule(
        &gw,
        &dense,
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28",
    );

    // Six readers at once, each reading far into the future.
    let started = Instant::now();
    let mut readers = Vec::new();
    for n in 0..6 {
        let client = gw.mcp("agent-a").await;
        let (fine, dense) = (fine.clone(), dense.clone());
        readers.push(tokio::spawn(async move {
            let instance = format!("{fine}_99990601T12000{n}Z");
            let found = call_ok(
                &client,
                "get_event",
                json!({ "calendarId": "primary", "eventId": instance }),
            )
            .await;
            assert_eq!(found["id"], instance.as_str());
            call_err(
                &client,
                "get_event",
                json!({ "calendarId": "primary", "eventId": format!("{dense}_28260101T080000Z") }),
            )
            .await
        }));
    }
    // Meanwhile another identity is served promptly.
    for _ in 0..5 {
        let asked = Instant::now();
        call_ok(&other, "list_calendars", json!({})).await;
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "another tenant waited {:?}",
            asked.elapsed()
        );
    }
    for reader in readers {
        let error = reader.await.unwrap();
        assert!(
            error.contains("occurrences expanded to reach this window"),
            "{error}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // Every refused read is one audit line.
    let refused = gw
        .audit_lines()
        .iter()
        .filter(|l| {
            l.starts_with("AUDIT tool=get_event client=agent-a") && l.contains("outcome=tool_error")
        })
        .count();
    assert_eq!(refused, 6);
    drop(attacker);
}
