//! Reload under live traffic: a new CRL refuses a newly revoked certificate on
//! the next handshake while a well-behaved client, making a fresh connection
//! for every request, never sees a failure; an invalid file changes nothing;
//! a change that needs a restart is named.

use std::time::Duration;

use rcgen::SerialNumber;

use mcp_gateway::cli::pki::Authority;

use crate::common::{Setup, TestGateway, http_client_with_token, initialize_body, post, render};

/// A CRL of `ca` revoking `revoked`, fresh for a day.
pub fn crl(ca: &Authority, revoked: &[u64]) -> String {
    crate::revocation::crl(ca, revoked, 86_400)
}

const TLS: &str = "crls = [\"crl.pem\"]";
/// Every initialize below opens a session: room for all of them.
const MCP: &str = "max_sessions_per_client = 200";

/// The test's config with `tls` (and `listen`) as given.
fn setup(tls: &str, listen: &str) -> Setup {
    Setup {
        tls: tls.into(),
        listen: listen.into(),
        mcp: MCP.into(),
        ..Setup::default()
    }
}

/// A gateway with an empty CRL, and its config written where a reload reads it.
pub async fn gateway_with_crl() -> (TestGateway, std::path::PathBuf) {
    let gw = TestGateway::start_custom(|dir, ca, s| {
        std::fs::write(dir.join("crl.pem"), crl(ca, &[])).unwrap();
        s.tls = TLS.into();
        s.mcp = MCP.into();
    })
    .await;
    let config = gw.dir_path().join("gateway.toml");
    std::fs::write(&config, render(&setup(TLS, ""))).unwrap();
    (gw, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_under_traffic_loses_nothing_and_applies_the_new_crl() {
    let (gw, config) = gateway_with_crl().await;
    let mut params = Authority::client_params("agent-doomed").unwrap();
    params.serial_number = Some(SerialNumber::from(0xd00du64));
    let doomed = gw.pki.ca.sign(&params).unwrap();
    let status_with = |cert: &mcp_gateway::cli::pki::Issued, identity: &str| {
        // A fresh client: a fresh connection and handshake every time.
        let client = http_client_with_token(
            &gw.pki.ca.issued.cert_pem,
            Some(cert),
            Some(&gw.pki.token(identity)),
        );
        let url = gw.url();
        async move {
            post(&client, &url, initialize_body("2025-11-25"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string())
        }
    };
    assert_eq!(status_with(&doomed, "agent-doomed").await, Ok(200));

    let steady = gw.client_cert("agent-steady");
    let traffic = {
        let (steady, ca, token, url) = (
            steady.clone(),
            gw.pki.ca.issued.cert_pem.clone(),
            gw.pki.token("agent-steady"),
            gw.url(),
        );
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..40 {
                let client = http_client_with_token(&ca, Some(&steady), Some(&token));
                let outcome = post(&client, &url, initialize_body("2025-11-25"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                outcomes.push(outcome.map_err(|e| e.to_string()));
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            outcomes
        })
    };
    // Revoke the doomed certificate and reload, a few times, under that traffic.
    let next = gw.dir_path().join("crl.pem.new");
    std::fs::write(&next, crl(&gw.pki.ca, &[0xd00d])).unwrap();
    std::fs::rename(&next, gw.dir_path().join("crl.pem")).unwrap();
    for _ in 0..5 {
        assert_eq!(gw.gateway.reload(&config), Ok(Vec::new()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outcomes = traffic.await.unwrap();
    assert!(outcomes.iter().all(|o| *o == Ok(200)), "{outcomes:?}");
    assert!(status_with(&doomed, "agent-doomed").await.is_err());
    gw.expect_security_line_starting("DENY stage=tls reason=certificate_revoked ip=127.0.0.1")
        .await;

    // An invalid file changes nothing, and says why.
    let broken = render(&setup("crls = [\"missing.pem\"]", ""));
    std::fs::write(&config, broken).unwrap();
    let problems = gw.gateway.reload(&config).unwrap_err().to_string();
    assert!(
        problems.contains("tls.crls[0]: file not found"),
        "{problems}"
    );
    assert_eq!(status_with(&steady, "agent-steady").await, Ok(200));
    assert!(
        status_with(&doomed, "agent-doomed").await.is_err(),
        "the old CRL stays in force"
    );
    // A change that cannot be made live is named.
    let moved = render(&setup(TLS, "max_connections = 7"));
    std::fs::write(&config, moved).unwrap();
    let notes = gw.gateway.reload(&config).unwrap();
    assert_eq!(
        notes,
        ["listen: changed in the file, takes effect after a restart"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_reloaded_without_a_signal() {
    let (gw, config) = gateway_with_crl().await;
    gw.gateway.watch_config(&config);
    let mut params = Authority::client_params("agent-doomed").unwrap();
    params.serial_number = Some(SerialNumber::from(0xbeefu64));
    let doomed = gw.pki.ca.sign(&params).unwrap();
    let attempt = || {
        let client = http_client_with_token(
            &gw.pki.ca.issued.cert_pem,
            Some(&doomed),
            Some(&gw.pki.token("agent-doomed")),
        );
        let url = gw.url();
        async move {
            post(&client, &url, initialize_body("2025-11-25"))
                .send()
                .await
                .is_ok()
        }
    };
    assert!(attempt().await);
    let next = gw.dir_path().join("crl.pem.new");
    std::fs::write(&next, crl(&gw.pki.ca, &[0xbeef])).unwrap();
    std::fs::rename(&next, gw.dir_path().join("crl.pem")).unwrap();
    let mut refused = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !attempt().await {
            refused = true;
            break;
        }
    }
    assert!(refused, "the new CRL was not picked up");
}
