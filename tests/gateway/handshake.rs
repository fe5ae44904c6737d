//! Handshakes that must be refused, and proof that nothing reached the tools.

use mcp_gateway::cli::pki::{Authority, Issued};
use rcgen::{ExtendedKeyUsagePurpose, SerialNumber};
use serde_json::json;

use crate::common::{TestGateway, call_ok, crl_revoking, http_client, initialize_body, post};

const REVOKED_SERIAL: u64 = 0x5eed_0bad;

/// Starts a gateway whose CRL revokes serial `REVOKED_SERIAL`.
async fn gateway_with_crl() -> TestGateway {
    TestGateway::start_with(|dir, ca| {
        std::fs::write(dir.join("crl.pem"), crl_revoking(ca, REVOKED_SERIAL)).unwrap();
        "crls = [\"crl.pem\"]".to_owned()
    })
    .await
}

/// Tries a full MCP initialize with `cert`; returns the error text when refused.
async fn initialize_with(gw: &TestGateway, cert: Option<&Issued>) -> Result<u16, String> {
    // A token the gateway would accept, so only the certificate decides.
    let token = gw.pki.token("agent-a");
    let client =
        crate::common::http_client_with_token(&gw.pki.ca.issued.cert_pem, cert, Some(&token));
    match post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
    {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(format!("{e:?}")),
    }
}

/// A create_event attempt with `cert`, which must never reach the store.
async fn try_create(gw: &TestGateway, cert: Option<&Issued>) {
    let client = http_client(&gw.pki.ca.issued.cert_pem, cert);
    let body = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_event","arguments":{
        "summary":"intruder","start":{"dateTime":"2030-01-01T10:00:00Z"},"end":{"dateTime":"2030-01-01T11:00:00Z"}}}});
    let outcome = post(&client, &gw.url(), body.to_string()).send().await;
    assert!(
        outcome.is_err(),
        "a refused certificate got an HTTP answer: {outcome:?}"
    );
}

async fn assert_store_untouched(gw: &TestGateway) {
    let client = gw.mcp("auditor").await;
    let listed = call_ok(
        &client,
        "list_events",
        json!({ "timeMin": "2029-01-01T00:00:00Z", "timeMax": "2031-01-01T00:00:00Z" }),
    )
    .await;
    assert!(
        listed["items"].as_array().unwrap().is_empty(),
        "a refused client reached the tools: {listed}"
    );
}

#[tokio::test]
async fn good_certificate_is_accepted() {
    let gw = gateway_with_crl().await;
    assert_eq!(
        initialize_with(&gw, Some(&gw.client_cert("agent-a"))).await,
        Ok(200)
    );
}

#[tokio::test]
async fn no_certificate_is_refused() {
    let gw = TestGateway::start().await;
    let err = initialize_with(&gw, None).await.unwrap_err();
    assert!(
        err.contains("CertificateRequired")
            || err.contains("HandshakeFailure")
            || err.contains("connection"),
        "{err}"
    );
    try_create(&gw, None).await;
    gw.expect_security_line_starting(
        "DENY stage=tls reason=no_certificate ip=127.0.0.1 client=- detail=",
    )
    .await;
    assert_store_untouched(&gw).await;
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    let gw = TestGateway::start().await;
    let stranger = Authority::generate("other CA")
        .unwrap()
        .issue_client("agent-a")
        .unwrap();
    let err = initialize_with(&gw, Some(&stranger)).await.unwrap_err();
    assert!(
        err.contains("UnknownCA") || err.contains("BadCertificate") || err.contains("connection"),
        "{err}"
    );
    try_create(&gw, Some(&stranger)).await;
    gw.expect_security_line_starting(
        "DENY stage=tls reason=unknown_ca ip=127.0.0.1 client=- detail=",
    )
    .await;
    assert_store_untouched(&gw).await;
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let gw = TestGateway::start().await;
    let mut params = Authority::client_params("agent-a").unwrap();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = gw.pki.ca.sign(&params).unwrap();
    let err = initialize_with(&gw, Some(&expired)).await.unwrap_err();
    assert!(
        err.contains("CertificateExpired") || err.contains("connection"),
        "{err}"
    );
    try_create(&gw, Some(&expired)).await;
    gw.expect_security_line_starting(
        "DENY stage=tls reason=certificate_expired ip=127.0.0.1 client=- detail=",
    )
    .await;
    assert_store_untouched(&gw).await;
}

#[tokio::test]
async fn revoked_certificate_is_refused() {
    let gw = gateway_with_crl().await;
    let mut params = Authority::client_params("agent-a").unwrap();
    params.serial_number = Some(SerialNumber::from(REVOKED_SERIAL));
    let revoked = gw.pki.ca.sign(&params).unwrap();
    let err = initialize_with(&gw, Some(&revoked)).await.unwrap_err();
    assert!(
        err.contains("CertificateRevoked") || err.contains("connection"),
        "{err}"
    );
    try_create(&gw, Some(&revoked)).await;
    gw.expect_security_line_starting(
        "DENY stage=tls reason=certificate_revoked ip=127.0.0.1 client=- detail=",
    )
    .await;
    assert_store_untouched(&gw).await;
}

#[tokio::test]
async fn certificate_without_client_auth_usage_is_refused() {
    let gw = TestGateway::start().await;
    let mut params = Authority::client_params("agent-a").unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_only = gw.pki.ca.sign(&params).unwrap();
    let err = initialize_with(&gw, Some(&server_only)).await.unwrap_err();
    assert!(err.contains("UnsupportedCertificate"), "{err}");
    try_create(&gw, Some(&server_only)).await;
    gw.expect_security_line_starting(
        "DENY stage=tls reason=bad_key_usage ip=127.0.0.1 client=- detail=",
    )
    .await;
    assert_store_untouched(&gw).await;
}

/// A TLS 1.2-only handshake with a good certificate.
async fn tls12_handshake(gw: &TestGateway) -> std::io::Result<()> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let cert = gw.client_cert("agent-a");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(gw.pki.ca.issued.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap(),
        )
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(gw.gateway.local_addr).await?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn tls12_only_when_configured() {
    let gw = TestGateway::start().await;
    assert!(
        tls12_handshake(&gw).await.is_err(),
        "TLS 1.2 must be refused by default"
    );
    gw.expect_security_line_starting(
        "DENY stage=tls reason=handshake_failed ip=127.0.0.1 client=-",
    )
    .await;
    let allowing = TestGateway::start_with(|_, _| "min_version = \"1.2\"".into()).await;
    tls12_handshake(&allowing)
        .await
        .expect("TLS 1.2 accepted with tls.min_version = \"1.2\"");
}
