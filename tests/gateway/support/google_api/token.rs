//! The emulator's token endpoint: the JWT-bearer grant of service accounts
//! (RS256 signature, `aud` = this endpoint, `iss` = the account's email,
//! `sub` = a known user, the calendar scope) and the refresh-token grant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use jsonwebtoken::crypto::verify;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::json;

use crate::google_api::{CALENDAR_SCOPE, State, json_reply};

#[derive(Deserialize)]
struct Assertion {
    iss: String,
    aud: String,
    exp: u64,
    sub: Option<String>,
    scope: String,
}

/// Checks an RS256 assertion by hand: yup-oauth2 pads its base64url segments
/// (Google accepts that), which jsonwebtoken's `decode` refuses.
fn verify_assertion(
    assertion: &str,
    public_pem: &str,
    issuer: &str,
    audience: &str,
) -> Option<Assertion> {
    let (message, signature) = assertion.rsplit_once('.')?;
    let (header, payload) = message.split_once('.')?;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let header: serde_json::Value = serde_json::from_slice(&engine.decode(header).ok()?).ok()?;
    if header["alg"] != "RS256" {
        return None;
    }
    let key = DecodingKey::from_rsa_pem(public_pem.as_bytes()).ok()?;
    let signature = signature.trim_end_matches('=');
    if !verify(signature, message.as_bytes(), &key, Algorithm::RS256).ok()? {
        return None;
    }
    let claims: Assertion = serde_json::from_slice(&engine.decode(payload).ok()?).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    (claims.iss == issuer && claims.aud == audience && claims.exp > now).then_some(claims)
}

fn refused(error: &str) -> Response<Full<Bytes>> {
    json_reply(
        400,
        &json!({ "error": error, "error_description": "refused by the test token endpoint" }),
    )
}

/// Answers one token request.
pub fn grant(state: &Arc<Mutex<State>>, token_uri: &str, body: &[u8]) -> Response<Full<Bytes>> {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let mut state = state.lock().unwrap();
    let user = match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let Some(assertion) = form.get("assertion") else {
                return refused("invalid_request");
            };
            let (email, public_pem) = state.service_account.clone();
            let Some(claims) = verify_assertion(assertion, &public_pem, &email, token_uri) else {
                return refused("invalid_grant");
            };
            if !claims.scope.split(' ').any(|s| s == CALENDAR_SCOPE) {
                return refused("invalid_scope");
            }
            let Some(subject) = claims.sub.filter(|s| state.users.contains_key(s)) else {
                return refused("unauthorized_client");
            };
            state.token_grants.push(format!("jwt-bearer {subject}"));
            subject
        }
        Some("refresh_token") => {
            let client = (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            );
            if client != state.oauth_client {
                return refused("invalid_client");
            }
            let Some(user) = form
                .get("refresh_token")
                .and_then(|t| state.refresh_tokens.get(t))
                .cloned()
            else {
                return refused("invalid_grant");
            };
            state.token_grants.push(format!("refresh_token {user}"));
            user
        }
        _ => return refused("unsupported_grant_type"),
    };
    let token = format!("ya29.{}", uuid::Uuid::new_v4().simple());
    let lifetime = state.token_lifetime;
    state
        .access_tokens
        .insert(token.clone(), (user, Instant::now() + lifetime));
    json_reply(
        200,
        &json!({ "access_token": token, "expires_in": lifetime.as_secs(), "token_type": "Bearer" }),
    )
}
