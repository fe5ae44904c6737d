//! The `[jwt]` table: how per-request tokens are verified (and issued by
//! `mcp-gateway token issue`), read strictly and validated with keyed problems.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::config::{Problem, duration};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwt {
    jwks: PathBuf,
    #[serde(default)]
    signing_key: Option<PathBuf>,
    issuer: String,
    audience: String,
    #[serde(default = "default_algorithms")]
    algorithms: Vec<String>,
    #[serde(default)]
    hs256_secret_file: Option<PathBuf>,
    #[serde(default = "default_max_lifetime")]
    max_lifetime: String,
    #[serde(default = "default_leeway")]
    leeway: String,
    #[serde(default)]
    revocations: Option<PathBuf>,
    #[serde(default)]
    require_cert_binding: bool,
    #[serde(default = "default_max_renewable")]
    max_renewable: String,
    #[serde(default)]
    renewal: Option<RawRenewal>,
}

/// `[jwt.renewal]`: off unless the table says `enabled = true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRenewal {
    enabled: bool,
}

fn default_max_renewable() -> String {
    "30d".into()
}

fn default_algorithms() -> Vec<String> {
    vec!["EdDSA".into(), "ES256".into(), "RS256".into()]
}

fn default_max_lifetime() -> String {
    "24h".into()
}

fn default_leeway() -> String {
    "30s".into()
}

/// The validated `[jwt]` table.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// Public keys (JWKS) tokens are verified with, chosen by `kid`.
    pub jwks: PathBuf,
    /// Private key (PEM) `token issue` signs with.
    pub signing_key: Option<PathBuf>,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`: this gateway's resource URL.
    pub audience: String,
    /// Accepted `alg` values.
    pub algorithms: Vec<Algorithm>,
    /// Shared secret for HS256 (only when HS256 is listed).
    pub hs256_secret_file: Option<PathBuf>,
    /// Longest accepted `exp - iat`.
    pub max_lifetime: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// File of revoked `jti` values, one per line.
    pub revocations: Option<PathBuf>,
    /// Whether every token must be bound to the client certificate (`cnf.x5t#S256`).
    pub require_cert_binding: bool,
    /// Longest `renewableUntil - iat` that `token issue --renewable-until` writes.
    pub max_renewable: Duration,
    /// Whether a certificate-bound token carrying `renewableUntil` may be
    /// exchanged for a fresh one at [`RENEWAL_PATH`] (`[jwt.renewal]
    /// enabled`); `serve` then needs `signing_key`.
    pub renewal: bool,
}

/// Where a client exchanges a renewable token for a fresh one (POST, with
/// the token as its bearer, over mutual TLS), when `[jwt.renewal]` is on.
pub const RENEWAL_PATH: &str = "/token/renew";

pub(super) fn validate(raw: RawJwt, base: &Path, problems: &mut Vec<Problem>) -> Jwt {
    let jwks = base.join(&raw.jwks);
    if !jwks.is_file() {
        problems.push(Problem::new(
            "jwt.jwks",
            format!("file not found: {}", jwks.display()),
        ));
    }
    if raw.issuer.trim().is_empty() {
        problems.push(Problem::new("jwt.issuer", "must not be empty"));
    }
    if raw.audience.trim().is_empty() {
        problems.push(Problem::new("jwt.audience", "must not be empty"));
    }
    let mut algorithms = Vec::new();
    for (i, name) in raw.algorithms.iter().enumerate() {
        match name.as_str() {
            "EdDSA" => algorithms.push(Algorithm::EdDSA),
            "ES256" => algorithms.push(Algorithm::ES256),
            "RS256" => algorithms.push(Algorithm::RS256),
            "HS256" => algorithms.push(Algorithm::HS256),
            other => problems.push(Problem::new(
                format!("jwt.algorithms[{i}]"),
                format!("`{other}` is not supported (EdDSA, ES256, RS256, or HS256 with a secret)"),
            )),
        }
    }
    if algorithms.is_empty() {
        problems.push(Problem::new(
            "jwt.algorithms",
            "must list at least one algorithm",
        ));
    }
    let hs256_secret_file = raw.hs256_secret_file.map(|p| base.join(p));
    match (&hs256_secret_file, algorithms.contains(&Algorithm::HS256)) {
        (None, true) => problems.push(Problem::new(
            "jwt.hs256_secret_file",
            "HS256 is listed in jwt.algorithms but no secret is configured",
        )),
        (Some(_), false) => problems.push(Problem::new(
            "jwt.hs256_secret_file",
            "set, but HS256 is not listed in jwt.algorithms",
        )),
        (Some(path), true) => match std::fs::read(path) {
            Ok(secret) if secret.trim_ascii().len() >= 32 => {}
            Ok(_) => problems.push(Problem::new(
                "jwt.hs256_secret_file",
                "the secret must be at least 32 bytes",
            )),
            Err(e) => problems.push(Problem::new(
                "jwt.hs256_secret_file",
                format!("cannot read {}: {e}", path.display()),
            )),
        },
        (None, false) => {}
    }
    let max_lifetime = duration("jwt.max_lifetime", &raw.max_lifetime, problems);
    let leeway = duration("jwt.leeway", &raw.leeway, problems);
    if leeway > Duration::from_secs(300) {
        problems.push(Problem::new(
            "jwt.leeway",
            "at most 5m: a larger leeway keeps expired tokens alive",
        ));
    }
    let max_renewable = duration("jwt.max_renewable", &raw.max_renewable, problems);
    let renewal = raw.renewal.is_some_and(|r| r.enabled);
    if renewal && raw.signing_key.is_none() {
        problems.push(Problem::new(
            "jwt.renewal.enabled",
            "renewal signs fresh tokens: set jwt.signing_key",
        ));
    }
    let revocations = raw.revocations.map(|p| base.join(p));
    if let Some(path) = &revocations
        && !path.is_file()
    {
        problems.push(Problem::new(
            "jwt.revocations",
            format!("file not found: {}", path.display()),
        ));
    }
    Jwt {
        jwks,
        signing_key: raw.signing_key.map(|p| base.join(p)),
        issuer: raw.issuer,
        audience: raw.audience,
        algorithms,
        hs256_secret_file,
        max_lifetime,
        leeway,
        revocations,
        require_cert_binding: raw.require_cert_binding,
        max_renewable,
        renewal,
    }
}
