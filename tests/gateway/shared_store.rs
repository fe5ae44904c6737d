//! Two gateways sharing one embedded store file, as replicas on one host may
//! (docs/DEPLOYMENT.md): writes arriving on both at once all succeed and all
//! land. (Write transactions used to begin deferred: one that read, then
//! wanted the write lock after the other gateway had committed, was refused
//! at once with "database is locked", without waiting out the busy timeout.)

use serde_json::json;

use crate::common::{EMBEDDED_BACKEND, TestGateway, call_stateless, http_client_with_token};

const WRITERS_PER_GATEWAY: usize = 8;
const WRITES_PER_WRITER: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_store_write_at_once() {
    let shared = tempfile::TempDir::new().unwrap();
    let store = shared.path().join("calendar.db");
    let backend = EMBEDDED_BACKEND.replace(
        "path = \"calendar.db\"",
        &format!("path = {:?}", store.to_str().unwrap()),
    );
    assert_ne!(backend, EMBEDDED_BACKEND);
    let mut gateways = Vec::new();
    for _ in 0..2 {
        let backend = backend.clone();
        gateways.push(TestGateway::start_custom(|_, _, s| s.backend = backend).await);
    }
    let mut writers = tokio::task::JoinSet::new();
    for (g, gateway) in gateways.iter().enumerate() {
        let client = http_client_with_token(
            &gateway.pki.ca.issued.cert_pem,
            Some(&gateway.client_cert("agent-w")),
            Some(&gateway.pki.token("agent-w")),
        );
        for w in 0..WRITERS_PER_GATEWAY {
            let (client, url) = (client.clone(), gateway.url());
            writers.spawn(async move {
                for n in 0..WRITES_PER_WRITER {
                    let event = json!({
                        "summary": format!("shared store {g}-{w}-{n}"),
                        "start": { "dateTime": "2035-03-01T09:00:00Z" },
                        "end": { "dateTime": "2035-03-01T10:00:00Z" },
                    });
                    let (status, answer) =
                        call_stateless(&client, &url, "create_event", event).await;
                    assert_eq!(status, 200, "{answer}");
                    assert!(answer["result"]["isError"] != true, "{g}-{w}-{n}: {answer}");
                }
            });
        }
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let gateway = &gateways[0];
    let client = http_client_with_token(
        &gateway.pki.ca.issued.cert_pem,
        Some(&gateway.client_cert("agent-w")),
        Some(&gateway.pki.token("agent-w")),
    );
    let (_, listed) = call_stateless(
        &client,
        &gateway.url(),
        "list_events",
        json!({ "timeMin": "2035-03-01T00:00:00Z", "timeMax": "2035-03-02T00:00:00Z",
                "query": "shared store", "maxResults": 2500 }),
    )
    .await;
    let items = listed["result"]["structuredContent"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(items.len(), 2 * WRITERS_PER_GATEWAY * WRITES_PER_WRITER);
}
