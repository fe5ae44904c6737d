//! Listing on the embedded store reads one-off rows in start order and keeps
//! only the series occurrences that could make the page (memory bounded by
//! the page, not the calendar). Its pages must still be the one ordered list:
//! a daily series with an edited and a cancelled instance, one-off events
//! before, between and at the same time as its occurrences, and a second
//! series, paged two and three at a time, with and without a text filter,
//! give exactly what one large page gives, in start order.

use serde_json::{Value, json};

use crate::common::{McpClient, TestGateway, call_ok};

const MIN: &str = "2031-05-01T00:00:00Z";
const MAX: &str = "2031-06-01T00:00:00Z";

async fn create(
    client: &McpClient,
    summary: &str,
    start: &str,
    end: &str,
    rule: Option<&str>,
) -> Value {
    let mut event = json!({
        "calendarId": "team", "summary": summary,
        "start": { "dateTime": start, "timeZone": "UTC" },
        "end": { "dateTime": end, "timeZone": "UTC" },
    });
    if let Some(rule) = rule {
        event["recurrence"] = json!([rule]);
    }
    call_ok(client, "create_event", event).await
}

/// Every event of the window, `page` at a time: (start, summary, id) in order.
async fn all_pages(
    client: &McpClient,
    page: usize,
    text: Option<&str>,
) -> Vec<(String, String, String)> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = json!({ "calendarId": "team", "timeMin": MIN, "timeMax": MAX, "maxResults": page, "timeZone": "UTC" });
        if let Some(text) = text {
            query["query"] = json!(text);
        }
        if let Some(token) = &token {
            query["pageToken"] = json!(token);
        }
        let listed = call_ok(client, "list_events", query).await;
        let items = listed["items"].as_array().unwrap();
        assert!(items.len() <= page, "{listed}");
        for item in items {
            seen.push((
                item["start"]["dateTime"].as_str().unwrap().to_owned(),
                item["summary"].as_str().unwrap().to_owned(),
                item["id"].as_str().unwrap().to_owned(),
            ));
        }
        match listed["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn pages_of_series_and_one_off_events_are_one_ordered_list() {
    let gw = TestGateway::start().await;
    let client = gw.mcp("agent-a").await;
    let series = create(
        &client,
        "Standup",
        "2031-05-05T09:00:00",
        "2031-05-05T09:15:00",
        Some("RRULE:FREQ=DAILY;COUNT=6"),
    )
    .await;
    create(
        &client,
        "Review",
        "2031-05-06T09:00:00",
        "2031-05-06T10:00:00",
        Some("RRULE:FREQ=DAILY;COUNT=3"),
    )
    .await;
    create(
        &client,
        "Early",
        "2031-05-04T08:00:00",
        "2031-05-04T08:30:00",
        None,
    )
    .await;
    create(
        &client,
        "Same time",
        "2031-05-06T09:00:00",
        "2031-05-06T09:30:00",
        None,
    )
    .await;
    create(
        &client,
        "Between",
        "2031-05-07T12:00:00",
        "2031-05-07T13:00:00",
        None,
    )
    .await;
    create(
        &client,
        "Late standup notes",
        "2031-05-20T08:00:00",
        "2031-05-20T08:30:00",
        None,
    )
    .await;
    // One instance moved later, one cancelled.
    let first = all_pages(&client, 100, Some("Standup")).await;
    let (moved, dropped) = (first[1].2.clone(), first[3].2.clone());
    call_ok(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": moved, "scope": "thisInstance",
                "start": { "dateTime": "2031-05-06T11:00:00", "timeZone": "UTC" },
                "end": { "dateTime": "2031-05-06T11:15:00", "timeZone": "UTC" } }),
    )
    .await;
    call_ok(
        &client,
        "delete_event",
        json!({ "calendarId": "team", "eventId": dropped, "scope": "thisInstance" }),
    )
    .await;

    let whole = all_pages(&client, 100, None).await;
    let mut sorted = whole.clone();
    sorted.sort();
    assert_eq!(
        whole.iter().map(|e| &e.0).collect::<Vec<_>>(),
        sorted.iter().map(|e| &e.0).collect::<Vec<_>>(),
        "not in start order: {whole:?}"
    );
    // 6 standups (one cancelled, one moved), 3 reviews, 4 one-offs.
    assert_eq!(whole.len(), 5 + 3 + 4, "{whole:?}");
    assert!(!whole.iter().any(|e| e.2 == dropped), "{whole:?}");
    assert!(
        whole.contains(&(
            "2031-05-06T11:00:00+00:00".into(),
            "Standup".into(),
            moved.clone()
        )),
        "{whole:?}"
    );
    for page in [2, 3] {
        assert_eq!(
            all_pages(&client, page, None).await,
            whole,
            "pages of {page}"
        );
    }
    let standups = all_pages(&client, 100, Some("standup")).await;
    assert_eq!(standups.len(), 5 + 1, "{standups:?}");
    for page in [1, 2] {
        assert_eq!(
            all_pages(&client, page, Some("standup")).await,
            standups,
            "pages of {page}"
        );
    }
    assert!(series["id"].is_string());
}

/// Without `timeZone` the embedded store passes each stored event on as its
/// text (src/calendar/listed.rs); with a text filter it decodes them; for one
/// event `get_event` decodes it. All three must write the same event, and a
/// page's cursor taken from the text must continue where it stopped.
#[tokio::test]
async fn events_listed_as_stored_text_are_what_get_event_returns() {
    let gw = TestGateway::start().await;
    let client = gw.mcp("agent-a").await;
    let in_zone = |zone: &str, start: &str, end: &str| {
        json!({ "calendarId": "team", "summary": format!("in {zone}"),
                "description": "\"quoted\"\nline two \u{e9}",
                "start": { "dateTime": start, "timeZone": zone },
                "end": { "dateTime": end, "timeZone": zone } })
    };
    for event in [
        in_zone(
            "Europe/Berlin",
            "2031-05-03T09:00:00",
            "2031-05-03T10:00:00",
        ),
        in_zone("Asia/Kolkata", "2031-05-03T23:30:00", "2031-05-04T01:00:00"),
        json!({ "calendarId": "team", "summary": "offset only",
                "start": { "dateTime": "2031-05-04T07:00:00-07:00" },
                "end": { "dateTime": "2031-05-04T08:00:00-07:00" },
                "attendees": [{ "email": "a@example.org", "displayName": "A" }] }),
        json!({ "calendarId": "team", "summary": "all day",
                "start": { "date": "2031-05-05" }, "end": { "date": "2031-05-06" } }),
    ] {
        call_ok(&client, "create_event", event).await;
    }
    let series = create(
        &client,
        "Daily",
        "2031-05-02T06:00:00",
        "2031-05-02T06:30:00",
        Some("RRULE:FREQ=DAILY;COUNT=4"),
    )
    .await;
    let instance = format!("{}_20310503T060000Z", series["id"].as_str().unwrap());
    call_ok(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": instance, "scope": "thisInstance", "summary": "Daily, moved in" }),
    )
    .await;

    let list = |extra: Value| {
        let client = &client;
        async move {
            let mut query = json!({ "calendarId": "team", "timeMin": MIN, "timeMax": MAX });
            for (key, value) in extra.as_object().unwrap() {
                query[key] = value.clone();
            }
            call_ok(client, "list_events", query).await
        }
    };
    let listed = list(json!({})).await;
    let items = listed["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4 + 4, "{listed}");
    for item in &items {
        let got = call_ok(
            &client,
            "get_event",
            json!({ "calendarId": "team", "eventId": item["id"] }),
        )
        .await;
        assert_eq!(item, &got, "listed and fetched differ");
    }
    // The text filter reads every event through the decoder.
    let filtered = list(json!({ "query": "in " })).await;
    let decoded: Vec<&Value> = items
        .iter()
        .filter(|e| e["summary"].as_str().unwrap().contains("in "))
        .collect();
    assert_eq!(decoded.len(), 2, "{listed}");
    assert_eq!(
        filtered["items"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        decoded
    );
    // Pages of two, each cursor from the last event's stored text.
    let mut paged = Vec::new();
    let mut token = Value::Null;
    loop {
        let mut query = json!({ "maxResults": 2 });
        if !token.is_null() {
            query["pageToken"] = token.clone();
        }
        let page = list(query).await;
        paged.extend(page["items"].as_array().unwrap().iter().cloned());
        match &page["nextPageToken"] {
            Value::Null => break,
            next => token = next.clone(),
        }
    }
    assert_eq!(paged, items);
}
