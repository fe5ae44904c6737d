//! Certificate revocation lists and key usage, with their documented outcomes:
//! a CRL past its nextUpdate fails closed (`crl_expired`, never ban-worthy: it
//! is the operator's to fix); a CRL of another issuer covers nothing, so the
//! status is unknown and the certificate refused (`revocation_status_unknown`);
//! behind an intermediate CA every level needs its CRL; a certificate without
//! the clientAuth usage is refused (`bad_key_usage`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_gateway::cli::pki::{Authority, Issued};
use rcgen::{CertificateRevocationListParams, KeyIdMethod, RevokedCertParams, SerialNumber};

use crate::common::{TestGateway, http_client_with_token, initialize_body, post};

/// A PEM CRL by `ca` revoking `serials`, whose nextUpdate is `next_in` from now
/// (negative: in the past).
pub fn crl(ca: &Authority, serials: &[u64], next_in_secs: i64) -> String {
    let now =
        rcgen::date_time_ymd(1970, 1, 1) + SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let next = if next_in_secs >= 0 {
        now + Duration::from_secs(next_in_secs as u64)
    } else {
        now - Duration::from_secs(next_in_secs.unsigned_abs())
    };
    CertificateRevocationListParams {
        this_update: next - Duration::from_secs(30 * 86_400),
        next_update: next,
        crl_number: SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: serials
            .iter()
            .map(|s| RevokedCertParams {
                serial_number: SerialNumber::from(*s),
                revocation_time: now - Duration::from_secs(60),
                reason_code: None,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(ca.issuer())
    .unwrap()
    .pem()
    .unwrap()
}

/// The status of an initialize with `cert`, or `Err` when the handshake failed.
async fn initialize_with(gw: &TestGateway, cert: &Issued, identity: &str) -> Result<u16, String> {
    let token = gw.pki.token(identity);
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(cert), Some(&token));
    post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| format!("{e:?}"))
}

/// Starts a gateway with the CRL files `make` writes (file name → PEM).
async fn gateway_with_crls(
    make: impl FnOnce(&Authority) -> Vec<(&'static str, String)>,
) -> TestGateway {
    TestGateway::start_with(|dir, ca| {
        let files = make(ca);
        let names: Vec<String> = files
            .iter()
            .map(|(name, pem)| {
                std::fs::write(dir.join(name), pem).unwrap();
                format!("\"{name}\"")
            })
            .collect();
        format!("crls = [{}]", names.join(", "))
    })
    .await
}

#[tokio::test]
async fn a_crl_past_its_next_update_fails_closed_and_is_not_ban_worthy() {
    let gw = gateway_with_crls(|ca| vec![("stale.pem", crl(ca, &[], -23 * 86_400))]).await;
    let cert = gw.client_cert("agent-a");
    assert!(initialize_with(&gw, &cert, "agent-a").await.is_err());
    gw.expect_security_line_starting(
        "REFUSE stage=tls reason=crl_expired ip=127.0.0.1 client=- detail=",
    )
    .await;
}

#[tokio::test]
async fn a_crl_of_another_issuer_leaves_the_status_unknown_and_refuses() {
    let other = Authority::generate("other CA").unwrap();
    let other_crl = crl(&other, &[], 86_400);
    let gw = gateway_with_crls(|_| vec![("other.pem", other_crl)]).await;
    let cert = gw.client_cert("agent-a");
    assert!(initialize_with(&gw, &cert, "agent-a").await.is_err());
    gw.expect_security_line_starting(
        "REFUSE stage=tls reason=revocation_status_unknown ip=127.0.0.1 client=- detail=",
    )
    .await;
}

/// A leaf certificate for `identity` issued by `intermediate`, with the
/// intermediate's certificate after it (the chain the client presents).
fn leaf_of(intermediate: &Authority, identity: &str, serial: u64) -> Issued {
    let mut params = Authority::client_params(identity).unwrap();
    params.serial_number = Some(SerialNumber::from(serial));
    let leaf = intermediate.sign(&params).unwrap();
    Issued {
        cert_pem: format!("{}{}", leaf.cert_pem, intermediate.issued.cert_pem),
        key_pem: leaf.key_pem,
    }
}

#[tokio::test]
async fn behind_an_intermediate_ca_every_level_needs_its_crl() {
    let intermediate = std::sync::Arc::new(std::sync::Mutex::new(None::<Authority>));
    let i = intermediate.clone();
    let gw = gateway_with_crls(move |ca| {
        let mid = ca.intermediate("issuing CA").unwrap();
        let files = vec![
            ("root.pem", crl(ca, &[], 86_400)),
            ("issuing.pem", crl(&mid, &[0xbad], 86_400)),
        ];
        *i.lock().unwrap() = Some(mid);
        files
    })
    .await;
    let mid = intermediate.lock().unwrap().take().unwrap();
    assert_eq!(
        initialize_with(&gw, &leaf_of(&mid, "agent-a", 0x600d), "agent-a").await,
        Ok(200)
    );
    assert!(
        initialize_with(&gw, &leaf_of(&mid, "agent-a", 0xbad), "agent-a")
            .await
            .is_err()
    );
    gw.expect_security_line_starting("DENY stage=tls reason=certificate_revoked ip=127.0.0.1")
        .await;

    // Only the root's CRL: the intermediate's revocations are unknown, so refused.
    let gw = gateway_with_crls(|ca| vec![("root.pem", crl(ca, &[], 86_400))]).await;
    let mid = gw.pki.ca.intermediate("issuing CA").unwrap();
    assert!(
        initialize_with(&gw, &leaf_of(&mid, "agent-a", 0x600d), "agent-a")
            .await
            .is_err()
    );
    gw.expect_security_line_starting(
        "REFUSE stage=tls reason=revocation_status_unknown ip=127.0.0.1",
    )
    .await;
}

#[tokio::test]
async fn a_certificate_with_no_extended_key_usage_is_refused() {
    let gw = TestGateway::start().await;
    let mut params = Authority::client_params("agent-a").unwrap();
    params.extended_key_usages = Vec::new();
    let no_eku = gw.pki.ca.sign(&params).unwrap();
    assert!(initialize_with(&gw, &no_eku, "agent-a").await.is_err());
    gw.expect_security_line_starting(
        "DENY stage=tls reason=bad_key_usage ip=127.0.0.1 client=- detail=",
    )
    .await;
}

#[test]
fn check_config_warns_of_an_expired_crl_and_of_one_about_to_expire() {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = crate::common::write_pki(dir.path());
    std::fs::write(
        dir.path().join("stale.pem"),
        crl(&pki.ca, &[], -23 * 86_400),
    )
    .unwrap();
    std::fs::write(dir.path().join("soon.pem"), crl(&pki.ca, &[], 2 * 86_400)).unwrap();
    std::fs::write(dir.path().join("fresh.pem"), crl(&pki.ca, &[], 30 * 86_400)).unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        crate::common::config_text(
            "127.0.0.1:0",
            "crls = [\"stale.pem\", \"soon.pem\", \"fresh.pem\"]",
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: tls.crls[0]: the CRL of CN=test CA expired at ")
            && stderr.contains("every certificate it covers is refused (crl_expired)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: tls.crls[1]: the CRL of CN=test CA expires at "),
        "{stderr}"
    );
    assert!(!stderr.contains("tls.crls[2]"), "{stderr}");
}
