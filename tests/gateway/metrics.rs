//! Prometheus metrics after real traffic: the real `promtool check metrics`
//! finds nothing to lint; the families operators alert on are there; label
//! values never carry a client's string; the metrics listener refuses peers
//! outside `metrics.allow` before reading anything.

use std::process::Stdio;

use serde_json::json;

use crate::common::{TestGateway, call_ok, http_client, initialize_body, post};

async fn scrape(gw: &TestGateway) -> String {
    let addr = gw.gateway.metrics_addr.expect("metrics listener");
    reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn promtool_check(exposition: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool must be installed (Debian package prometheus; scripts/test-all.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && said.trim().is_empty(), said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_finds_the_exposition_clean_after_real_traffic() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.network = r#"allow = ["127.0.0.1"]"#.into();
        s.metrics = r#"allow = ["127.0.0.1"]"#.into();
    })
    .await;
    // Admitted calls: ok, a tool error, a scope refusal, and an unknown tool.
    let client = gw.mcp("agent-a").await;
    call_ok(&client, "get_current_time", json!({})).await;
    crate::common::call_err(&client, "get_event", json!({ "eventId": "nope" })).await;
    let _ = client
        .call_tool(rmcp::model::CallToolRequestParams::new(
            "evil\"} injected{x=\"",
        ))
        .await;
    // Refusals: a bad token, no certificate, an address outside the allowlist.
    let bare = http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert("agent-a")));
    let _ = post(&bare, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await;
    let _ = post(
        &http_client(&gw.pki.ca.issued.cert_pem, None),
        &gw.url(),
        "{}",
    )
    .send()
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    drop(socket.connect(gw.gateway.local_addr).await);
    gw.expect_security_line_starting("DENY stage=ip reason=ip_not_allowed ip=127.0.0.2")
        .await;

    let exposition = scrape(&gw).await;
    let (clean, said) = promtool_check(&exposition);
    assert!(clean, "promtool: {said}\n{exposition}");
    for family in [
        "mcp_gateway_connections_accepted_total",
        "mcp_gateway_connections_open",
        "mcp_gateway_tls_handshakes_total{outcome=\"ok\"}",
        "mcp_gateway_tls_handshake_duration_seconds_bucket",
        "mcp_gateway_denials_total{stage=\"ip\",reason=\"ip_not_allowed\",ban=\"yes\"}",
        "mcp_gateway_denials_total{stage=\"jwt\",reason=\"token_missing\",ban=\"yes\"}",
        "mcp_gateway_denials_total{stage=\"tls\",reason=\"no_certificate\",ban=\"yes\"}",
        "mcp_gateway_http_requests_total{status=\"401\"}",
        "mcp_gateway_tokens_accepted_total",
        "mcp_gateway_tool_calls_total{tool=\"get_current_time\",outcome=\"ok\"}",
        "mcp_gateway_tool_calls_total{tool=\"unknown\",outcome=\"failed\"}",
        "mcp_gateway_tool_duration_seconds_bucket{tool=\"get_event\"",
        "mcp_gateway_sessions_open",
        "mcp_gateway_certificate_expiry_timestamp_seconds{certificate=\"server\"}",
        "mcp_gateway_certificate_expiry_timestamp_seconds{certificate=\"client_ca\"}",
        "# HELP mcp_gateway_denials_total",
        "mcp_gateway_backend_duration_seconds_bucket{backend=\"embedded\"",
        "mcp_gateway_signing_key_created_timestamp_seconds",
    ] {
        assert!(
            exposition.contains(family),
            "missing {family} in:\n{exposition}"
        );
    }
    assert!(
        !exposition.contains("evil") && !exposition.contains("injected"),
        "{exposition}"
    );
}

#[tokio::test]
async fn the_metrics_listener_refuses_peers_outside_its_allowlist() {
    let gw =
        TestGateway::start_custom(|_, _, s| s.metrics = r#"allow = ["127.0.0.1"]"#.into()).await;
    let addr = gw.gateway.metrics_addr.unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.3:0".parse().unwrap()).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .ok();
    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer).await;
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    gw.expect_security_line(
        "DENY stage=ip reason=ip_not_allowed ip=127.0.0.3 client=- detail=\"metrics listener\"",
    )
    .await;
    assert!(scrape(&gw).await.contains("# TYPE"));
}

/// The shipped Prometheus files: the scrape config and the alert rules are
/// valid, and the alerts fire (and stay silent) as their unit tests say.
#[test]
fn the_shipped_prometheus_config_and_alerts_pass_promtool() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/config/prometheus");
    for args in [
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ] {
        let out = std::process::Command::new("promtool")
            .args(args)
            .current_dir(folder)
            .output()
            .expect("promtool must be installed");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test]
async fn scrapers_can_be_required_to_present_a_client_certificate() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.metrics = "[metrics.tls]\ncertificate = \"server.pem\"\nprivate_key = \"server.key\"\nclient_ca = \"ca.pem\"".into();
    })
    .await;
    let addr = gw.gateway.metrics_addr.unwrap();
    let url = format!("https://127.0.0.1:{}/metrics", addr.port());
    let prometheus = gw.client_cert("prometheus");
    let with_cert = http_client(&gw.pki.ca.issued.cert_pem, Some(&prometheus));
    let page = with_cert.get(&url).send().await.unwrap();
    assert_eq!(page.version(), reqwest::Version::HTTP_11);
    assert!(page.text().await.unwrap().contains("# HELP"));
    let without = http_client(&gw.pki.ca.issued.cert_pem, None);
    assert!(without.get(&url).send().await.is_err());
    gw.expect_security_line_starting("DENY stage=tls reason=no_certificate ip=127.0.0.1 client=-")
        .await;
}

/// Idle connections to the metrics listener cannot pile up (issue 21, item 5):
/// past `metrics.max_connections` they are refused at accept, each with one
/// line that never bans, and the MCP port serves throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_caps_its_connections() {
    let gw = TestGateway::start_custom(|_, _, s| s.metrics = "max_connections = 4".into()).await;
    let addr = gw.gateway.metrics_addr.expect("metrics listener");
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    // Held by the four idle ones: the fifth is closed at once.
    let mut fifth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::io::AsyncReadExt::read(&mut fifth, &mut byte),
    )
    .await;
    assert!(matches!(read, Ok(Ok(0) | Err(_))), "{read:?}");
    gw.expect_security_line(
        "REFUSE stage=limit reason=metrics_busy ip=127.0.0.1 client=- detail=\"4 metrics connections open\"",
    )
    .await;
    // The MCP port is untouched.
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let answer = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // Their places come back when they go.
    drop(idle);
    let mut scraped = String::new();
    for _ in 0..50 {
        if let Ok(response) = reqwest::get(format!("http://{addr}/metrics")).await {
            scraped = response.text().await.unwrap_or_default();
            if scraped.contains("mcp_gateway_") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(scraped.contains("mcp_gateway_"), "{scraped}");
}
