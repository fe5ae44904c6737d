//! The serving threads (one single-threaded runtime per core, issue 26):
//! as many as the cores, serving calls from connections made together, and
//! gone, with the port closed, once the gateway stops or the runtime that
//! started it ends (a test's runtime, say).

use std::time::Duration;

use serde_json::json;

use crate::common::{STATELESS, TestGateway, http_client_with_token, post, stateless_tool_call};

/// The gateway's serving threads in this process, by their names.
fn serving_threads(port: u16) -> usize {
    let prefix = format!("serve-{port}-");
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(&prefix))
        .count()
}

fn cores() -> usize {
    std::thread::available_parallelism().unwrap().get()
}

/// Waits (up to 10 s) until no serving thread of `port` is left.
fn wait_until_gone(port: u16) {
    let give_up = std::time::Instant::now() + Duration::from_secs(10);
    while serving_threads(port) > 0 {
        assert!(
            std::time::Instant::now() < give_up,
            "{} serving threads left",
            serving_threads(port)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn port_refuses(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port))
        .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thread_per_core_serves_and_a_shutdown_ends_them_and_the_port() {
    let mut gw = TestGateway::start().await;
    let port = gw.gateway.local_addr.port();
    assert_eq!(serving_threads(port), cores());
    let cert = gw.client_cert("agent-a");
    let token = gw.pki.token("agent-a");
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        // A client each: eight connections, accepted by whichever thread is free.
        let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&token));
        let url = gw.url();
        calls.spawn(async move {
            let body = stateless_tool_call(&json!("get_current_time"), json!({}));
            post(&client, &url, body.to_string())
                .header("mcp-protocol-version", STATELESS)
                .header("mcp-method", "tools/call")
                .header("mcp-name", "get_current_time")
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    for status in calls.join_all().await {
        assert_eq!(status, 200);
    }
    assert_eq!(gw.audit_lines().len(), 8, "one audit line per call");
    gw.gateway.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), &mut gw.gateway.task)
        .await
        .expect("the drain ends")
        .unwrap();
    assert_eq!(serving_threads(port), 0, "threads outlived the drain");
    assert!(port_refuses(port), "the port still accepts after the drain");
}

#[test]
fn the_threads_end_with_the_runtime_that_started_the_gateway() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gw = runtime.block_on(TestGateway::start());
    let port = gw.gateway.local_addr.port();
    assert_eq!(serving_threads(port), cores());
    // No shutdown asked for: the owner simply goes away.
    drop(runtime);
    wait_until_gone(port);
    assert!(port_refuses(port), "the port outlived the gateway's owner");
    drop(gw);
}
