//! Bearer tokens, end to end: every way a token can be wrong gets 401 with the
//! MCP authorization challenge, one exact security line, and never reaches the
//! backend; a valid token passes. Plus bound tokens and required claims. (The
//! admission matrix's `tokens` family, `matrix/tokens.rs`, bends each part of
//! a token row by row.)
//! (Keys and algorithms: `token_keys`; revocation and remembered tokens:
//! `token_revocation`; Origin, protocol version and the protected-resource
//! metadata: `origin_metadata`.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{EncodingKey, Header};
use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use mcp_gateway::policy::token::keys::{generate_ed25519_pem, load_signing_key};
use serde_json::{Value, json};

use crate::common::{
    AUDIENCE, ISSUER, TestGateway, call_ok, http_client, http_client_with_token, initialize_body,
    open_session, post,
};
use crate::matrix::bent_claims::{good_claims, with};
use crate::matrix::tokens::raw_signed;

/// A full-access token request for `identity`, usable from 127.0.0.0/8.
fn request(identity: &str) -> TokenRequest {
    TokenRequest::full_access(
        identity,
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(3600),
    )
}

/// `claims` signed with the gateway's key.
pub fn signed(gw: &TestGateway, claims: &Value) -> String {
    sign(claims, &gw.pki.signer).unwrap()
}

/// A token signed by the gateway's key under a header of the test's choosing
/// (`crit`, `b64`: fields jsonwebtoken's own header cannot carry).
fn signed_with_header(gw: &TestGateway, mut header: Value, claims: &Value) -> String {
    header["kid"] = json!(gw.pki.signer.kid);
    raw_signed(gw, &header.to_string(), &claims.to_string())
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
    // The body says it too, as JSON, for clients that show only the body.
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(
        body["error"]["message"],
        format!("token refused: {reason}"),
        "{body}"
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
                renewable_for: None,
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
        // iat = i64::MIN: exp - iat must not wrap into a short lifetime.
        (
            Some(signed(&gw, &with(good_claims(), "iat", json!(i64::MIN)))),
            "lifetime_too_long",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "iat", json!(now - 30 * 3600)),
            )),
            "lifetime_too_long",
        ),
        (
            Some(signed_with_header(
                &gw,
                json!({ "alg": "EdDSA", "typ": "JWT", "crit": ["exp-policy"], "exp-policy": 1 }),
                &good_claims(),
            )),
            "token_malformed",
        ),
        (
            Some(signed_with_header(
                &gw,
                json!({ "alg": "EdDSA", "b64": false, "crit": ["b64"] }),
                &good_claims(),
            )),
            "token_malformed",
        ),
        (
            Some(signed_with_header(
                &gw,
                json!({ "alg": "EdDSA", "b64": false }),
                &good_claims(),
            )),
            "token_malformed",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "pad", json!("x".repeat(10_000))),
            )),
            "token_malformed",
        ),
        (
            Some(signed(&gw, &with(good_claims(), "cnf", json!({})))),
            "claims_invalid",
        ),
        (
            Some(signed(&gw, &with(good_claims(), "cnf", json!(null)))),
            "claims_invalid",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "cnf", json!({ "x5t#S256": null })),
            )),
            "claims_invalid",
        ),
        (
            Some(signed(
                &gw,
                &with(good_claims(), "cnf", json!({ "jkt": "abc" })),
            )),
            "claims_invalid",
        ),
        // Host bits set: 127.0.0.7/8 would silently mean all of 127.0.0.0/8.
        (
            Some(signed(
                &gw,
                &with(good_claims(), "allowedIPs", json!(["127.0.0.7/8"])),
            )),
            "claims_invalid",
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
    // Replaced by rename, as documented; picked up within a second.
    let next = gw.dir_path().join("revoked.txt.new");
    std::fs::write(&next, "revoked-jti-1\nrevoked-later\n").unwrap();
    std::fs::rename(&next, gw.dir_path().join("revoked.txt")).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    expect_refused(&gw, &session, Some(&late), "token_revoked").await;
    // An unreadable list refuses every token (the gateway's fault: REFUSE, no ban).
    std::fs::remove_file(gw.dir_path().join("revoked.txt")).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let status = post(&good, &gw.url(), ping)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    gw.expect_security_line(
        "REFUSE stage=jwt reason=revocations_unavailable ip=127.0.0.1 client=agent-a",
    )
    .await;
    std::fs::write(gw.dir_path().join("revoked.txt"), "revoked-jti-1\n").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;

    // Two Authorization headers, even both valid: refused.
    let good_token = gw.pki.token("agent-a");
    let doubled = post(
        &http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert("agent-a"))),
        &gw.url(),
        CREATE,
    )
    .header("authorization", format!("Bearer {good_token}"))
    .header("authorization", format!("Bearer {good_token}"))
    .send()
    .await
    .unwrap();
    assert_eq!(doubled.status(), 401);
    gw.expect_security_line("DENY stage=jwt reason=token_malformed ip=127.0.0.1 client=agent-a detail=\"more than one Authorization header\"")
        .await;

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
        renewable_for: None,
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
async fn required_claims_and_iat_in_the_future() {
    let gw = TestGateway::start().await;
    let session_client = gw.http(Some(&gw.client_cert("agent-a")));
    let session = open_session(&session_client, &gw.url()).await;
    let now = Utc::now().timestamp();
    let without = |key: &str| {
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove(key);
        signed(&gw, &claims)
    };
    // Within jwt.leeway (30 s by default) a just-expired token still passes.
    let just_expired = signed(
        &gw,
        &with(
            with(good_claims(), "iat", json!(now - 600)),
            "exp",
            json!(now - 10),
        ),
    );
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-a")),
        Some(&just_expired),
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
    for (token, reason) in [
        (without("exp"), "claims_invalid"),
        (without("aud"), "claims_invalid"),
        (without("iss"), "claims_invalid"),
        (without("iat"), "claims_invalid"),
        (without("jti"), "claims_invalid"),
        (without("clientId"), "claims_invalid"),
        (
            signed(&gw, &with(good_claims(), "iat", json!(now + 3600))),
            "token_not_yet_valid",
        ),
    ] {
        expect_refused(&gw, &session, Some(&token), reason).await;
    }
}
