//! The claim rows of the token family: every claim missing, of the wrong
//! type, out of its range, or naming someone else. Each token is signed by
//! the gateway's own key, so only the claims are wrong.

use chrono::Utc;
use mcp_gateway::cli::token::{TokenRequest, claims};
use serde_json::{Value, json};

use crate::common::{AUDIENCE, ISSUER};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The client every token row names.
pub const CLIENT: &str = "agent-a";

/// Valid claims for [`CLIENT`], to be bent one field at a time.
pub fn good_claims() -> Value {
    let request = TokenRequest::full_access(
        CLIENT,
        &["127.0.0.0/8"],
        std::time::Duration::from_secs(3600),
    );
    claims(&request, ISSUER, AUDIENCE).unwrap()
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// Bent claims, each with the reason the gateway must refuse them for.
pub fn bent_claims() -> Vec<(String, Value, &'static str)> {
    let now = Utc::now().timestamp();
    let good = good_claims();
    let mut rows = Vec::new();
    // Missing claims.
    for claim in [
        "iss",
        "aud",
        "exp",
        "clientId",
        "allowedIPs",
        "permissions",
        "calendars",
    ] {
        rows.push((
            format!("no {claim}"),
            without(good.clone(), claim),
            "claims_invalid",
        ));
    }

    // Times.
    let long = |iat: Value, exp: Value| with(with(good.clone(), "iat", iat), "exp", exp);
    for (name, claims, reason) in [
        (
            "expired",
            long(json!(now - 7200), json!(now - 3600)),
            "token_expired",
        ),
        (
            "exp a float",
            with(good.clone(), "exp", json!((now + 600) as f64 + 0.5)),
            "claims_invalid",
        ),
        (
            "exp a string",
            with(good.clone(), "exp", json!((now + 600).to_string())),
            "claims_invalid",
        ),
        (
            "exp 1e30",
            with(good.clone(), "exp", json!(1e30)),
            "claims_invalid",
        ),
        (
            "exp i64::MAX",
            with(good.clone(), "exp", json!(i64::MAX)),
            "lifetime_too_long",
        ),
        (
            "exp u64::MAX",
            with(good.clone(), "exp", json!(u64::MAX)),
            "claims_invalid",
        ),
        (
            "exp negative",
            with(good.clone(), "exp", json!(-1)),
            "claims_invalid",
        ),
        (
            "exp null",
            with(good.clone(), "exp", json!(null)),
            "claims_invalid",
        ),
        (
            "nbf in an hour",
            with(good.clone(), "nbf", json!(now + 3600)),
            "token_not_yet_valid",
        ),
        (
            "nbf a string",
            with(good.clone(), "nbf", json!("soon")),
            "claims_invalid",
        ),
        (
            "iat in an hour",
            with(good.clone(), "iat", json!(now + 3600)),
            "token_not_yet_valid",
        ),
        (
            "iat i64::MIN",
            with(good.clone(), "iat", json!(i64::MIN)),
            "lifetime_too_long",
        ),
        (
            "iat 30 h ago",
            with(good.clone(), "iat", json!(now - 30 * 3600)),
            "lifetime_too_long",
        ),
        (
            "lifetime 25 h",
            with(good.clone(), "exp", json!(now + 25 * 3600)),
            "lifetime_too_long",
        ),
    ] {
        rows.push((name.to_owned(), claims, reason));
    }

    // Audience, issuer, client.
    for (name, claims, reason) in [
        (
            "aud elsewhere",
            with(good.clone(), "aud", json!("https://elsewhere/mcp")),
            "wrong_audience",
        ),
        (
            "aud upper case",
            with(good.clone(), "aud", json!(AUDIENCE.to_uppercase())),
            "wrong_audience",
        ),
        (
            "aud with a trailing slash",
            with(good.clone(), "aud", json!(format!("{AUDIENCE}/"))),
            "wrong_audience",
        ),
        (
            "aud list without ours",
            with(good.clone(), "aud", json!(["https://a/", "https://b/"])),
            "wrong_audience",
        ),
        (
            "aud a number",
            with(good.clone(), "aud", json!(5)),
            "claims_invalid",
        ),
        (
            "iss elsewhere",
            with(good.clone(), "iss", json!("someone-else")),
            "wrong_issuer",
        ),
        (
            "iss upper case",
            with(good.clone(), "iss", json!(ISSUER.to_uppercase())),
            "wrong_issuer",
        ),
        (
            "clientId of another",
            with(good.clone(), "clientId", json!("agent-b")),
            "client_mismatch",
        ),
        (
            "clientId case changed",
            with(good.clone(), "clientId", json!("Agent-A")),
            "client_mismatch",
        ),
        (
            "clientId with a trailing space",
            with(good.clone(), "clientId", json!("agent-a ")),
            "client_mismatch",
        ),
        (
            "clientId with a NUL",
            with(good.clone(), "clientId", json!("agent-a\u{0}")),
            "client_mismatch",
        ),
        (
            "clientId fullwidth",
            with(good.clone(), "clientId", json!("ａｇｅｎｔ-ａ")),
            "client_mismatch",
        ),
        (
            "clientId a list",
            with(good.clone(), "clientId", json!([CLIENT])),
            "claims_invalid",
        ),
    ] {
        rows.push((name.to_owned(), claims, reason));
    }

    // Network, permissions, calendars, binding.
    for (name, claims, reason) in [
        (
            "allowedIPs elsewhere",
            with(good.clone(), "allowedIPs", json!(["10.0.0.0/8"])),
            "ip_not_in_token",
        ),
        (
            "allowedIPs empty",
            with(good.clone(), "allowedIPs", json!([])),
            "ip_not_in_token",
        ),
        (
            "allowedIPs IPv6 only",
            with(good.clone(), "allowedIPs", json!(["::/0"])),
            "ip_not_in_token",
        ),
        (
            "allowedIPs host bits set",
            with(good.clone(), "allowedIPs", json!(["127.0.0.7/8"])),
            "claims_invalid",
        ),
        (
            "allowedIPs prefix 33",
            with(good.clone(), "allowedIPs", json!(["127.0.0.1/33"])),
            "claims_invalid",
        ),
        (
            "allowedIPs a star",
            with(good.clone(), "allowedIPs", json!(["*"])),
            "claims_invalid",
        ),
        (
            "allowedIPs a string",
            with(good.clone(), "allowedIPs", json!("127.0.0.0/8")),
            "claims_invalid",
        ),
        (
            "permissions unknown",
            with(
                good.clone(),
                "permissions",
                json!(["readCalendars", "rootAccess"]),
            ),
            "claims_invalid",
        ),
        (
            "permissions case changed",
            with(good.clone(), "permissions", json!(["ReadCalendars"])),
            "claims_invalid",
        ),
        (
            "permissions a string",
            with(good.clone(), "permissions", json!("readCalendars")),
            "claims_invalid",
        ),
        (
            "calendars a string",
            with(good.clone(), "calendars", json!("*")),
            "claims_invalid",
        ),
        (
            "cnf empty",
            with(good.clone(), "cnf", json!({})),
            "claims_invalid",
        ),
        (
            "cnf null",
            with(good.clone(), "cnf", json!(null)),
            "claims_invalid",
        ),
        (
            "cnf thumbprint null",
            with(good.clone(), "cnf", json!({ "x5t#S256": null })),
            "claims_invalid",
        ),
        (
            "cnf jkt only",
            with(good.clone(), "cnf", json!({ "jkt": "abc" })),
            "claims_invalid",
        ),
        (
            "cnf another certificate",
            with(
                good.clone(),
                "cnf",
                json!({ "x5t#S256": URL_SAFE_NO_PAD.encode([7u8; 32]) }),
            ),
            "cert_binding_mismatch",
        ),
        (
            "cnf thumbprint not base64url",
            with(good.clone(), "cnf", json!({ "x5t#S256": "%%%" })),
            "cert_binding_mismatch",
        ),
        (
            "jti revoked",
            with(good.clone(), "jti", json!("revoked-jti-1")),
            "token_revoked",
        ),
        (
            "a 10 KB claim",
            with(good.clone(), "pad", json!("x".repeat(10_000))),
            "token_malformed",
        ),
    ] {
        rows.push((name.to_owned(), claims, reason));
    }
    rows
}
