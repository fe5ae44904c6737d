//! A reload never loosens security because a file was read mid-write (issue
//! 21, item 3), and a reload that widens access on purpose says so in the
//! security log.

use std::time::Duration;

use crate::common::{Setup, TestGateway, http_client_with_token, initialize_body, post, render};

fn bound_setup() -> Setup {
    Setup {
        jwt: "require_cert_binding = true".into(),
        mcp: "max_sessions_per_client = 100".into(),
        ..Setup::default()
    }
}

/// The status an unbound token gets on an initialize.
async fn unbound_status(gw: &TestGateway) -> u16 {
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-a")),
        Some(&gw.pki.token("agent-a")),
    );
    post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_written_config_never_loosens_and_a_widening_is_logged() {
    let gw = TestGateway::start_custom(|_, _, s| *s = bound_setup()).await;
    let config = gw.dir_path().join("gateway.toml");
    let full = render(&Setup {
        address: gw.gateway.local_addr.to_string(),
        ..bound_setup()
    });
    std::fs::write(&config, &full).unwrap();
    assert_eq!(unbound_status(&gw).await, 401);

    // The file as a writer caught mid-write leaves it: everything up to the
    // binding setting. It parses, and every missing key has a default.
    let cut = full.find("require_cert_binding").unwrap();
    std::fs::write(&config, &full[..cut]).unwrap();
    let problems = gw.gateway.reload(&config).unwrap_err().to_string();
    assert!(problems.contains("jwt.require_cert_binding"), "{problems}");
    assert!(problems.contains("missing from the file"), "{problems}");
    assert_eq!(unbound_status(&gw).await, 401);

    // The watcher meets the same file and leaves the settings in force.
    gw.gateway.watch_config(&config);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(unbound_status(&gw).await, 401);
    assert!(
        !gw.security_lines().iter().any(|l| l.starts_with("WIDEN")),
        "{:?}",
        gw.security_lines()
    );

    // Loosening on purpose, written out: applied, and one WIDEN line says what.
    let loose = full.replace(
        "require_cert_binding = true",
        "require_cert_binding = false",
    );
    let next = gw.dir_path().join("gateway.toml.new");
    std::fs::write(&next, &loose).unwrap();
    std::fs::rename(&next, &config).unwrap();
    let mut admitted = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if unbound_status(&gw).await == 200 {
            admitted = true;
            break;
        }
    }
    assert!(admitted, "the explicit change was not applied");
    gw.expect_security_line("WIDEN stage=reload keys=jwt.require_cert_binding")
        .await;
    let widen_lines = gw
        .security_lines()
        .iter()
        .filter(|l| l.starts_with("WIDEN"))
        .count();
    assert_eq!(widen_lines, 1);
}
