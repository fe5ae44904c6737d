//! The token matrix: every way a bearer token can be wrong gets 401 with the
//! MCP authorization challenge, one exact security line, and never reaches the
//! backend; a valid token passes. Plus the Origin check, the protocol-version
//! check and the protected-resource metadata.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header};
use mcp_gateway::cli::keys::{generate_ed25519_pem, load_signing_key};
use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use serde_json::{Value, json};

use crate::common::{
    AUDIENCE, ISSUER, TestGateway, call_ok, http_client, http_client_with_token, initialize_body,
    open_session, post,
};

fn request(identity: &str) -> TokenRequest {
    TokenRequest::full_access(
        identity,
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(3600),
    )
}

/// Valid claims for agent-a, to be spoiled one field at a time.
fn good_claims() -> Value {
    claims(&request("agent-a"), ISSUER, AUDIENCE).unwrap()
}

fn signed(gw: &TestGateway, claims: &Value) -> String {
    sign(claims, &gw.pki.signer).unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

const CREATE: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_event","arguments":{"summary":"smuggled","start":{"dateTime":"2030-01-01T10:00:00Z"},"end":{"dateTime":"2030-01-01T11:00:00Z"}}}}"#;

/// Sends create_event in `session` with `token`; asserts the 401 challenge and the security line.
async fn expect_refused(gw: &TestGateway, session: &str, token: Option<&str>, reason: &str) {
    let cert = gw.client_cert("agent-a");
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), token);
    let response = post(&client, &gw.url(), CREATE)
        .header("mcp-session-id", session)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "{reason}");
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\""),
        "{challenge}"
    );
    assert!(
        challenge.contains(
            "resource_metadata=\"https://gateway.test/.well-known/oauth-protected-resource\""
        ),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!("error_description=\"{reason}\"")),
        "{challenge}"
    );
    let line = format!("DENY stage=jwt reason={reason} ip=127.0.0.1 client=agent-a");
    let found = gw.expect_security_line_starting(&line).await;
    assert!(
        found == line || found.starts_with(&format!("{line} detail=")),
        "{found}"
    );
}

#[tokio::test]
async fn every_bad_token_is_refused_and_nothing_reaches_the_backend() {
    let gw = TestGateway::start_custom(|dir, _, s| {
        std::fs::write(dir.join("revoked.txt"), "# revoked tokens\nrevoked-jti-1\n").unwrap();
        s.jwt = "revocations = \"revoked.txt\"".into();
    })
    .await;
    let good = gw.http(Some(&gw.client_cert("agent-a")));
    let session = open_session(&good, &gw.url()).await;
    let now = Utc::now().timestamp();
    let other_key = load_signing_key(&generate_ed25519_pem().unwrap()).unwrap();
    let forged = {
        let mut header = Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(gw.pki.signer.kid.clone());
        jsonwebtoken::encode(&header, &good_claims(), &other_key.encoding).unwrap()
    };
    let hs256 = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &good_claims(),
        &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
    )
    .unwrap();
    let other_cert = gw.client_cert("agent-a");
    let bound_elsewhere = sign(
        &claims(
            &TokenRequest {
                bind_cert_pem: Some(other_cert.cert_pem.clone()),
                ..request("agent-a")
            },
            ISSUER,
            AUDIENCE,
        )
        .unwrap(),
        &gw.pki.signer,
    )
    .unwrap();
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "token_missing"),
        (Some("not-a-jwt".into()), "token_malformed"),
        (
            Some(signed(
                &gw,
                &with(
                    with(good_claims(), "iat", json!(now - 7200)),
                    "exp",
                    json!(now - 3600),
                ),
            )),
            "token_expired",
        ),
        (
            Some(signed(&gw, &with(good_claims(), "nbf", json!(now + 3600)))),
            "token_not_yet_valid",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "exp", json!(now + 25 * 3600)),
            )),
            "lifetime_too_long",
        ),
        (Some(forged), "bad_signature"),
        (Some(unsigned_token(&good_claims())), "alg_not_allowed"),
        (Some(hs256), "alg_not_allowed"),
        (
            Some(sign(&good_claims(), &other_key).unwrap()),
            "unknown_kid",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "aud", json!("https://elsewhere/mcp")),
            )),
            "wrong_audience",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "iss", json!("someone-else")),
            )),
            "wrong_issuer",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "clientId", json!("agent-b")),
            )),
            "client_mismatch",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "allowedIPs", json!(["10.0.0.0/8"])),
            )),
            "ip_not_in_token",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "jti", json!("revoked-jti-1")),
            )),
            "token_revoked",
        ),
        (Some(bound_elsewhere), "cert_binding_mismatch"),
        (
            Some(signed(
                &gw,
                &with(
                    good_claims(),
                    "permissions",
                    json!(["readCalendars", "rootAccess"]),
                ),
            )),
            "claims_invalid",
        ),
    ];
    for (token, reason) in &cases {
        expect_refused(&gw, &session, token.as_deref(), reason).await;
    }
    // A jti revoked while the gateway runs is refused from the next request on.
    let late = signed(&gw, &with(good_claims(), "jti", json!("revoked-later")));
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-a")),
        Some(&late),
    );
    let ping = r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#;
    assert_eq!(
        post(&client, &gw.url(), ping)
            .header("mcp-session-id", &session)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    std::fs::write(
        gw.dir_path().join("revoked.txt"),
        "revoked-jti-1\nrevoked-later\n",
    )
    .unwrap();
    expect_refused(&gw, &session, Some(&late), "token_revoked").await;

    // None of the refused create_event calls reached the store.
    let mcp = gw.mcp("agent-a").await;
    let listed = call_ok(
        &mcp,
        "list_events",
        json!({ "timeMin": "2029-01-01T00:00:00Z", "timeMax": "2031-01-01T00:00:00Z" }),
    )
    .await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    // And the token itself is never logged.
    let log = std::fs::read_to_string(gw.dir_path().join("security.log")).unwrap();
    assert!(
        !log.contains(&late) && !log.contains("eyJ"),
        "a token leaked into the security log"
    );
}

#[tokio::test]
async fn bound_tokens_and_required_binding() {
    let gw =
        TestGateway::start_custom(|_, _, s| s.jwt = "require_cert_binding = true".into()).await;
    let cert = gw.client_cert("agent-a");
    let unbound = gw.pki.token("agent-a");
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&unbound));
    let response = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    gw.expect_security_line(
        "DENY stage=jwt reason=cert_binding_missing ip=127.0.0.1 client=agent-a",
    )
    .await;
    let bound = gw.pki.token_with(&TokenRequest {
        bind_cert_pem: Some(cert.cert_pem.clone()),
        ..request("agent-a")
    });
    let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&bound));
    let response = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a token bound to the presented certificate passes"
    );
}

#[tokio::test]
async fn hs256_works_only_when_enabled_with_a_secret() {
    let secret = b"a-shared-secret-of-at-least-32-bytes!";
    let gw = TestGateway::start_custom(|dir, _, s| {
        std::fs::write(dir.join("hs.secret"), secret).unwrap();
        s.jwt = "algorithms = [\"EdDSA\", \"HS256\"]\nhs256_secret_file = \"hs.secret\"".into();
    })
    .await;
    let token = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &good_claims(),
        &EncodingKey::from_secret(secret),
    )
    .unwrap();
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-a")),
        Some(&token),
    );
    assert_eq!(
        post(&client, &gw.url(), initialize_body("2025-11-25"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn origin_protocol_version_and_metadata() {
    let gw = TestGateway::start_custom(|_, _, s| s.tables = String::new()).await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let foreign = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    gw.expect_security_line("DENY stage=origin reason=origin_not_allowed ip=127.0.0.1 client=agent-a detail=https://evil.example").await;

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
    assert_eq!(document["tls_client_certificate_bound_access_tokens"], true);
}
