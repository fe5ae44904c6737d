//! What only the Google backend does: retries with backoff and Retry-After,
//! a timeout per attempt, token refresh, Google's refusals as clear tool
//! errors, malformed replies, and isolation between clients mapped to
//! different Google accounts.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{McpClient, TestGateway, call_err, call_ok};
use crate::google_api::{Fault, Role};
use crate::google_setup::ALICE;

fn team_event() -> Value {
    json!({
        "calendarId": "team",
        "summary": "Retro",
        "start": { "dateTime": "2031-02-03T15:00:00", "timeZone": "Europe/Berlin" },
        "end": { "dateTime": "2031-02-03T16:00:00", "timeZone": "Europe/Berlin" }
    })
}

/// A client whose token and calendar zones are already fetched, so that the
/// next tool call makes exactly one API request.
async fn warm_client(gw: &TestGateway) -> McpClient {
    let client = gw.mcp("agent-a").await;
    call_ok(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2031-01-01T00:00:00Z", "timeMax": "2031-01-02T00:00:00Z" }),
    )
    .await;
    client
}

#[tokio::test]
async fn transient_failures_are_retried_honouring_retry_after() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let client = warm_client(&gw).await;
    let rate_limited = Fault {
        body: Some(
            json!({ "error": { "code": 403, "message": "Rate Limit Exceeded",
                "errors": [{ "domain": "usageLimits", "reason": "userRateLimitExceeded" }] } })
            .to_string(),
        ),
        ..Fault::status(403)
    };
    let before = api.api_requests().len();
    api.fail_next([
        Fault {
            retry_after: Some(1),
            ..Fault::status(503)
        },
        Fault::status(429),
        rate_limited,
        Fault::status(500),
    ]);
    let started = Instant::now();
    let created = call_ok(&client, "create_event", team_event()).await;
    assert_eq!(created["summary"], "Retro");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    let requests = &api.api_requests()[before..];
    assert_eq!(requests.len(), 5, "{requests:?}");
    assert!(requests.iter().all(|r| r == "POST /calendars/team/events"));
    // Retried inserts carry the same client-chosen id: one event, not five.
    let listed = call_ok(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2031-02-01T00:00:00Z", "timeMax": "2031-02-05T00:00:00Z" }),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_persistent_failure_ends_in_a_clear_error_after_the_attempt_limit() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let client = warm_client(&gw).await;
    let before = api.api_requests().len();
    api.fail_next(std::iter::repeat_n(Fault::status(500), 5));
    let message = call_err(&client, "create_event", team_event()).await;
    assert!(
        message
            .starts_with("Google Calendar did not answer successfully: gave up after 5 attempt(s)"),
        "{message}"
    );
    assert!(message.contains("500"), "{message}");
    assert_eq!(api.api_requests().len() - before, 5);
    // A Retry-After beyond the deadline is not waited for.
    api.fail_next([Fault {
        retry_after: Some(3600),
        ..Fault::status(503)
    }]);
    let message = call_err(&client, "create_event", team_event()).await;
    assert!(message.contains("gave up after 1 attempt(s)"), "{message}");
    call_ok(&client, "create_event", team_event()).await;
}

#[tokio::test]
async fn a_slow_reply_times_out_and_is_retried() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let client = warm_client(&gw).await;
    let before = api.api_requests().len();
    api.fail_next([Fault {
        delay: Some(Duration::from_secs(4)),
        ..Fault::status(200)
    }]);
    call_ok(&client, "create_event", team_event()).await;
    assert_eq!(
        api.api_requests().len() - before,
        2,
        "one timed out, one answered"
    );
}

#[tokio::test]
async fn malformed_json_from_the_api_is_an_error_not_a_crash() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let client = warm_client(&gw).await;
    api.fail_next([Fault {
        body: Some(r#"{"kind": "calendar#events", "items": [{"#.into()),
        ..Fault::status(200)
    }]);
    let message = call_err(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2031-01-01T00:00:00Z", "timeMax": "2031-01-02T00:00:00Z" }),
    )
    .await;
    assert_eq!(message, "calendar backend unavailable, try again later");
    call_ok(&client, "create_event", team_event()).await;
}

#[tokio::test]
async fn google_refusals_become_errors_that_say_what_happened() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    api.add_calendar(ALICE, "holidays", "Holidays", "UTC", Role::Reader);
    let client = warm_client(&gw).await;

    let mut on_holidays = team_event();
    on_holidays["calendarId"] = json!("holidays");
    let message = call_err(&client, "create_event", on_holidays).await;
    assert_eq!(
        message,
        "Google refused this account access to calendar `holidays` (403 forbidden)"
    );

    let created = call_ok(&client, "create_event", team_event()).await;
    let id = created["id"].as_str().unwrap();
    api.fail_next([Fault::status(412).on("PATCH")]);
    let message = call_err(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": id, "summary": "Retro (moved)" }),
    )
    .await;
    assert_eq!(
        message,
        format!("event `{id}` changed since it was read; read it again and retry")
    );
    api.fail_next([Fault::status(410).on("PATCH")]);
    let message = call_err(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": id, "summary": "Retro (moved)" }),
    )
    .await;
    assert_eq!(message, format!("event `{id}` has been deleted"));

    let message = call_err(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": "nosuchevent" }),
    )
    .await;
    assert_eq!(message, "event not found: nosuchevent");
    let message = call_err(
        &client,
        "list_events",
        json!({ "calendarId": "someone-else", "timeMin": "2031-01-01T00:00:00Z", "timeMax": "2031-01-02T00:00:00Z" }),
    )
    .await;
    assert_eq!(message, "calendar not found: someone-else");
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once_with_one_scope_set() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let client = warm_client(&gw).await;
    call_ok(&client, "create_event", team_event()).await;
    call_ok(&client, "list_calendars", json!({})).await;
    // Several methods, one scope set: one token request so far.
    assert_eq!(api.token_grants(), [format!("jwt-bearer {ALICE}")]);
    api.expire_access_tokens();
    let listed = call_ok(&client, "list_calendars", json!({})).await;
    assert_eq!(listed["calendars"].as_array().unwrap().len(), 3);
    assert_eq!(api.token_grants().len(), 2, "{:?}", api.token_grants());
}

#[tokio::test]
async fn a_refused_service_account_asks_for_reauthorization() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    // Domain-wide delegation withdrawn for Alice: the token endpoint refuses her.
    api.state.lock().unwrap().users.remove(ALICE);
    let client = gw.mcp("agent-a").await;
    let message = call_err(&client, "list_calendars", json!({})).await;
    assert_eq!(
        message,
        "Google refused the service account for account `alice` (unauthorized_client): check the key and its domain-wide delegation"
    );
}

#[tokio::test]
async fn instances_are_found_through_events_instances() {
    let gw = TestGateway::start_google(|_, _, _| ()).await;
    let api = gw.google_api();
    let client = warm_client(&gw).await;
    let series = call_ok(
        &client,
        "create_event",
        json!({
            "calendarId": "team", "summary": "Weekly",
            "start": { "dateTime": "2031-03-03T10:00:00", "timeZone": "Europe/Berlin" },
            "end": { "dateTime": "2031-03-03T10:30:00", "timeZone": "Europe/Berlin" },
            "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=3"]
        }),
    )
    .await;
    let series_id = series["id"].as_str().unwrap();
    let second = format!("{series_id}_20310310T090000Z");
    let before = api.api_requests().len();
    let moved = call_ok(
        &client,
        "update_event",
        json!({ "calendarId": "team", "eventId": second, "summary": "Weekly (once)" }),
    )
    .await;
    assert_eq!(moved["summary"], "Weekly (once)");
    assert_eq!(moved["recurringEventId"], series_id);
    let requests = &api.api_requests()[before..];
    assert_eq!(
        requests[0],
        format!("GET /calendars/team/events/{series_id}/instances"),
        "{requests:?}"
    );
    // An id the rule never places is not found, whatever its form.
    let message = call_err(
        &client,
        "get_event",
        json!({ "calendarId": "team", "eventId": format!("{series_id}_20310311T090000Z") }),
    )
    .await;
    assert_eq!(
        message,
        format!("event not found: {series_id}_20310311T090000Z")
    );
}
