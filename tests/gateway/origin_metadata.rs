//! Before any token: the Origin check (DNS rebinding), an unsupported
//! `MCP-Protocol-Version`, and the protected-resource metadata document that
//! tells clients where to get tokens and that they are certificate-bound.

use serde_json::{Value, json};

use crate::common::{AUDIENCE, TestGateway, http_client, initialize_body, open_session, post};

#[tokio::test]
async fn origin_protocol_version_and_metadata() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.mcp = "allowed_origins = [\"https://app.example\"]\nauthorization_servers = [\"https://auth.example\"]".into()
    })
    .await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let listed = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "an allowed origin passes");
    let foreign = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    gw.expect_security_line("REFUSE stage=origin reason=origin_not_allowed ip=127.0.0.1 client=agent-a detail=https://evil.example").await;

    let session = open_session(&client, &gw.url()).await;
    let unsupported = post(
        &client,
        &gw.url(),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
    )
    .header("mcp-session-id", &session)
    .header("mcp-protocol-version", "1999-01-01")
    .send()
    .await
    .unwrap();
    assert_eq!(unsupported.status(), 400);

    let bare = http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert("agent-a")));
    let metadata = bare
        .get(format!(
            "https://127.0.0.1:{}/.well-known/oauth-protected-resource",
            gw.gateway.local_addr.port()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), 200);
    let document: Value = metadata.json().await.unwrap();
    assert_eq!(document["resource"], AUDIENCE);
    assert_eq!(
        document["authorization_servers"],
        json!(["https://auth.example"])
    );
    assert_eq!(document["tls_client_certificate_bound_access_tokens"], true);
}
