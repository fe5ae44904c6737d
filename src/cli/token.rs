//! `mcp-gateway token issue`: mints a scoped token signed with the configured
//! key, with exactly the claims the gateway verifies.

use std::time::Duration;

use chrono::Utc;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::config::parse_cidr;
use crate::policy::grant::Permission;
use crate::policy::token::keys::SigningKey;

/// What a token should grant.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `clientId`: must equal the certificate identity of the client.
    pub client_id: String,
    /// `permissions`.
    pub permissions: Vec<String>,
    /// `calendars` (`*` for all).
    pub calendars: Vec<String>,
    /// `allowedIPs` (CIDRs).
    pub allowed_ips: Vec<String>,
    /// Lifetime (`exp - iat`).
    pub ttl: Duration,
    /// PEM of the client certificate to bind the token to (`cnf.x5t#S256`).
    pub bind_cert_pem: Option<String>,
    /// How long from now the token may be renewed (`renewableUntil`).
    pub renewable_for: Option<Duration>,
}

impl TokenRequest {
    /// Every permission on every calendar, unbound: the quickstart's token, and
    /// a starting point to narrow down.
    pub fn full_access(client_id: &str, allowed_ips: &[&str], ttl: Duration) -> TokenRequest {
        TokenRequest {
            client_id: client_id.to_owned(),
            permissions: Permission::ALL
                .iter()
                .map(|p| p.name().to_owned())
                .collect(),
            calendars: vec!["*".to_owned()],
            allowed_ips: allowed_ips.iter().map(|ip| (*ip).to_owned()).collect(),
            ttl,
            bind_cert_pem: None,
            renewable_for: None,
        }
    }
}

/// The claims of a token for `request`, checked before anything is signed.
pub fn claims(request: &TokenRequest, issuer: &str, audience: &str) -> anyhow::Result<Value> {
    for p in &request.permissions {
        if Permission::parse(p).is_none() {
            let known: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
            anyhow::bail!("--permissions: unknown `{p}` (known: {})", known.join(", "));
        }
    }
    for ip in &request.allowed_ips {
        if let Err(why) = parse_cidr(ip) {
            anyhow::bail!("--allowed-ips: {why}");
        }
    }
    if request.client_id.is_empty() {
        anyhow::bail!("--client: must not be empty");
    }
    let now = Utc::now().timestamp();
    let mut claims = json!({
        "iss": issuer,
        "aud": audience,
        "sub": request.client_id,
        "iat": now,
        "nbf": now,
        "exp": now + request.ttl.as_secs() as i64,
        "jti": uuid::Uuid::new_v4().to_string(),
        "clientId": request.client_id,
        "allowedIPs": request.allowed_ips,
        "permissions": request.permissions,
        "calendars": request.calendars,
    });
    if let Some(span) = request.renewable_for {
        claims["renewableUntil"] = json!(now + span.as_secs() as i64);
    }
    if let Some(pem) = &request.bind_cert_pem {
        let cert = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("--bind-cert: not a PEM certificate: {e}"))?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.as_ref());
        use base64::Engine;
        let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
        claims["cnf"] = json!({ "x5t#S256": thumbprint });
    }
    Ok(claims)
}

/// Signs `claims` with `key`.
pub fn sign(claims: &Value, key: &SigningKey) -> anyhow::Result<String> {
    key.sign(claims)
}
