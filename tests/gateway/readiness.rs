//! `GET /ready` on the metrics listener, for load balancers: 200 while the
//! replica should get traffic; 503 saying why while it drains after SIGTERM
//! or cannot write a log. On SIGTERM with `listen.drain_delay`, the real
//! binary says "not ready" at once but goes on accepting and serving for the
//! delay, then stops accepting and exits cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{
    Setup, TestGateway, call_stateless, free_port, http_client_with_token, render, wait_for_port,
    write_pki,
};

/// The status and body of `GET /ready` at `addr`.
async fn ready(addr: std::net::SocketAddr) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}/ready")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn ready_until_draining_or_a_log_fails() {
    let gw = TestGateway::start().await;
    let metrics = gw.gateway.metrics_addr.unwrap();
    assert_eq!(ready(metrics).await, (200, "ready\n".into()));

    // A log that cannot be written: not ready, and it says which.
    let log = gw.security_log_path();
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    gw.gateway.reopen_logs();
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-r")),
        Some(&gw.pki.token("agent-r")),
    );
    let (status, _) = call_stateless(&client, &gw.url(), "get_current_time", json!({})).await;
    assert_eq!(status, 503);
    assert_eq!(
        ready(metrics).await,
        (
            503,
            "not ready: the security log cannot be written\n".into()
        )
    );
    std::fs::remove_file(&log).unwrap();
    gw.gateway.reopen_logs();
    assert_eq!(ready(metrics).await.0, 200);

    // Draining: not ready, still serving.
    gw.gateway.begin_drain();
    assert_eq!(ready(metrics).await, (503, "not ready: draining\n".into()));
    let (status, _) = call_stateless(&client, &gw.url(), "get_current_time", json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sigterm_takes_the_replica_out_of_rotation_before_it_stops_accepting() {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = write_pki(dir.path());
    let (port, metrics) = (free_port(), free_port());
    let text = render(&Setup {
        address: format!("127.0.0.1:{port}"),
        listen: "drain_delay = \"2s\"".into(),
        metrics_listen: format!("127.0.0.1:{metrics}"),
        ..Setup::default()
    });
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("gateway.stderr")).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    let metrics_addr = std::net::SocketAddr::from(([127, 0, 0, 1], metrics));
    wait_for_port(metrics).await;
    assert_eq!(ready(metrics_addr).await.0, 200);
    let url = format!("https://127.0.0.1:{port}/mcp");
    let cert = pki.ca.issue_client("agent-t").unwrap();
    let token = pki.token("agent-t");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let signalled = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        ready(metrics_addr).await,
        (503, "not ready: draining\n".into())
    );
    // Still accepting new connections, and serving them, during the delay.
    let fresh = http_client_with_token(&pki.ca.issued.cert_pem, Some(&cert), Some(&token));
    let (status, _) = call_stateless(&fresh, &url, "get_current_time", json!({})).await;
    assert_eq!(status, 200, "refused during the drain delay");
    assert!(signalled.elapsed() < Duration::from_secs(2));

    let exit = crate::nobody::exit_within(&mut child, signalled, Duration::from_secs(30)).await;
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() >= Duration::from_secs(2),
        "stopped before the drain delay"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    crate::sweep::keep(dir.path(), None, &pki.secrets());
}
