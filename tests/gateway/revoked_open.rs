//! A certificate revoked while its connection is open stops working at once
//! (issue 21, item 7): before, the CRL was read only at the handshake, so a
//! kept-alive connection went on until its token expired (up to 24 h).

use rcgen::SerialNumber;

use mcp_gateway::cli::pki::Authority;

use crate::common::{http_client_with_token, initialize_body, post};
use crate::reload::{crl, gateway_with_crl};

#[tokio::test]
async fn a_crl_loaded_after_the_handshake_closes_the_open_connection() {
    let (gw, config) = gateway_with_crl().await;
    let mut params = Authority::client_params("agent-doomed").unwrap();
    params.serial_number = Some(SerialNumber::from(0xd1ceu64));
    let doomed = gw.pki.ca.sign(&params).unwrap();
    // One client: one kept-alive connection for every request below.
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&doomed),
        Some(&gw.pki.token("agent-doomed")),
    );
    let initialize = || post(&client, &gw.url(), initialize_body("2025-11-25")).send();
    assert_eq!(initialize().await.unwrap().status(), 200);
    assert_eq!(initialize().await.unwrap().status(), 200);

    std::fs::write(gw.dir_path().join("crl.pem"), crl(&gw.pki.ca, &[0xd1ce])).unwrap();
    assert_eq!(gw.gateway.reload(&config), Ok(Vec::new()));

    let refused = initialize().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body = refused.text().await.unwrap();
    assert!(body.contains("certificate_revoked"), "{body}");
    gw.expect_security_line(
        "DENY stage=tls reason=certificate_revoked ip=127.0.0.1 client=agent-doomed detail=\"revoked by a CRL loaded after the handshake\"",
    )
    .await;
    // That was the connection's last request; a new one fails its handshake.
    assert!(initialize().await.is_err());
    let allowed = gw
        .security_lines()
        .iter()
        .filter(|l| l.starts_with("ALLOW stage=tls ip=127.0.0.1 client=agent-doomed"))
        .count();
    assert_eq!(allowed, 1, "the requests did not share one connection");
}
