//! The per-request bearer token: a JWT whose signature, lifetime, audience and
//! issuer are checked first, and only then its claims — `clientId` against the
//! certificate identity, the client address against `allowedIPs`, `jti`
//! against the revocation list, `cnf.x5t#S256` against the certificate (RFC
//! 8705). Success is a [`Grant`]; failure a [`Denial`]. The token itself is
//! never logged and never passed on.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::admission::grant::{CalendarScope, Grant, Permission};
use crate::admission::ip::contains;
use crate::admission::revocations::Revocations;
use crate::config::{Jwt, Problem, parse_cidr};
use crate::denial::{Denial, Reason};
use crate::identity::ClientIdentity;

/// The `cnf` claim (RFC 8705 confirmation).
#[derive(Debug, Deserialize)]
struct Confirmation {
    #[serde(rename = "x5t#S256")]
    x5t_s256: Option<String>,
}

/// The header fields read before verification.
#[derive(Debug, Deserialize)]
struct ClaimedHeader {
    alg: String,
    kid: Option<String>,
}

/// The claims this gateway reads, by their exact names.
#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
    iat: Option<i64>,
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(rename = "allowedIPs")]
    allowed_ips: Vec<String>,
    permissions: Vec<String>,
    calendars: Vec<String>,
    jti: Option<String>,
    cnf: Option<Confirmation>,
}

/// A verification key and the algorithm its JWK pins, if any.
struct Key {
    key: DecodingKey,
    alg: Option<Algorithm>,
}

/// Verifies tokens against the configured keys and rules.
pub struct TokenVerifier {
    keys: HashMap<String, Key>,
    hs256: Option<DecodingKey>,
    algorithms: Vec<Algorithm>,
    issuer: String,
    audience: String,
    max_lifetime: i64,
    leeway: u64,
    require_cert_binding: bool,
    revocations: Option<Revocations>,
}

fn key_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "EdDSA" => Some(Algorithm::EdDSA),
        "ES256" => Some(Algorithm::ES256),
        "RS256" => Some(Algorithm::RS256),
        "HS256" => Some(Algorithm::HS256),
        _ => None,
    }
}

fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        Algorithm::HS256 => "HS256",
        _ => "other",
    }
}

impl TokenVerifier {
    /// Loads the JWKS (and HS256 secret, revocation list) named by the config.
    pub fn from_config(jwt: &Jwt) -> Result<TokenVerifier, Problem> {
        let text = std::fs::read_to_string(&jwt.jwks).map_err(|e| {
            Problem::new(
                "jwt.jwks",
                format!("cannot read {}: {e}", jwt.jwks.display()),
            )
        })?;
        let set: JwkSet = serde_json::from_str(&text).map_err(|e| {
            Problem::new(
                "jwt.jwks",
                format!("{} is not a JWKS: {e}", jwt.jwks.display()),
            )
        })?;
        let mut keys = HashMap::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| Problem::new("jwt.jwks", format!("key #{i} has no kid")))?;
            let key = DecodingKey::from_jwk(jwk)
                .map_err(|e| Problem::new("jwt.jwks", format!("key `{kid}`: {e}")))?;
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| key_algorithm(&a.to_string()));
            keys.insert(kid, Key { key, alg });
        }
        let hs256 = match &jwt.hs256_secret_file {
            Some(path) => {
                let secret = std::fs::read(path).map_err(|e| {
                    Problem::new(
                        "jwt.hs256_secret_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                Some(DecodingKey::from_secret(secret.trim_ascii()))
            }
            None => None,
        };
        let revocations = jwt
            .revocations
            .as_ref()
            .map(|p| Revocations::load(p))
            .transpose()?;
        Ok(TokenVerifier {
            keys,
            hs256,
            algorithms: jwt.algorithms.clone(),
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
            max_lifetime: jwt.max_lifetime.as_secs() as i64,
            leeway: jwt.leeway.as_secs(),
            require_cert_binding: jwt.require_cert_binding,
            revocations,
        })
    }

    /// The `alg` and `kid` a token's header claims, read before anything is
    /// trusted (as plain text, so that `none` can be named in the refusal).
    fn claimed_header(token: &str) -> Result<ClaimedHeader, Denial> {
        let malformed = || Denial::new(Reason::TokenMalformed);
        let header = token.split('.').next().ok_or_else(malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed())?;
        serde_json::from_slice(&bytes).map_err(|_| malformed())
    }

    fn key_for(&self, alg: Algorithm, kid: Option<&str>) -> Result<&DecodingKey, Denial> {
        if alg == Algorithm::HS256 {
            return self
                .hs256
                .as_ref()
                .ok_or_else(|| Denial::new(Reason::AlgNotAllowed).with_detail("HS256"));
        }
        let kid =
            kid.ok_or_else(|| Denial::new(Reason::UnknownKid).with_detail("token has no kid"))?;
        let key = self
            .keys
            .get(kid)
            .ok_or_else(|| Denial::new(Reason::UnknownKid).with_detail(kid))?;
        match key.alg {
            Some(pinned) if pinned != alg => {
                Err(Denial::new(Reason::AlgKeyMismatch).with_detail(format!(
                    "key {kid} is {}, token says {}",
                    algorithm_name(pinned),
                    algorithm_name(alg)
                )))
            }
            _ => Ok(&key.key),
        }
    }

    /// Verifies `token` for a client with `identity` at `client_ip`.
    pub fn verify(
        &self,
        token: &str,
        identity: &ClientIdentity,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Grant, Denial> {
        let header = Self::claimed_header(token)?;
        let alg = key_algorithm(&header.alg)
            .filter(|a| self.algorithms.contains(a))
            .ok_or_else(|| Denial::new(Reason::AlgNotAllowed).with_detail(header.alg.clone()))?;
        let key = self.key_for(alg, header.kid.as_deref())?;
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| token_error(e.kind()))?
            .claims;
        self.check_claims(claims, identity, client_ip, now)
    }

    fn check_claims(
        &self,
        claims: Claims,
        identity: &ClientIdentity,
        client_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Grant, Denial> {
        let invalid = |why: &str| Denial::new(Reason::ClaimsInvalid).with_detail(why.to_owned());
        let iat = claims.iat.ok_or_else(|| invalid("missing iat"))?;
        if iat > now.timestamp() + self.leeway as i64 {
            return Err(Denial::new(Reason::TokenNotYetValid).with_detail("iat in the future"));
        }
        if claims.exp - iat > self.max_lifetime {
            return Err(
                Denial::new(Reason::LifetimeTooLong).with_detail(format!("{}s", claims.exp - iat))
            );
        }
        let jti = claims
            .jti
            .filter(|j| !j.is_empty())
            .ok_or_else(|| invalid("missing jti"))?;
        if let Some(revocations) = &self.revocations
            && revocations.is_revoked(&jti)?
        {
            return Err(Denial::new(Reason::TokenRevoked).with_detail(jti));
        }
        if claims.client_id != identity.id {
            return Err(Denial::new(Reason::ClientMismatch).with_detail(claims.client_id));
        }
        let mut networks = Vec::with_capacity(claims.allowed_ips.len());
        for text in &claims.allowed_ips {
            networks.push(
                parse_cidr(text)
                    .ok_or_else(|| invalid(&format!("allowedIPs: `{text}` is not a CIDR")))?,
            );
        }
        if !contains(&networks, client_ip) {
            return Err(Denial::new(Reason::IpNotInToken));
        }
        match claims.cnf.and_then(|c| c.x5t_s256) {
            Some(thumbprint) if thumbprint != identity.x5t_s256 => {
                return Err(Denial::new(Reason::CertBindingMismatch));
            }
            None if self.require_cert_binding => {
                return Err(Denial::new(Reason::CertBindingMissing));
            }
            _ => {}
        }
        let mut permissions = BTreeSet::new();
        for name in &claims.permissions {
            permissions.insert(
                Permission::parse(name)
                    .ok_or_else(|| invalid(&format!("permissions: unknown `{name}`")))?,
            );
        }
        let calendars = if claims.calendars.iter().any(|c| c == "*") {
            CalendarScope::All
        } else {
            CalendarScope::Only(claims.calendars.into_iter().collect())
        };
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        Ok(Grant::new(
            identity.clone(),
            client_ip,
            permissions,
            calendars,
            expires_at,
            jti,
        ))
    }
}

fn token_error(kind: &ErrorKind) -> Denial {
    match kind {
        ErrorKind::InvalidSignature => Denial::new(Reason::BadSignature),
        ErrorKind::ExpiredSignature => Denial::new(Reason::TokenExpired),
        ErrorKind::ImmatureSignature => Denial::new(Reason::TokenNotYetValid),
        ErrorKind::InvalidIssuer => Denial::new(Reason::WrongIssuer),
        ErrorKind::InvalidAudience => Denial::new(Reason::WrongAudience),
        ErrorKind::InvalidAlgorithm => Denial::new(Reason::AlgKeyMismatch),
        ErrorKind::MissingRequiredClaim(claim) => {
            Denial::new(Reason::ClaimsInvalid).with_detail(format!("missing {claim}"))
        }
        ErrorKind::Json(e) => Denial::new(Reason::ClaimsInvalid).with_detail(e.to_string()),
        _ => Denial::new(Reason::TokenMalformed),
    }
}
