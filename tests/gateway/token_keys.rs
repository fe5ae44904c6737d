//! Token signing keys and algorithms: HS256 only when enabled with a secret;
//! ES256 and RS256 keys from the JWKS accepted, and every mismatch between a
//! token's algorithm and its key refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use mcp_gateway::cli::token::sign;
use mcp_gateway::policy::token::keys::load_signing_key;
use serde_json::{Value, json};

use crate::common::{TestGateway, http_client_with_token, initialize_body, post};
use crate::matrix::bent_claims::good_claims;

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
