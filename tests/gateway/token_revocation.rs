//! Tokens that stop being good while the gateway runs: a `jti` revoked with
//! `mcp-gateway token revoke` is refused at once, and a token whose signature
//! was verified once is still checked on every request (address, certificate,
//! expiry).

use chrono::Utc;
use serde_json::json;

use crate::common::{TestGateway, assert_succeeded, http_client_with_token, initialize_body, post};
use crate::matrix::bent_claims::{good_claims, with};
use crate::tokens::signed;

#[tokio::test]
async fn token_revoke_takes_effect_on_a_running_gateway() {
    let gw = TestGateway::start_custom(|dir, _, s| {
        std::fs::write(dir.join("revoked.txt"), "").unwrap();
        s.jwt = "revocations = \"revoked.txt\"".into();
    })
    .await;
    let token = signed(&gw, &with(good_claims(), "jti", json!("to-revoke-1")));
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-a")),
        Some(&token),
    );
    let initialize = || post(&client, &gw.url(), initialize_body("2025-11-25")).send();
    assert_eq!(initialize().await.unwrap().status(), 200);
    // The same config on disk, as an operator's would be.
    let config = gw.dir_path().join("gateway.toml");
    std::fs::write(
        &config,
        crate::common::render(&crate::common::Setup {
            jwt: "revocations = \"revoked.txt\"".into(),
            ..crate::common::Setup::default()
        }),
    )
    .unwrap();
    let revoke = |jti: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args(["token", "revoke", "--config"])
            .arg(&config)
            .args(["--jti", jti])
            .output()
            .unwrap()
    };
    let out = revoke("to-revoke-1");
    assert_succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("to-revoke-1: revoked"));
    assert!(String::from_utf8_lossy(&revoke("to-revoke-1").stdout).contains("already revoked"));
    assert_eq!(revoke("bad\nid").status.code(), Some(2));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(initialize().await.unwrap().status(), 401);
    gw.expect_security_line(
        "DENY stage=jwt reason=token_revoked ip=127.0.0.1 client=agent-a detail=to-revoke-1",
    )
    .await;
}

/// A token whose signature was verified once is remembered (admission::
/// token_cache), yet every later request is still checked against its own
/// connection and clock: another address, another certificate, expiry.
/// (Revocation and key removal after a token was remembered are covered by
/// `token_revoke_takes_effect_on_a_running_gateway` and the key rotation test.)
#[tokio::test]
async fn a_remembered_token_is_still_checked_on_every_request() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.jwt = "leeway = \"1s\"".into();
    })
    .await;
    let now = Utc::now().timestamp();
    let claims = with(
        with(good_claims(), "allowedIPs", json!(["127.0.0.1/32"])),
        "exp",
        json!(now + 3),
    );
    let token = signed(&gw, &with(claims, "iat", json!(now)));
    let from = |source: &str, identity: &str| {
        let cert = gw.client_cert(identity);
        let token = token.clone();
        let source = source.parse().unwrap();
        let gw = &gw;
        async move {
            let mut tls = gw
                .tls_connect_from(Some(source), b"", &cert, b"http/1.1")
                .await
                .unwrap();
            TestGateway::raw_initialize(&mut tls, &token).await.unwrap()
        }
    };
    assert_eq!(from("127.0.0.1", "agent-a").await, 200);
    assert_eq!(from("127.0.0.1", "agent-a").await, 200, "served again");
    assert_eq!(from("127.0.0.5", "agent-a").await, 401);
    gw.expect_security_line("DENY stage=jwt reason=ip_not_in_token ip=127.0.0.5 client=agent-a")
        .await;
    assert_eq!(from("127.0.0.1", "agent-b").await, 401);
    gw.expect_security_line(
        "DENY stage=jwt reason=client_mismatch ip=127.0.0.1 client=agent-b detail=agent-a",
    )
    .await;
    // exp + leeway (1 s) passes at now + 4.
    let past_expiry = (now + 5 - Utc::now().timestamp()).max(0) as u64;
    tokio::time::sleep(std::time::Duration::from_secs(past_expiry + 1)).await;
    assert_eq!(from("127.0.0.1", "agent-a").await, 401);
    gw.expect_security_line("DENY stage=jwt reason=token_expired ip=127.0.0.1 client=agent-a")
        .await;
}
