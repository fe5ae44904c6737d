//! A client on MCP 2025-11-25 (with a session) through the real HAProxy with
//! `balance source`, the choice docs/DEPLOYMENT.md recommends for session
//! clients: its calls stay on one replica; when that replica dies, the
//! balancer sends the client to another, which answers the unknown session
//! with the `404` the MCP specification prescribes (one `REFUSE stage=session`
//! line), and the client's new `initialize` there works. The same with the
//! Rust MCP SDK (rmcp) as the client: its call in the lost session fails, a
//! new session through the balancer works, and every write it made is there.

use std::time::Duration;

use serde_json::json;

use crate::common::{free_port, initialize_body, open_session, post};
use crate::replica_harness::{CLIENT, Cluster, Connections, REPLICAS, client_from, within};

/// A `tools/call` in `session`, its answer read to the end: the HTTP
/// status, or 0 when the connection failed.
async fn call_in(client: &reqwest::Client, url: &str, session: &str) -> u16 {
    static ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(2);
    let id = ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let body = json!({ "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": "get_current_time", "arguments": {} } });
    let Ok(response) = post(client, url, body.to_string())
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
    else {
        return 0;
    };
    let status = response.status().as_u16();
    // The answer is a stream: the call is in flight until it ends.
    let _ = response.text().await;
    status
}

/// HAProxy with the shipped config in front of `cluster`, but `balance
/// source`: what docs/DEPLOYMENT.md recommends for session clients.
async fn balanced_by_source(cluster: &Cluster, listen: u16) -> crate::replica_harness::Running {
    cluster
        .balance(listen, |config| {
            config.replace("balance roundrobin", "balance source")
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_client_initializes_again_when_its_replica_dies() {
    let mut cluster = Cluster::start("").await;
    let listen = free_port();
    let _haproxy = balanced_by_source(&cluster, listen).await;
    let pki = &cluster.pki;
    let token = pki.token("agent-s");
    let client = client_from(pki, CLIENT, ("agent-s", Some(&token)), Connections::Reused);
    let url = format!("https://127.0.0.1:{listen}/mcp");
    within(Duration::from_secs(20), async || {
        post(&client, &url, initialize_body("2025-11-25"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await
    .expect("no replica answered through HAProxy");

    let session = open_session(&client, &url).await;
    for _ in 0..5 {
        assert_eq!(call_in(&client, &url, &session).await, 200);
    }
    // One replica holds the session: the one whose log shows the client.
    let serving: Vec<usize> = (0..REPLICAS.len())
        .filter(|n| {
            cluster
                .security_log(*n)
                .contains(&format!("ALLOW stage=tls ip={CLIENT} client=agent-s"))
        })
        .collect();
    assert_eq!(
        serving.len(),
        1,
        "balance source spread one client: {serving:?}"
    );
    drop(cluster.replicas[serving[0]].take());

    // The next call lands elsewhere (after, at most, a failed connection):
    // 404 for the unknown session, as the specification says.
    let status = within(Duration::from_secs(10), async || {
        call_in(&client, &url, &session).await == 404
    })
    .await;
    assert!(status.is_some(), "no 404 for the session of a dead replica");
    let moved_to: Vec<usize> = (0..REPLICAS.len())
        .filter(|n| *n != serving[0])
        .filter(|n| {
            cluster.security_log(*n).contains(&format!(
                "REFUSE stage=session reason=session_not_found ip={CLIENT} client=agent-s"
            ))
        })
        .collect();
    assert_eq!(moved_to.len(), 1, "{moved_to:?}");
    // The client initializes again, and goes on.
    let fresh = open_session(&client, &url).await;
    assert_ne!(fresh, session);
    assert_eq!(call_in(&client, &url, &fresh).await, 200);
}

/// An rmcp (the Rust MCP SDK) client session from the client's address to `url`.
async fn sdk_session(cluster: &Cluster, url: &str) -> Result<crate::common::McpClient, String> {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let pki = &cluster.pki;
    let http = client_from(pki, CLIENT, ("agent-k", None), Connections::Reused);
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
        .auth_header(pki.token("agent-k"));
    ().serve(StreamableHttpClientTransport::with_client(http, config))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_client_goes_on_after_its_replica_dies_by_initializing_again() {
    let mut cluster = Cluster::start("").await;
    let listen = free_port();
    let _haproxy = balanced_by_source(&cluster, listen).await;
    let url = format!("https://127.0.0.1:{listen}/mcp");
    let client = sdk_session(&cluster, &url)
        .await
        .expect("initialize through HAProxy");
    for n in 0..10 {
        let created = crate::common::call_ok(
            &client,
            "create_event",
            json!({ "summary": format!("sdk {n}"), "start": { "dateTime": "2034-01-01T10:00:00Z" }, "end": { "dateTime": "2034-01-01T11:00:00Z" } }),
        )
        .await;
        assert!(created["id"].is_string());
    }
    let serving: Vec<usize> = (0..REPLICAS.len())
        .filter(|n| {
            cluster
                .security_log(*n)
                .contains(&format!("ALLOW stage=tls ip={CLIENT} client=agent-k"))
        })
        .collect();
    assert_eq!(serving.len(), 1, "{serving:?}");
    drop(cluster.replicas[serving[0]].take());

    // The SDK reports the lost session as an error; the application opens a
    // new session, through the same balancer, and goes on.
    let lost = client
        .call_tool(rmcp::model::CallToolRequestParams::new("list_calendars"))
        .await;
    assert!(
        lost.is_err(),
        "a call in a session of a dead replica succeeded"
    );
    let client = within(Duration::from_secs(10), async || {
        sdk_session(&cluster, &url).await.is_ok()
    })
    .await
    .and(sdk_session(&cluster, &url).await.ok())
    .expect("no new session through HAProxy");
    let listed = crate::common::call_ok(
        &client,
        "list_events",
        json!({ "timeMin": "2034-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 10, "{listed}");
}
