//! TLS session resumption: a returning client resumes from its session
//! ticket and keeps its identity; a reload (a new CRL) makes every earlier
//! ticket useless, so a certificate revoked since is refused at its next
//! handshake instead of resuming past the check.

use std::sync::Arc;

use rcgen::SerialNumber;

use mcp_gateway::cli::pki::Authority;

use crate::common::TestGateway;
use crate::reload::{crl, gateway_with_crl};

#[tokio::test]
async fn a_ticket_resumes_until_a_reload_and_never_past_a_revocation() {
    let (gw, config) = gateway_with_crl().await;
    let mut params = Authority::client_params("agent-a").unwrap();
    params.serial_number = Some(SerialNumber::from(0xa11cu64));
    let cert = gw.pki.ca.sign(&params).unwrap();
    let client = Arc::new(gw.client_tls_config(&cert, b"http/1.1"));
    let token = gw.pki.token("agent-a");
    let connect = || gw.tls_connect_with(None, b"", Arc::clone(&client));
    let resumed = |tls: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>| {
        tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    };

    let mut first = connect().await.unwrap();
    assert!(!resumed(&first));
    // The ticket arrives after the handshake; a request lets the client read it.
    assert_eq!(
        TestGateway::raw_initialize(&mut first, &token)
            .await
            .unwrap(),
        200
    );
    let mut second = connect().await.unwrap();
    assert!(resumed(&second), "the second connection resumes");
    assert_eq!(
        TestGateway::raw_initialize(&mut second, &token)
            .await
            .unwrap(),
        200,
        "the identity survives resumption (the token's clientId and binding match it)"
    );

    std::fs::write(gw.dir_path().join("crl.pem"), crl(&gw.pki.ca, &[0xa11c])).unwrap();
    assert_eq!(gw.gateway.reload(&config), Ok(Vec::new()));
    // In TLS 1.3 the client finishes before the server has judged its
    // certificate: the refusal shows on the first read.
    if let Ok(mut third) = connect().await {
        assert!(!resumed(&third), "the ticket is void after the reload");
        assert!(
            TestGateway::raw_initialize(&mut third, &token)
                .await
                .is_err()
        );
    }
    gw.expect_security_line_starting("DENY stage=tls reason=certificate_revoked ip=127.0.0.1")
        .await;
}

/// A resumed session skips certificate verification; the gateway checks the
/// certificate's expiry itself, so a ticket does not outlive its certificate.
#[tokio::test]
async fn a_ticket_does_not_outlive_its_certificate() {
    let (gw, _) = gateway_with_crl().await;
    let mut params = Authority::client_params("agent-brief").unwrap();
    // Valid from an hour ago (client_params) for three more seconds.
    params.not_after = params.not_before + std::time::Duration::from_secs(3600 + 3);
    let cert = gw.pki.ca.sign(&params).unwrap();
    let client = Arc::new(gw.client_tls_config(&cert, b"http/1.1"));
    let token = gw.pki.token("agent-brief");
    let mut first = gw
        .tls_connect_with(None, b"", Arc::clone(&client))
        .await
        .unwrap();
    assert_eq!(
        TestGateway::raw_initialize(&mut first, &token)
            .await
            .unwrap(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let mut late = gw.tls_connect_with(None, b"", client).await.unwrap();
    assert_eq!(
        late.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    assert!(
        TestGateway::raw_initialize(&mut late, &token)
            .await
            .is_err()
    );
    gw.expect_security_line(
        "DENY stage=tls reason=certificate_expired ip=127.0.0.1 client=agent-brief detail=\"session resumed after expiry\"",
    )
    .await;
}
