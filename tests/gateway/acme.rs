//! The built-in ACME client against real servers (issue 25): Pebble as the
//! CA and BIND 9 as the zone's primary taking TSIG-signed updates, both on
//! loopback ([`crate::acme_lab`]); the gateway is the real binary.

use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

use crate::acme_gateway::{AcmeGateway, leaf_der, served_leaf};
use crate::acme_lab::{AcmeLab, KEY_SECRET, LabOptions, NAME};
use crate::common::{call_stateless, free_port};

/// A lab whose certificates live `validity` seconds.
async fn lab(tls_port: u16, validity: u64, va_sleep: u64) -> AcmeLab {
    AcmeLab::start(LabOptions {
        tls_port,
        http_port: free_port(),
        validity_seconds: validity,
        va_sleep_seconds: va_sleep,
        eab: None,
    })
    .await
}

/// A lab with `validity`-second certificates and a gateway ordering by
/// DNS-01 with the TSIG secret `secret`, and the gateway's folder.
async fn dns01_gateway(validity: u64, secret: &str) -> (AcmeLab, tempfile::TempDir, AcmeGateway) {
    let lab = lab(free_port(), validity, 0).await;
    let dir = tempfile::TempDir::new().unwrap();
    let acme = lab.acme_table(dir.path(), "dns-01", secret);
    let gateway = AcmeGateway::start(dir.path(), free_port(), &acme).await;
    (lab, dir, gateway)
}

/// The log shows the first two retries, 5 s then 10 s apart.
fn assert_backed_off(log: &str) {
    assert!(
        log.contains("retry_in_seconds=5") && log.contains("retry_in_seconds=10"),
        "{log}"
    );
}

/// The first stored certificate, waiting up to a minute for it.
async fn first_certificate(gateway: &AcmeGateway) -> String {
    gateway
        .stored_certificate_other_than("", Duration::from_secs(60))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns01_obtains_a_certificate_curl_is_served_and_the_record_is_removed() {
    let lab = lab(free_port(), 3600, 0).await;
    let dir = tempfile::TempDir::new().unwrap();
    let port = free_port();
    let acme = lab.acme_table(dir.path(), "dns-01", KEY_SECRET);
    let gateway = AcmeGateway::start(dir.path(), port, &acme).await;
    let chain = first_certificate(&gateway).await;
    // Served by name to Debian's curl (HTTP/2), trusting only Pebble's root.
    let root = lab.issuing_root().await;
    std::fs::write(dir.path().join("pebble-root.pem"), &root).unwrap();
    let client = gateway.pki.ca.issue_client("agent-a").unwrap();
    std::fs::write(dir.path().join("agent.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.path().join("agent.key"), &client.key_pem).unwrap();
    let body = crate::common::stateless_tool_call(&json!("list_calendars"), json!({}));
    let out = tokio::process::Command::new("curl")
        .current_dir(dir.path())
        .args([
            "-sS",
            "--cacert",
            "pebble-root.pem",
            "--cert",
            "agent.pem",
            "--key",
            "agent.key",
        ])
        .args(["--resolve", &format!("{NAME}:{port}:127.0.0.1")])
        .args([
            "-H",
            &format!("Authorization: Bearer {}", gateway.pki.token("agent-a")),
        ])
        .args(["-H", "content-type: application/json"])
        .args(["-H", "accept: application/json, text/event-stream"])
        .args([
            "-H",
            &format!("mcp-protocol-version: {}", crate::common::STATELESS),
        ])
        .args([
            "-H",
            "mcp-method: tools/call",
            "-H",
            "mcp-name: list_calendars",
        ])
        .args([
            "-w",
            "\n%{http_code} %{http_version}",
            "-d",
            &body.to_string(),
        ])
        .arg(format!("https://{NAME}:{port}/mcp"))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("200 2"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("primary"), "{text}");
    // The served leaf is the stored one; the challenge record is gone.
    assert_eq!(
        served_leaf(port, &root, Some(&client), &[b"h2"])
            .await
            .unwrap(),
        leaf_der(&chain)
    );
    assert!(lab.txt(&format!("_acme-challenge.{NAME}")).await.is_empty());
    let (status, _) = gateway.ready().await;
    assert_eq!(status, 200, "ready once the certificate is in force");
    // The account key and certificate key are the gateway user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join("acme-state").join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        [
            mode(""),
            mode("account.json"),
            mode("private_key.pem"),
            mode("certificate.pem")
        ],
        [0o700, 0o600, 0o600, 0o600]
    );
    assert_eq!(
        gateway
            .metric("mcp_gateway_acme_orders_total{outcome=\"success\",reason=\"none\"}")
            .await,
        1.0
    );
    assert!(
        gateway
            .metric("mcp_gateway_acme_next_renewal_timestamp_seconds")
            .await
            > 0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewals_under_an_mcp_workload_fail_no_call_and_drop_no_connection() {
    // 30-second certificates: renewed about every 20 seconds.
    let (lab, dir, gateway) = dns01_gateway(30, KEY_SECRET).await;
    let mut stored = first_certificate(&gateway).await;
    let root = lab.issuing_root().await;
    let http = gateway.client(&root, "agent-a");
    let config = StreamableHttpClientTransportConfig::with_uri(gateway.url())
        .auth_header(gateway.pki.token("agent-a"));
    let client =
        ().serve(StreamableHttpClientTransport::with_client(http, config))
            .await
            .expect("MCP initialize by name with Pebble's root");
    let handshakes = "mcp_gateway_tls_handshakes_total{outcome=\"ok\"}";
    let before = gateway.metric(handshakes).await;
    let probe = gateway.pki.ca.issue_client("probe").unwrap();
    let (mut renewals, mut calls, mut probes) = (0, 0, 0.0);
    let deadline = Instant::now() + Duration::from_secs(100);
    while renewals < 2 {
        assert!(
            Instant::now() < deadline,
            "not renewed twice; log:\n{}",
            gateway.log()
        );
        let result = client
            .call_tool(CallToolRequestParams::new("list_calendars"))
            .await
            .unwrap_or_else(|e| panic!("call {calls} failed during renewal: {e}"));
        assert_ne!(result.is_error, Some(true), "call {calls}: {result:?}");
        calls += 1;
        let now = std::fs::read_to_string(dir.path().join("acme-state/certificate.pem")).unwrap();
        if now != stored {
            renewals += 1;
            stored = now;
            // A new handshake is served the renewed certificate...
            let served = served_leaf(gateway.port, &root, Some(&probe), &[b"h2"]).await;
            assert_eq!(served.unwrap(), leaf_der(&stored));
            probes += 1.0;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // ...while the MCP client's one connection went on: no new handshake but the probes'.
    assert_eq!(
        gateway.metric(handshakes).await - before,
        probes,
        "{calls} calls"
    );
    assert!(calls > 100, "{calls} calls");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn01_on_the_mcp_port_still_refuses_a_client_without_a_certificate() {
    let port = free_port();
    // Pebble waits up to 2 s before validating: the challenge stays offered a while.
    let lab = lab(port, 30, 2).await;
    let dir = tempfile::TempDir::new().unwrap();
    let acme = lab.acme_table(dir.path(), "tls-alpn-01", KEY_SECRET);
    let gateway = AcmeGateway::start(dir.path(), port, &acme).await;
    let first = first_certificate(&gateway).await;
    let root = lab.issuing_root().await;
    // Until the renewal is stored, clients without a certificate keep trying.
    let mut attempts: Vec<(chrono::DateTime<chrono::Utc>, bool)> = Vec::new();
    let path = dir.path().join("acme-state/certificate.pem");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&path).unwrap() == first {
        assert!(
            Instant::now() < deadline,
            "no renewal; log:\n{}",
            gateway.log()
        );
        let at = chrono::Utc::now();
        let outcome = served_leaf(port, &root, None, &[b"h2", b"http/1.1"]).await;
        attempts.push((at, outcome.is_err()));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert!(
        attempts.iter().all(|(_, refused)| *refused),
        "a client without a certificate got in"
    );
    // Some attempts fell while the challenge was offered.
    let log = gateway.log();
    let stamp = |needle: &str| -> Vec<chrono::DateTime<chrono::Utc>> {
        log.lines()
            .filter(|l| l.contains(needle))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    };
    let offered = stamp("challenge certificate offered");
    let withdrawn = stamp("challenge certificate withdrawn");
    let (start, end) = (offered[offered.len() - 1], withdrawn[withdrawn.len() - 1]);
    let during = attempts
        .iter()
        .filter(|(at, _)| *at > start && *at < end)
        .count();
    assert!(
        during > 0,
        "no attempt during the validation ({start}..{end})"
    );
    assert!(
        log.contains("TLS-ALPN-01 challenge certificate shown to a validator"),
        "{log}"
    );
    // Each was refused as before: no_certificate, never anything looser. The
    // client may hear its refusal before the line is written: wait for them.
    let security_log = dir.path().join("security.log");
    let refusals = || {
        let security = std::fs::read_to_string(&security_log).unwrap_or_default();
        let refused = security
            .matches("DENY stage=tls reason=no_certificate")
            .count();
        (refused, security)
    };
    crate::common::wait_until(|| refusals().0 >= attempts.len()).await;
    let (refused, security) = refusals();
    assert!(
        refused >= attempts.len(),
        "{refused} lines for {} attempts:\n{security}",
        attempts.len()
    );
    assert!(
        gateway
            .metric("mcp_gateway_acme_challenges_answered_total")
            .await
            >= 2.0,
        "the validators were answered for both orders"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ca_unreachable_at_start_leaves_the_stored_certificate_served_and_is_retried() {
    let (mut lab, dir, mut gateway) = dns01_gateway(3600, KEY_SECRET).await;
    let chain = first_certificate(&gateway).await;
    let root = lab.issuing_root().await;
    lab.stop_pebble().await;
    gateway.restart().await;
    // Served at once from the state folder...
    let http = gateway.client(&root, "agent-a");
    let (status, answer) = call_stateless(&http, &gateway.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let probe = gateway.pki.ca.issue_client("probe").unwrap();
    assert_eq!(
        served_leaf(gateway.port, &root, Some(&probe), &[b"h2"])
            .await
            .unwrap(),
        leaf_der(&chain)
    );
    // ...while the CA is asked again after 5 s, then 10 s.
    let log = gateway.log_with("ACME order failed at directory", 2).await;
    assert_backed_off(&log);
    assert!(
        gateway
            .metric("mcp_gateway_acme_consecutive_failures")
            .await
            >= 2.0,
        "{log}"
    );
    // The CA back: the next try reaches it and schedules the renewal (the
    // log is appended to across the restart: the first run scheduled one too).
    lab.start_pebble().await;
    gateway.log_with("renewal scheduled", 2).await;
    assert_eq!(
        gateway
            .metric("mcp_gateway_acme_consecutive_failures")
            .await,
        0.0,
        "the CA answers again: no renewal is failing"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("acme-state/certificate.pem")).unwrap(),
        chain
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_tsig_key_is_named_and_retried_with_back_off() {
    let wrong = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy1zZWNyZXQ=";
    let (lab, dir, mut gateway) = dns01_gateway(3600, wrong).await;
    let log = gateway.log_with("ACME order failed at dns_update", 2).await;
    let line = log
        .lines()
        .find(|l| l.contains("ACME order failed at dns_update"))
        .unwrap();
    assert!(
        line.contains("BADSIG") && line.contains("`acme-update`"),
        "{line}"
    );
    assert!(line.contains("tsig_key_file"), "says what to check: {line}");
    assert_backed_off(&log);
    assert!(
        gateway
            .metric("mcp_gateway_acme_orders_total{outcome=\"failure\",reason=\"dns_update\"}")
            .await
            >= 2.0
    );
    assert!(
        gateway.child.try_wait().unwrap().is_none(),
        "the gateway keeps running"
    );
    // A balancer sends it nothing meanwhile.
    let (status, why) = gateway.ready().await;
    assert_eq!(status, 503);
    assert!(why.contains("no server certificate yet"), "{why}");
    // Nothing is served without a certificate, and that is not the client's doing.
    let probe = gateway.pki.ca.issue_client("probe").unwrap();
    assert!(
        served_leaf(
            gateway.port,
            &lab.issuing_root().await,
            Some(&probe),
            &[b"h2"]
        )
        .await
        .is_err()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let security = std::fs::read_to_string(dir.path().join("security.log")).unwrap_or_default();
        if security.contains("REFUSE stage=tls reason=no_server_certificate") {
            break;
        }
        assert!(Instant::now() < deadline, "{security}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_account_binding_is_required_and_sent() {
    const KID: &str = "kid-1";
    const HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let lab = AcmeLab::start(LabOptions {
        tls_port: free_port(),
        http_port: free_port(),
        validity_seconds: 3600,
        va_sleep_seconds: 0,
        eab: Some((KID, HMAC)),
    })
    .await;
    // Without the binding, the CA refuses the account: named, retried.
    let refused_dir = tempfile::TempDir::new().unwrap();
    let acme = lab.acme_table(refused_dir.path(), "dns-01", KEY_SECRET);
    let refused = AcmeGateway::start(refused_dir.path(), free_port(), &acme).await;
    let log = refused.log_with("ACME order failed at account", 1).await;
    assert!(log.contains("externalAccountRequired"), "{log}");
    // With it (the HMAC key in a 0600 file), an account and a certificate.
    let dir = tempfile::TempDir::new().unwrap();
    let key = dir.path().join("eab.key");
    std::fs::write(&key, format!("{HMAC}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let acme = lab.acme_table(dir.path(), "dns-01", KEY_SECRET).replace(
        "[tls.acme.dns_update]",
        &format!("eab_key_id = \"{KID}\"\neab_hmac_key_file = \"eab.key\"\n[tls.acme.dns_update]"),
    );
    let gateway = AcmeGateway::start(dir.path(), free_port(), &acme).await;
    first_certificate(&gateway).await;
    assert!(gateway.log().contains("ACME account created and stored"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_the_state_folder_refuses_is_served_and_stored_later() {
    let lab = lab(free_port(), 3600, 0).await;
    let dir = tempfile::TempDir::new().unwrap();
    // A folder where the certificate file goes: the rename over it fails.
    let blocker = dir.path().join("acme-state/certificate.pem");
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let acme = lab.acme_table(dir.path(), "dns-01", KEY_SECRET);
    let gateway = AcmeGateway::start(dir.path(), free_port(), &acme).await;
    let log = gateway.log_with("ACME order failed at storage", 1).await;
    assert!(log.contains("cannot be stored"), "{log}");
    // Served meanwhile.
    let root = lab.issuing_root().await;
    let probe = gateway.pki.ca.issue_client("probe").unwrap();
    let served = served_leaf(gateway.port, &root, Some(&probe), &[b"h2"])
        .await
        .unwrap();
    // The folder fixed, the next try stores what is served (no new order).
    std::fs::remove_dir_all(&blocker).unwrap();
    let stored = first_certificate(&gateway).await;
    assert_eq!(leaf_der(&stored), served);
    assert_eq!(
        gateway
            .metric("mcp_gateway_acme_orders_total{outcome=\"success\",reason=\"none\"}")
            .await,
        0.0,
        "the order succeeded once, its storage failed; no second order"
    );
    gateway.log_with("renewal scheduled", 1).await;
    assert_eq!(
        gateway
            .metric("mcp_gateway_acme_consecutive_failures")
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_allowlist_applies_to_tls_alpn01_validators() {
    let port = free_port();
    let lab = lab(port, 3600, 0).await;
    let dir = tempfile::TempDir::new().unwrap();
    let acme = lab.acme_table(dir.path(), "tls-alpn-01", KEY_SECRET);
    // Pebble validates from 127.0.0.1, which this gateway does not allow.
    let gateway = AcmeGateway::start_with(dir.path(), port, |setup| {
        setup.tls_files = String::new();
        setup.network = r#"allow = ["127.0.0.2/32"]"#.into();
        setup.tables = acme;
    })
    .await;
    let log = gateway.log_with("ACME order failed at challenge", 1).await;
    assert!(log.contains("for the tls-alpn-01 challenge"), "{log}");
    assert!(!log.contains("challenge certificate shown"), "{log}");
    let security = std::fs::read_to_string(dir.path().join("security.log")).unwrap();
    assert!(
        security.contains("DENY stage=ip reason=ip_not_allowed ip=127.0.0.1"),
        "{security}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_forgot_the_account_gets_a_new_one_at_the_next_renewal() {
    let (mut lab, dir, gateway) = dns01_gateway(30, KEY_SECRET).await;
    let first = first_certificate(&gateway).await;
    // A restarted Pebble knows no account: the renewal's order is refused.
    lab.stop_pebble().await;
    lab.start_pebble().await;
    gateway
        .stored_certificate_other_than(&first, Duration::from_secs(90))
        .await;
    let log = gateway.log();
    assert!(
        log.contains("the CA no longer knows the stored account"),
        "{log}"
    );
    assert_eq!(
        log.matches("ACME account created and stored").count(),
        2,
        "{log}"
    );
    assert!(dir.path().join("acme-state/account.json.gone").exists());
}
