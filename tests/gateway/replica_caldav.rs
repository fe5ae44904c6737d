//! Three replicas on the CalDAV backend (a real Radicale or Xandikos) behind the shipped
//! HAProxy config: the replicas share a calendar server instead of a disk.
//! One is killed with SIGKILL mid-workload; the client re-sends a call that
//! failed, with the same idempotency key, as a client after a timeout does.
//! Afterwards every acknowledged event is on the server exactly once.

use std::collections::BTreeSet;

use serde_json::json;

use crate::caldav_setup::{caldav_tables, shared_calendars};
use crate::common::{call_stateless, free_port};
use crate::google_setup::Backend;
use crate::replica_harness::{CLIENT, Cluster, Connections, client_from};

async fn replicas_on_caldav_lose_and_duplicate_nothing_when_one_is_killed(backend: Backend) {
    let (server, _) = shared_calendars(backend).await;
    let mut cluster = Cluster::start_on("", &caldav_tables(&server, &[], ""), |_| ()).await;
    let listen = free_port();
    let _haproxy = cluster.balance(listen, |config| config).await;
    let pki = &cluster.pki;
    let token = pki.token("agent-c");
    let client = client_from(pki, CLIENT, ("agent-c", Some(&token)), Connections::PerCall);
    let url = format!("https://127.0.0.1:{listen}/mcp");

    let mut acknowledged = Vec::new();
    let mut resent = 0;
    for n in 0..30 {
        if n == 10 {
            drop(cluster.replicas[2].take());
        }
        let event = json!({
            "calendarId": "team",
            "summary": format!("caldav replica {n}"),
            "start": { "dateTime": format!("2036-03-03T{:02}:00:00Z", n % 24) },
            "end": { "dateTime": format!("2036-03-03T{:02}:30:00Z", n % 24) },
            "idempotencyKey": format!("replica-call-{n}"),
        });
        let mut answer = call_stateless(&client, &url, "create_event", event.clone()).await;
        if answer.0 != 200 || answer.1["result"]["isError"] == true {
            resent += 1;
            answer = call_stateless(&client, &url, "create_event", event).await;
        }
        let id = answer.1["result"]["structuredContent"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("call {n}: {}", answer.1))
            .to_owned();
        acknowledged.push(id);
    }
    let (status, page) = call_stateless(
        &client,
        &url,
        "list_events",
        json!({
            "calendarId": "team", "timeMin": "2036-03-03T00:00:00Z",
            "timeMax": "2036-03-05T00:00:00Z", "maxResults": 250
        }),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let listed: Vec<String> = page["result"]["structuredContent"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "an event is on the server twice"
    );
    assert_eq!(
        unique,
        acknowledged.iter().collect::<BTreeSet<_>>(),
        "{}",
        server.log()
    );
    println!(
        "30 writes through three replicas on {backend:?}, {resent} re-sent, none lost or doubled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_caldav_lose_and_duplicate_nothing_when_one_is_killed_on_radicale() {
    replicas_on_caldav_lose_and_duplicate_nothing_when_one_is_killed(Backend::Radicale).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_caldav_lose_and_duplicate_nothing_when_one_is_killed_on_xandikos() {
    replicas_on_caldav_lose_and_duplicate_nothing_when_one_is_killed(Backend::Xandikos).await;
}
