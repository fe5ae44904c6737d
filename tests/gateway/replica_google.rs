//! Three replicas on the Google backend behind the shipped HAProxy config:
//! the topology the Kubernetes manifests ship (replicas on different nodes
//! cannot share a SQLite file). Each replica fetches its own access token
//! from the (local) token endpoint; a replica killed with SIGKILL mid-workload
//! costs no call, and every acknowledged write is in the calendar, read back
//! through the balancer.

use std::net::IpAddr;

use serde_json::json;

use crate::common::{call_stateless, free_port, http_client_builder};
use crate::google_setup::{google_tables, start_google_api, write_key};
use crate::replica_harness::{CLIENT, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_google_survive_a_kill() {
    let (api, key) = start_google_api().await;
    let mut cluster = Cluster::start_on("", &google_tables(&api, ""), |dir| {
        write_key(dir, &key.json)
    })
    .await;
    let listen = free_port();
    let _haproxy = cluster.balance(listen, |config| config).await;
    let pki = &cluster.pki;
    // A new connection per call, so that HAProxy spreads them.
    let client = http_client_builder(
        &pki.ca.issued.cert_pem,
        Some(&pki.ca.issue_client("agent-g").unwrap()),
        Some(&pki.token("agent-g")),
    )
    .local_address(CLIENT.parse::<IpAddr>().unwrap())
    .pool_max_idle_per_host(0)
    .build()
    .unwrap();
    let url = format!("https://127.0.0.1:{listen}/mcp");

    let mut created = Vec::new();
    for n in 0..30 {
        if n == 10 {
            drop(cluster.replicas[2].take());
        }
        let event = json!({
            "calendarId": "team",
            "summary": format!("google replica {n}"),
            "start": { "dateTime": format!("2036-02-02T{:02}:00:00Z", n % 24) },
            "end": { "dateTime": format!("2036-02-02T{:02}:30:00Z", n % 24) },
        });
        let (status, answer) = call_stateless(&client, &url, "create_event", event).await;
        assert_eq!(status, 200, "call {n}: {answer}");
        assert!(answer["result"]["isError"] != true, "call {n}: {answer}");
        created.push(
            answer["result"]["structuredContent"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &created {
        let (_, got) = call_stateless(
            &client,
            &url,
            "get_event",
            json!({ "calendarId": "team", "eventId": id }),
        )
        .await;
        assert!(
            got["result"]["structuredContent"]["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("google replica ")),
            "{id}: {got}"
        );
    }
    // Every replica that served fetched its own access token.
    let grants = api.token_grants().len();
    assert!(grants >= 2, "{grants} token grants for three replicas");
    println!(
        "{} writes through three replicas on Google; {grants} token grants",
        created.len()
    );
}
