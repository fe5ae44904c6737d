//! Matrix rows for the bearer token: its header, its algorithm and key id,
//! every claim missing or bent, its signature. A refused token is 401 with
//! one ban-worthy `DENY stage=jwt` line; the control rows pass with no line.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{EncodingKey, Header};
use mcp_gateway::cli::token::sign;
use mcp_gateway::policy::token::keys::{generate_ed25519_pem, load_signing_key};
use serde_json::{Value, json};

use super::bent_claims::{CLIENT, bent_claims, good_claims};
use super::ledger::{Ledger, Line, Seen};
use super::{post_stateless, tool_call};
use crate::common::{TestGateway, http_client};

/// A token whose header and payload are exactly these texts, signed (EdDSA)
/// by the gateway's own key: only the text is wrong.
pub fn raw_signed(gw: &TestGateway, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &gw.pki.signer.encoding,
        jsonwebtoken::Algorithm::EdDSA,
    )
    .unwrap();
    format!("{input}.{signature}")
}

fn header_with(gw: &TestGateway, fields: Value) -> String {
    let mut header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": gw.pki.signer.kid });
    for (key, value) in fields.as_object().unwrap() {
        header[key] = value.clone();
    }
    header.to_string()
}

/// A token with the gateway's usual header over `claims`.
fn signed(gw: &TestGateway, claims: &Value) -> String {
    sign(claims, &gw.pki.signer).unwrap()
}

/// The rows whose token is refused, each with the reason it must be refused for.
fn refused_tokens(gw: &TestGateway) -> Vec<(String, String, &'static str)> {
    let good = good_claims();
    let good_text = good.to_string();
    let mut rows: Vec<(String, String, &'static str)> = Vec::new();
    let mut add = |name: &str, token: String, reason: &'static str| {
        rows.push((name.to_owned(), token, reason));
    };

    // Algorithms and keys.
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let unsigned = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(&good_text));
        add(
            &format!("alg {alg:?}, no signature"),
            unsigned,
            "alg_not_allowed",
        );
    }
    // The classic confusion: the public key (its JWK `x`, and the JWKS text)
    // used as an HMAC secret.
    let public_x = gw.pki.signer.jwk["x"].as_str().unwrap().to_owned();
    let jwks_text = json!({ "keys": [gw.pki.signer.jwk] }).to_string();
    for (alg, name) in [
        (jsonwebtoken::Algorithm::HS256, "HS256"),
        (jsonwebtoken::Algorithm::HS384, "HS384"),
        (jsonwebtoken::Algorithm::HS512, "HS512"),
    ] {
        for (secret_name, secret) in [("public key", &public_x), ("JWKS text", &jwks_text)] {
            let mut header = Header::new(alg);
            header.kid = Some(gw.pki.signer.kid.clone());
            let token =
                jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(secret.as_bytes()))
                    .unwrap();
            add(
                &format!("{name} keyed with the {secret_name}"),
                token,
                "alg_not_allowed",
            );
        }
    }
    for alg in ["PS256", "ES384", "ES256K", "EdDSA25519"] {
        add(
            &format!("header alg {alg} over an EdDSA signature"),
            raw_signed(gw, &header_with(gw, json!({ "alg": alg })), &good_text),
            "alg_not_allowed",
        );
    }
    // Algorithms the gateway accepts, named over a key of another kind.
    for alg in ["ES256", "RS256"] {
        add(
            &format!("header alg {alg} over an EdDSA key"),
            raw_signed(gw, &header_with(gw, json!({ "alg": alg })), &good_text),
            "alg_key_mismatch",
        );
    }
    let other_key = load_signing_key(&generate_ed25519_pem().unwrap()).unwrap();
    add(
        "another key's kid",
        sign(&good, &other_key).unwrap(),
        "unknown_kid",
    );
    let mut forged_header = Header::new(jsonwebtoken::Algorithm::EdDSA);
    forged_header.kid = Some(gw.pki.signer.kid.clone());
    add(
        "our kid, another key's signature",
        jsonwebtoken::encode(&forged_header, &good, &other_key.encoding).unwrap(),
        "bad_signature",
    );
    for (name, kid) in [
        ("kid path traversal", json!("../../../../etc/passwd")),
        ("kid SQL", json!("x' OR '1'='1")),
        ("kid empty", json!("")),
        (
            "kid with a newline",
            json!("a\nDENY stage=jwt reason=forged ip=10.9.9.9 client=x"),
        ),
    ] {
        add(
            name,
            raw_signed(gw, &header_with(gw, json!({ "kid": kid })), &good_text),
            "unknown_kid",
        );
    }
    for (name, kid) in [("kid a number", json!(7)), ("kid an object", json!({}))] {
        add(
            name,
            raw_signed(gw, &header_with(gw, json!({ "kid": kid })), &good_text),
            "token_malformed",
        );
    }
    add(
        "crit names an extension",
        raw_signed(
            gw,
            &header_with(gw, json!({ "crit": ["exp-policy"], "exp-policy": 1 })),
            &good_text,
        ),
        "token_malformed",
    );
    add(
        "b64 false",
        raw_signed(
            gw,
            &header_with(gw, json!({ "b64": false, "crit": ["b64"] })),
            &good_text,
        ),
        "token_malformed",
    );
    add(
        "kid 10 KB (the token is over its size cap)",
        raw_signed(
            gw,
            &header_with(gw, json!({ "kid": "k".repeat(10_000) })),
            &good_text,
        ),
        "token_malformed",
    );

    for (name, claims, reason) in bent_claims() {
        add(&name, signed(gw, &claims), reason);
    }

    // The text of the token itself.
    let token = signed(gw, &good);
    let (head, signature) = token.rsplit_once('.').unwrap();
    let mut flipped = signature.to_owned().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let duplicate = good_text.replacen('{', r#"{"clientId":"agent-b","#, 1);
    for (name, token, reason) in [
        (
            "signature flipped",
            format!("{head}.{}", String::from_utf8(flipped).unwrap()),
            "bad_signature",
        ),
        (
            "signature cut short",
            format!("{head}.{}", &signature[..20]),
            "bad_signature",
        ),
        ("signature empty", format!("{head}."), "bad_signature"),
        ("two segments", head.to_owned(), "token_malformed"),
        ("four segments", format!("{token}.AAAA"), "token_malformed"),
        (
            "standard base64 with padding",
            STANDARD.encode(token.as_bytes()),
            "token_malformed",
        ),
        ("not a JWT", "not-a-jwt".to_owned(), "token_malformed"),
        (
            "header not JSON",
            raw_signed(gw, "alg=EdDSA", &good_text),
            "token_malformed",
        ),
        (
            "payload not JSON",
            raw_signed(gw, &header_with(gw, json!({})), "clientId=agent-a"),
            "claims_invalid",
        ),
        (
            "payload a JSON list",
            raw_signed(gw, &header_with(gw, json!({})), "[1,2]"),
            "claims_invalid",
        ),
        (
            "a claim given twice",
            raw_signed(gw, &header_with(gw, json!({})), &duplicate),
            "claims_invalid",
        ),
    ] {
        add(name, token, reason);
    }
    rows
}

#[tokio::test]
async fn every_bent_token_is_refused_once_and_ban_worthy() {
    let gw = TestGateway::start_custom(|dir, _, s| {
        std::fs::write(dir.join("revoked.txt"), "revoked-jti-1\n").unwrap();
        s.jwt = "revocations = \"revoked.txt\"".into();
    })
    .await;
    let client = http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert(CLIENT)));
    let body = tool_call(&json!("get_current_time"), json!({}));
    let mut ledger = Ledger::new("tokens", &gw);
    let good = gw.pki.token(CLIENT);
    let deny =
        |reason: &str| format!("DENY stage=jwt reason={reason} ip=127.0.0.1 client={CLIENT}");

    let seen = post_stateless(&gw, &client, &[format!("Bearer {good}")], &body).await;
    ledger
        .row(&gw, "control: a good token", seen, Seen::Ok, Line::None)
        .await;

    // The Authorization header itself.
    let header_rows: Vec<(&str, Vec<String>, &str)> = vec![
        ("no Authorization header", vec![], "token_missing"),
        ("Bearer and nothing", vec!["Bearer".into()], "token_missing"),
        (
            "Bearer and a space",
            vec!["Bearer ".into()],
            "token_missing",
        ),
        (
            "Basic credentials",
            vec!["Basic YWdlbnQtYTpzZWNyZXQ=".into()],
            "token_missing",
        ),
        (
            "Bearer<TAB>token",
            vec![format!("Bearer\t{good}")],
            "token_missing",
        ),
        (
            "a word after the token",
            vec![format!("Bearer {good} extra")],
            "token_malformed",
        ),
        (
            "two Authorization headers",
            vec![format!("Bearer {good}"), format!("Bearer {good}")],
            "token_malformed",
        ),
        (
            "a good and a bad header",
            vec![format!("Bearer {good}"), "Bearer x".into()],
            "token_malformed",
        ),
    ];
    for (name, values, reason) in header_rows {
        let seen = post_stateless(&gw, &client, &values, &body).await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::Status(401),
                Line::Deny(&deny(reason)),
            )
            .await;
    }
    // A token anywhere but the header does not count.
    let in_query = client
        .post(format!("{}?access_token={good}", gw.url()))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", super::VERSION)
        .body(body.to_string())
        .send()
        .await;
    ledger
        .row(
            &gw,
            "token in the query",
            super::seen(in_query).await,
            Seen::Status(401),
            Line::Deny(&deny("token_missing")),
        )
        .await;
    let mut in_body = body.clone();
    in_body["params"]["_meta"]["authorization"] = json!(format!("Bearer {good}"));
    let seen = post_stateless(&gw, &client, &[], &in_body).await;
    ledger
        .row(
            &gw,
            "token in _meta",
            seen,
            Seen::Status(401),
            Line::Deny(&deny("token_missing")),
        )
        .await;
    // RFC 6750 allows any case for the scheme and several spaces after it.
    let lower = post_stateless(&gw, &client, &[format!("bearer {good}")], &body).await;
    ledger
        .row(
            &gw,
            "control: scheme in lower case",
            lower,
            Seen::Ok,
            Line::None,
        )
        .await;
    let spaced = post_stateless(&gw, &client, &[format!("Bearer  {good}")], &body).await;
    ledger
        .row(
            &gw,
            "control: two spaces after Bearer",
            spaced,
            Seen::Ok,
            Line::None,
        )
        .await;
    // Header fields that point at other keys are ignored: the gateway's key
    // set alone decides, and this token is signed by it.
    for (name, field) in [
        (
            "jku pointing elsewhere",
            json!({ "jku": "https://evil.test/jwks" }),
        ),
        (
            "an embedded jwk",
            json!({ "jwk": { "kty": "OKP", "crv": "Ed25519", "x": "AA" } }),
        ),
        (
            "x5u pointing elsewhere",
            json!({ "x5u": "https://evil.test/cert" }),
        ),
    ] {
        let token = raw_signed(&gw, &header_with(&gw, field), &good_claims().to_string());
        let seen = post_stateless(&gw, &client, &[format!("Bearer {token}")], &body).await;
        ledger
            .row(
                &gw,
                &format!("control: {name} is ignored"),
                seen,
                Seen::Ok,
                Line::None,
            )
            .await;
    }

    for (name, token, reason) in refused_tokens(&gw) {
        let seen = post_stateless(&gw, &client, &[format!("Bearer {token}")], &body).await;
        ledger
            .row(
                &gw,
                &name,
                seen,
                Seen::Status(401),
                Line::Deny(&deny(reason)),
            )
            .await;
    }
    let seen = post_stateless(&gw, &client, &[format!("Bearer {good}")], &body).await;
    ledger
        .row(
            &gw,
            "control: the good token still passes",
            seen,
            Seen::Ok,
            Line::None,
        )
        .await;
    ledger.finish(&gw);
    // No token text reaches the log, whatever the row.
    let log = std::fs::read_to_string(gw.security_log_path()).unwrap();
    assert!(!log.contains("eyJ"), "a token leaked into the security log");
}
