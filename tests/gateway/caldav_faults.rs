//! The CalDAV backend when the server (Radicale, Xandikos) misbehaves — 5xx, 507, slow answers, a
//! body that is not XML, the server stopped mid-workload: every call ends
//! within the retry bound with an error that says what happened, only what
//! may pass is retried, and every write the gateway acknowledged is on the
//! server afterwards. And `/ready` follows the server only where the
//! operator asked for it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::caldav_setup::{caldav_tables, caldav_tables_at, shared_calendars};
use crate::common::{McpClient, TestGateway, call, call_err, call_ok, team_ids_on};
use crate::fault_proxy::{Fault, FaultProxy};
use crate::google_setup::Backend;

fn meeting(n: usize) -> Value {
    json!({
        "calendarId": "team",
        "summary": format!("Meeting {n}"),
        "start": { "dateTime": format!("2030-06-03T{:02}:00:00Z", 6 + n % 12) },
        "end": { "dateTime": format!("2030-06-03T{:02}:30:00Z", 6 + n % 12) },
    })
}

async fn listed(client: &McpClient) -> Vec<String> {
    team_ids_on(client, "2030-06-03").await
}

/// A gateway on `backend` through a fault proxy, with `extra` call settings.
async fn behind_proxy(
    backend: Backend,
    extra: &str,
) -> (TestGateway, FaultProxy, crate::caldav_servers::DavServer) {
    let (server, _) = shared_calendars(backend).await;
    let proxy = FaultProxy::start(&server.url).await;
    let tables = caldav_tables_at(&proxy.url, &[], extra);
    let gw = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
    (gw, proxy, server)
}

async fn transient_failures_are_retried_and_refusals_are_not(backend: Backend) {
    let (gw, proxy, _server) = behind_proxy(backend, "").await;
    let client = gw.mcp("agent-a").await;
    // Warm: discovery done, so the counts below are the writes alone.
    listed(&client).await;

    // Two 503s, then the server's own answer: the create lands once.
    proxy.inject("PUT", Fault::Status(503), 2);
    let created = call_ok(&client, "create_event", meeting(1)).await;
    assert_eq!(proxy.seen("PUT"), 3);

    // 507: the server is full; not retried, and it says nothing was written.
    proxy.inject("PUT", Fault::Status(507), 1);
    let refused = call_err(&client, "create_event", meeting(2)).await;
    assert!(
        refused.contains("out of storage; nothing was written"),
        "{refused}"
    );
    assert_eq!(proxy.seen("PUT"), 4);

    // A 403 is final too, and names the account, never its password.
    proxy.inject("PUT", Fault::Status(403), 1);
    let refused = call_err(&client, "create_event", meeting(3)).await;
    assert!(refused.contains("account `alice`"), "{refused}");
    assert!(!refused.contains("alice-secret"), "{refused}");
    assert_eq!(proxy.seen("PUT"), 5);

    // 401: the password is wrong (or was revoked): an operator must act.
    proxy.inject("PUT", Fault::Status(401), 1);
    let refused = call_err(&client, "create_event", meeting(4)).await;
    assert!(
        refused.contains(
            "refused the credentials of account `alice`: check its username and (app) password"
        ),
        "{refused}"
    );
    assert_eq!(proxy.seen("PUT"), 6);

    // A 503 that never ends: the attempts run out, and the error says so.
    proxy.inject("REPORT", Fault::Status(503), usize::MAX);
    let refused = call_err(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2030-06-03T00:00:00Z", "timeMax": "2030-06-04T00:00:00Z" }),
    )
    .await;
    assert!(refused.contains("answered 503"), "{refused}");
    proxy.inject("REPORT", Fault::Status(503), 0);
    assert_eq!(listed(&client).await, [created["id"].as_str().unwrap()]);
}

async fn slow_answers_and_garbage_end_within_the_retry_bound(backend: Backend) {
    let extra = "request_timeout = \"400ms\"\nmax_attempts = 2\nretry_deadline = \"3s\"";
    let (gw, proxy, _server) = behind_proxy(backend, extra).await;
    let client = gw.mcp("agent-a").await;
    listed(&client).await;

    proxy.inject("REPORT", Fault::Slow(Duration::from_secs(2)), usize::MAX);
    let started = Instant::now();
    let refused = call_err(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2030-06-03T00:00:00Z", "timeMax": "2030-06-04T00:00:00Z" }),
    )
    .await;
    assert!(refused.contains("did not answer in time"), "{refused}");
    // Two attempts of 400 ms and a backoff: well inside the 3 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    proxy.inject("REPORT", Fault::NotXml, 1);
    let refused = call_err(
        &client,
        "list_events",
        json!({ "calendarId": "team", "timeMin": "2030-06-03T00:00:00Z", "timeMax": "2030-06-04T00:00:00Z" }),
    )
    .await;
    assert!(
        refused.contains("answer the gateway cannot use"),
        "{refused}"
    );
    assert!(listed(&client).await.is_empty());
}

async fn the_server_stopped_mid_workload_loses_no_acknowledged_write(backend: Backend) {
    let (mut server, _) = shared_calendars(backend).await;
    let extra = "request_timeout = \"1s\"\nmax_attempts = 2\nretry_deadline = \"3s\"";
    let tables = caldav_tables(&server, &[], extra);
    let gw = TestGateway::start_custom(|_, _, setup| setup.backend = tables).await;
    let client = gw.mcp("agent-a").await;
    let mut acknowledged = Vec::new();
    for n in 0..12 {
        if n == 6 {
            server.stop();
        }
        let started = Instant::now();
        let result = call(&client, "create_event", meeting(n)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        match result.is_error {
            Some(true) => {
                let text = format!("{:?}", result.structured_content);
                assert!(text.contains("did not answer"), "{text}");
                assert!(n >= 6, "failed while the server was up: {text}");
            }
            _ => {
                let id = result.structured_content.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                acknowledged.push(id);
            }
        }
    }
    assert_eq!(acknowledged.len(), 6);
    server.start_again().await;
    let mut on_server = listed(&client).await;
    on_server.sort();
    acknowledged.sort();
    assert_eq!(on_server, acknowledged, "{}", server.log());
}

async fn ready_follows_the_server_only_when_asked(backend: Backend) {
    let (mut server, _) = shared_calendars(backend).await;
    let following = caldav_tables(&server, &[], "ready_follows_backend = true");
    let default = caldav_tables(&server, &[], "");
    let watching = TestGateway::start_custom(|_, _, setup| setup.backend = following).await;
    let ignoring = TestGateway::start_custom(|_, _, setup| setup.backend = default).await;
    let ready = |gw: &TestGateway| {
        let addr = gw.gateway.metrics_addr.unwrap();
        async move {
            let answer = reqwest::get(format!("http://{addr}/ready")).await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    assert_eq!(ready(&watching).await.0, 200);
    server.stop();
    let mut seen = ready(&watching).await;
    for _ in 0..100 {
        if seen.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = ready(&watching).await;
    }
    assert_eq!(
        seen,
        (
            503,
            "not ready: the calendar server cannot be reached\n".to_owned()
        )
    );
    assert_eq!(ready(&ignoring).await.0, 200);
    server.start_again().await;
    for _ in 0..100 {
        if ready(&watching).await.0 == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("still not ready after the server came back");
}

#[tokio::test]
async fn transient_failures_are_retried_and_refusals_are_not_on_radicale() {
    transient_failures_are_retried_and_refusals_are_not(Backend::Radicale).await;
}

#[tokio::test]
async fn transient_failures_are_retried_and_refusals_are_not_on_xandikos() {
    transient_failures_are_retried_and_refusals_are_not(Backend::Xandikos).await;
}

#[tokio::test]
async fn slow_answers_and_garbage_end_within_the_retry_bound_on_radicale() {
    slow_answers_and_garbage_end_within_the_retry_bound(Backend::Radicale).await;
}

#[tokio::test]
async fn slow_answers_and_garbage_end_within_the_retry_bound_on_xandikos() {
    slow_answers_and_garbage_end_within_the_retry_bound(Backend::Xandikos).await;
}

#[tokio::test]
async fn the_server_stopped_mid_workload_loses_no_acknowledged_write_on_radicale() {
    the_server_stopped_mid_workload_loses_no_acknowledged_write(Backend::Radicale).await;
}

#[tokio::test]
async fn the_server_stopped_mid_workload_loses_no_acknowledged_write_on_xandikos() {
    the_server_stopped_mid_workload_loses_no_acknowledged_write(Backend::Xandikos).await;
}

#[tokio::test]
async fn ready_follows_the_server_only_when_asked_on_radicale() {
    ready_follows_the_server_only_when_asked(Backend::Radicale).await;
}

#[tokio::test]
async fn ready_follows_the_server_only_when_asked_on_xandikos() {
    ready_follows_the_server_only_when_asked(Backend::Xandikos).await;
}
