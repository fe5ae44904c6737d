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
    AUDIENCE, ISSUER, TestGateway, assert_succeeded, call_ok, http_client, http_client_with_token,
    initialize_body, open_session, post,
};
use crate::matrix::bent_claims::{good_claims, with};
use crate::matrix::tokens::raw_signed;

fn request(identity: &str) -> TokenRequest {
    TokenRequest::full_access(
        identity,
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(3600),
    )
}

fn signed(gw: &TestGateway, claims: &Value) -> String {
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

/// An RSA key as a JWK, and the token key to sign with it (RS256).
fn rsa_key(kid: &str) -> (Value, EncodingKey) {
    use x509_parser::prelude::FromDer;
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .unwrap();
    let spki_der = rcgen::PublicKeyData::subject_public_key_info(&pair);
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki_der).unwrap();
    let x509_parser::public_key::PublicKey::RSA(rsa) = spki.parsed().unwrap() else {
        panic!("not RSA")
    };
    let trim = |b: &[u8]| {
        b.iter()
            .skip_while(|x| **x == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    let jwk = json!({ "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(trim(rsa.modulus)), "e": URL_SAFE_NO_PAD.encode(trim(rsa.exponent)) });
    (
        jwk,
        EncodingKey::from_rsa_pem(pair.serialize_pem().as_bytes()).unwrap(),
    )
}

#[tokio::test]
async fn es256_and_rs256_keys_from_the_jwks_are_accepted_and_mismatches_refused() {
    let es_pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .unwrap()
        .serialize_pem();
    let es = load_signing_key(&es_pem).unwrap();
    let (rsa_jwk, rsa_key) = rsa_key("rsa-1");
    let es_jwk = es.jwk.clone();
    let gw = TestGateway::start_custom(move |dir, _, _| {
        // Keep the gateway's own Ed25519 key and add the two others.
        let path = dir.join("jwks.json");
        let mut set: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        set["keys"]
            .as_array_mut()
            .unwrap()
            .extend([es_jwk, rsa_jwk]);
        std::fs::write(&path, set.to_string()).unwrap();
    })
    .await;
    let cert = gw.client_cert("agent-a");
    let status = |token: String| {
        let client = http_client_with_token(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&token));
        let url = gw.url();
        async move {
            post(&client, &url, initialize_body("2025-11-25"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        status(sign(&good_claims(), &es).unwrap()).await,
        200,
        "ES256"
    );
    let mut rs_header = Header::new(jsonwebtoken::Algorithm::RS256);
    rs_header.kid = Some("rsa-1".into());
    assert_eq!(
        status(jsonwebtoken::encode(&rs_header, &good_claims(), &rsa_key).unwrap()).await,
        200,
        "RS256"
    );

    // An ES256 token naming the EdDSA key: refused before any signature check.
    let mut mismatched = Header::new(jsonwebtoken::Algorithm::ES256);
    mismatched.kid = Some(gw.pki.signer.kid.clone());
    assert_eq!(
        status(jsonwebtoken::encode(&mismatched, &good_claims(), &es.encoding).unwrap()).await,
        401
    );
    gw.expect_security_line_starting(
        "DENY stage=jwt reason=alg_key_mismatch ip=127.0.0.1 client=agent-a",
    )
    .await;
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
