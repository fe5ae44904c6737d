//! Three replicas on the Google backend behind the shipped HAProxy config:
//! the topology the Kubernetes manifests ship (replicas on different nodes
//! cannot share a SQLite file). Each replica fetches its own access token
//! from the (local) token endpoint; a replica killed with SIGKILL mid-workload
//! costs no call, and every acknowledged write is in the calendar, read back
//! through the balancer.

use serde_json::json;

use crate::common::{call_stateless, free_port};
use crate::google_setup::{google_tables, start_google_api, write_key};
use crate::replica_harness::{CLIENT, Cluster, Connections, client_from, create_through};

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
    let token = pki.token("agent-g");
    let client = client_from(pki, CLIENT, ("agent-g", Some(&token)), Connections::PerCall);
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
        created.push(create_through(&client, &url, &format!("call {n}"), event).await);
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
