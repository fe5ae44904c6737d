//! Files renewed by an external ACME client (issue 25): Debian's certbot
//! against Pebble (HTTP-01 on a loopback port), with the deploy hook
//! certs/README.md documents; the gateway serves the renewed certificate
//! without a restart, and refuses a mismatched pair written by hand, keeping
//! the certificate in force.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::acme_gateway::{AcmeGateway, leaf_der, served_leaf};
use crate::acme_lab::{AcmeLab, LabOptions, NAME};
use crate::common::{call_stateless, free_port};

/// Runs certbot with its folders in `dir/le`, trusting Pebble's HTTPS.
async fn certbot(lab: &AcmeLab, dir: &Path, args: &[&str]) {
    let https_ca = dir.join("pebble-https.pem");
    std::fs::write(&https_ca, &lab.https_ca).unwrap();
    let le = dir.join("le");
    let out = tokio::process::Command::new("certbot")
        .args(args)
        .args([
            "--non-interactive",
            "--agree-tos",
            "--register-unsafely-without-email",
        ])
        .args(["--server", &lab.directory()])
        .args(["--http-01-port", &lab.http_port().to_string()])
        .args(["--http-01-address", "127.0.0.1"])
        .arg("--config-dir")
        .arg(le.join("config"))
        .arg("--work-dir")
        .arg(le.join("work"))
        .arg("--logs-dir")
        .arg(le.join("logs"))
        .env("REQUESTS_CA_BUNDLE", &https_ca)
        .output()
        .await
        .expect("certbot must be installed (scripts/test-all.sh installs it)");
    assert!(
        out.status.success(),
        "certbot {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn live(dir: &Path, file: &str) -> std::path::PathBuf {
    dir.join("le/config/live").join(NAME).join(file)
}

/// Waits until a new handshake is served `expected` (DER).
async fn until_served(gateway: &AcmeGateway, root: &str, expected: &[u8]) {
    let probe = gateway.pki.ca.issue_client("probe").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let served = served_leaf(gateway.port, root, Some(&probe), &[b"h2"]).await;
        if served.as_deref().ok() == Some(expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not served; log:\n{}",
            gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certbot_renewal_is_served_without_restart_and_a_mismatched_pair_is_refused() {
    let lab = AcmeLab::start(LabOptions {
        tls_port: free_port(),
        http_port: free_port(),
        validity_seconds: 3600,
        va_sleep_seconds: 0,
        eab: None,
    })
    .await;
    let dir = tempfile::TempDir::new().unwrap();
    certbot(&lab, dir.path(), &["certonly", "--standalone", "-d", NAME]).await;
    let (fullchain, privkey) = (
        live(dir.path(), "fullchain.pem"),
        live(dir.path(), "privkey.pem"),
    );
    let mut gateway = AcmeGateway::start_with(dir.path(), free_port(), |setup| {
        setup.tls_files = format!(
            "certificate = \"{}\"\nprivate_key = \"{}\"\nserver_names = [\"{NAME}\"]",
            fullchain.display(),
            privkey.display()
        );
    })
    .await;
    let root = lab.issuing_root().await;
    let first = std::fs::read_to_string(&fullchain).unwrap();
    until_served(&gateway, &root, &leaf_der(&first)).await;
    let http = gateway.client(&root, "agent-a");
    let (status, answer) = call_stateless(&http, &gateway.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200, "{answer}");

    // The documented deploy hook: certbot signals the gateway after a renewal.
    let pid = gateway.child.id().unwrap();
    let hook = format!("kill -HUP {pid}");
    certbot(
        &lab,
        dir.path(),
        &[
            "renew",
            "--force-renewal",
            "--no-random-sleep-on-renew",
            "--deploy-hook",
            &hook,
        ],
    )
    .await;
    let renewed = std::fs::read_to_string(&fullchain).unwrap();
    assert_ne!(renewed, first);
    until_served(&gateway, &root, &leaf_der(&renewed)).await;
    assert!(gateway.child.try_wait().unwrap().is_none(), "no restart");
    assert_eq!(gateway.child.id(), Some(pid));
    // The client's pooled connection goes on.
    let (status, answer) = call_stateless(&http, &gateway.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    let installed = "mcp_gateway_server_certificate_updates_total{source=\"files\",outcome=\"installed\",reason=\"none\"}";
    assert_eq!(
        gateway.metric(installed).await,
        2.0,
        "at start and after the renewal"
    );

    // A key that is not the certificate's, written by hand, and a SIGHUP.
    let refused = "mcp_gateway_server_certificate_updates_total{source=\"files\",outcome=\"refused\",reason=\"key_mismatch\"}";
    let refused_before = gateway.metric(refused).await;
    let stray = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(&privkey, stray).unwrap();
    let signalled = tokio::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(signalled.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while gateway.metric(refused).await <= refused_before {
        assert!(
            Instant::now() < deadline,
            "not refused; log:\n{}",
            gateway.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = gateway.log();
    assert!(
        log.contains("server certificate refused; the one in force stays")
            && log.contains("the private key does not match the certificate"),
        "{log}"
    );
    assert!(log.contains("reload refused: tls.private_key:"), "{log}");
    // The renewed certificate and its key stay in force: handshakes and calls go on.
    until_served(&gateway, &root, &leaf_der(&renewed)).await;
    let fresh = gateway.client(&root, "agent-b");
    let (status, answer) =
        call_stateless(&fresh, &gateway.url(), "list_calendars", json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(gateway.metric(installed).await, 2.0);
    gateway.child.kill().await.unwrap();
}
