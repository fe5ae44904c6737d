//! The per-request bearer token: a JWT whose signature, lifetime, audience and
//! issuer are checked first, and only then its claims — `clientId` against the
//! certificate identity, the client address against `allowedIPs`, `jti`
//! against the revocation list, `cnf.x5t#S256` against the certificate (RFC
//! 8705). Success is a [`Grant`]; failure a [`Denial`]. The token itself is
//! never logged and never passed on.

use crate::policy::address::ClientIp;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{Jwt, Problem, parse_cidr};
use crate::denial::{Denial, Reason};
use crate::identity::ClientIdentity;
use crate::policy::address::ip::contains;
use crate::policy::grant::{CalendarScope, Grant, Permission, TokenTerms};
use crate::policy::token::cache::{MAX_VERIFIED_TOKENS, VerifiedTokens};
use crate::policy::token::jwks::{self, PinnedKey, algorithm_name, parse_algorithm};
use crate::policy::token::renewal::RenewalBasis;
use crate::policy::token::revocations::Revocations;

/// Longest bearer token looked at; a longer one is malformed without parsing.
const MAX_TOKEN_BYTES: usize = 8192;

/// The header fields read before verification.
#[derive(Debug, Deserialize)]
struct ClaimedHeader {
    alg: String,
    kid: Option<String>,
    /// RFC 7515 §4.1.11: extensions the verifier must understand. This
    /// gateway understands none, so any `crit` refuses the token.
    crit: Option<serde_json::Value>,
    /// RFC 7797 unencoded payloads change what is signed: refused.
    b64: Option<serde_json::Value>,
}

/// Reads a claim that may be present with any value (`null` included), so that
/// a present but malformed claim is told apart from an absent one.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The claims this gateway reads, by their exact names.
#[derive(Debug, Deserialize)]
struct Claims {
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    #[serde(rename = "clientId")]
    client_id: String,
    #[serde(rename = "allowedIPs")]
    allowed_ips: Vec<String>,
    permissions: Vec<String>,
    calendars: Vec<String>,
    jti: Option<String>,
    #[serde(default, deserialize_with = "present")]
    cnf: Option<serde_json::Value>,
    /// Renewal limit ([`crate::policy::token::renewal`]): renewable only with it.
    #[serde(rename = "renewableUntil")]
    renewable_until: Option<i64>,
    /// The `jti` of the first token of a renewal chain: revoking it revokes the chain.
    #[serde(rename = "rootJti")]
    root_jti: Option<String>,
}

/// What a verified token says, read once when its signature is checked and
/// remembered with it: the claims, with those that need parsing parsed (a
/// parse failure is kept too, to be reported where the checks meet it).
struct SignedClaims {
    claims: Claims,
    /// `allowedIPs` as networks, or why one is not a network.
    networks: Result<Vec<ipnet::IpNet>, Denial>,
    /// `permissions`, or the first unknown name.
    permissions: Result<BTreeSet<Permission>, Denial>,
    /// `calendars`.
    calendars: CalendarScope,
    /// What a renewal copies, for a token carrying `renewableUntil`.
    renewal: Option<Arc<RenewalBasis>>,
}

/// A `claims_invalid` refusal saying why.
fn claims_invalid(why: &str) -> Denial {
    Denial::new(Reason::ClaimsInvalid).with_detail(why.to_owned())
}

impl SignedClaims {
    fn read(claims: Claims) -> SignedClaims {
        let networks = claims
            .allowed_ips
            .iter()
            .map(|text| {
                parse_cidr(text).map_err(|why| claims_invalid(&format!("allowedIPs: {why}")))
            })
            .collect();
        let permissions = claims
            .permissions
            .iter()
            .map(|name| {
                Permission::parse(name)
                    .ok_or_else(|| claims_invalid(&format!("permissions: unknown `{name}`")))
            })
            .collect();
        let calendars = if claims.calendars.iter().any(|c| c == "*") {
            CalendarScope::All
        } else {
            CalendarScope::Only(claims.calendars.iter().cloned().collect())
        };
        let renewal = claims.renewable_until.map(|until| {
            Arc::new(RenewalBasis {
                allowed_ips: claims.allowed_ips.clone(),
                permissions: claims.permissions.clone(),
                calendars: claims.calendars.clone(),
                thumbprint: claims
                    .cnf
                    .as_ref()
                    .and_then(|cnf| cnf.get("x5t#S256"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
                until,
                root_jti: claims
                    .root_jti
                    .clone()
                    .or_else(|| claims.jti.clone())
                    .unwrap_or_default(),
                lifetime: claims.exp.saturating_sub(claims.iat.unwrap_or(claims.exp)),
            })
        });
        SignedClaims {
            claims,
            networks,
            permissions,
            calendars,
            renewal,
        }
    }
}

/// Verifies tokens against the configured keys and rules.
pub struct TokenVerifier {
    keys: HashMap<String, PinnedKey>,
    hs256: Option<DecodingKey>,
    algorithms: Vec<Algorithm>,
    issuer: String,
    audience: String,
    max_lifetime: i64,
    leeway: u64,
    require_cert_binding: bool,
    revocations: Option<std::sync::Arc<Revocations>>,
    /// Tokens whose signature this key set verified (see `token_cache`).
    verified: VerifiedTokens<SignedClaims>,
}

impl TokenVerifier {
    /// Loads the JWKS (and HS256 secret, revocation list) named by the config.
    pub fn from_config(jwt: &Jwt) -> Result<TokenVerifier, Problem> {
        let keys = jwks::load(jwt)?;
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
            .map(|p| Revocations::load(p).map(std::sync::Arc::new))
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
            verified: VerifiedTokens::new(MAX_VERIFIED_TOKENS),
        })
    }

    /// The revocation list, for the server to watch in the background.
    pub fn revocations(&self) -> Option<std::sync::Arc<Revocations>> {
        self.revocations.clone()
    }

    /// The `alg` and `kid` a token's header claims, read before anything is
    /// trusted (as plain text, so that `none` can be named in the refusal).
    fn claimed_header(token: &str) -> Result<ClaimedHeader, Denial> {
        let malformed = || Denial::new(Reason::TokenMalformed);
        if token.len() > MAX_TOKEN_BYTES {
            return Err(malformed().with_detail(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        let header = token.split('.').next().ok_or_else(malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| malformed())?;
        let header: ClaimedHeader = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if header.crit.is_some() {
            return Err(malformed().with_detail("crit: no critical extension is supported"));
        }
        if header.b64.is_some() {
            return Err(malformed().with_detail("b64: unencoded payloads are not supported"));
        }
        Ok(header)
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
        if key.alg != alg {
            return Err(Denial::new(Reason::AlgKeyMismatch).with_detail(format!(
                "key {kid} is {}, token says {}",
                algorithm_name(key.alg),
                algorithm_name(alg)
            )));
        }
        Ok(&key.key)
    }

    /// Verifies `token` for a client with `identity` at `client_ip`. The
    /// signature is checked once per token (then remembered, see
    /// `token_cache`); everything else on every request.
    pub fn verify(
        &self,
        token: &str,
        identity: &ClientIdentity,
        client_ip: ClientIp,
        now: DateTime<Utc>,
    ) -> Result<Grant, Denial> {
        let signed = match self.verified.get(token, now.timestamp()) {
            Some(signed) => {
                // The entry ends at exp + leeway, so the token has not expired;
                // a clock set back could make `nbf` matter again.
                if signed
                    .claims
                    .nbf
                    .is_some_and(|nbf| nbf > now.timestamp() + self.leeway as i64)
                {
                    return Err(Denial::new(Reason::TokenNotYetValid));
                }
                signed
            }
            None => {
                let signed = Arc::new(SignedClaims::read(self.verify_signature(token)?));
                let usable_until = signed.claims.exp.saturating_add(self.leeway as i64);
                self.verified
                    .insert(token, usable_until, Arc::clone(&signed), now.timestamp());
                signed
            }
        };
        self.check_claims(&signed, identity, client_ip, now)
    }

    /// The claims of `token` once its header, algorithm, key, signature,
    /// lifetime, issuer and audience are checked.
    fn verify_signature(&self, token: &str) -> Result<Claims, Denial> {
        let header = Self::claimed_header(token)?;
        let alg = parse_algorithm(&header.alg)
            .filter(|a| self.algorithms.contains(a))
            .ok_or_else(|| Denial::new(Reason::AlgNotAllowed).with_detail(header.alg.clone()))?;
        let key = self.key_for(alg, header.kid.as_deref())?;
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        Ok(jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| token_error(e.kind()))?
            .claims)
    }

    fn check_claims(
        &self,
        signed: &SignedClaims,
        identity: &ClientIdentity,
        client_ip: ClientIp,
        now: DateTime<Utc>,
    ) -> Result<Grant, Denial> {
        let claims = &signed.claims;
        let iat = claims.iat.ok_or_else(|| claims_invalid("missing iat"))?;
        if iat > now.timestamp() + self.leeway as i64 {
            return Err(Denial::new(Reason::TokenNotYetValid).with_detail("iat in the future"));
        }
        // Checked: a signed `iat` of i64::MIN must not wrap into a short lifetime.
        match claims.exp.checked_sub(iat) {
            Some(lifetime) if lifetime <= self.max_lifetime => {}
            Some(lifetime) => {
                return Err(
                    Denial::new(Reason::LifetimeTooLong).with_detail(format!("{lifetime}s"))
                );
            }
            None => {
                return Err(Denial::new(Reason::LifetimeTooLong).with_detail("exp - iat overflows"));
            }
        }
        let oldest = now
            .timestamp()
            .saturating_sub(self.max_lifetime)
            .saturating_sub(self.leeway as i64);
        if iat < oldest {
            return Err(Denial::new(Reason::LifetimeTooLong)
                .with_detail("iat is further back than jwt.max_lifetime"));
        }
        let jti = claims
            .jti
            .clone()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| claims_invalid("missing jti"))?;
        if let Some(revocations) = &self.revocations {
            if revocations.is_revoked(&jti)? {
                return Err(Denial::new(Reason::TokenRevoked).with_detail(jti));
            }
            // A renewal is revoked with the token its chain began with.
            if let Some(root) = claims.root_jti.as_deref().filter(|root| *root != jti)
                && revocations.is_revoked(root)?
            {
                return Err(Denial::new(Reason::TokenRevoked)
                    .with_detail(format!("{jti} (renewed from {root})")));
            }
        }
        if claims.client_id != identity.id() {
            return Err(Denial::new(Reason::ClientMismatch).with_detail(claims.client_id.clone()));
        }
        let networks = signed.networks.as_ref().map_err(Clone::clone)?;
        if !contains(networks, client_ip.ip()) {
            return Err(Denial::new(Reason::IpNotInToken));
        }
        match claims.cnf.as_ref().map(bound_thumbprint).transpose()? {
            Some(thumbprint) if thumbprint != identity.x5t_s256() => {
                return Err(Denial::new(Reason::CertBindingMismatch));
            }
            None if self.require_cert_binding => {
                return Err(Denial::new(Reason::CertBindingMissing));
            }
            _ => {}
        }
        let permissions = signed.permissions.clone()?;
        let calendars = signed.calendars.clone();
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        Ok(Grant::new(
            Verified { _sealed: () },
            identity.clone(),
            client_ip,
            permissions,
            calendars,
            TokenTerms {
                expires_at,
                token_id: jti,
                renewal: signed.renewal.clone(),
            },
        ))
    }
}

/// Proof that [`TokenVerifier::verify`] checked a token: its field is
/// private to this module, so nothing else can make one, and a
/// [`Grant`] cannot be built without one.
pub struct Verified {
    _sealed: (),
}

impl Verified {
    /// A proof for unit tests of the layers behind admission.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Verified {
        Verified { _sealed: () }
    }
}

/// The certificate thumbprint a present `cnf` claim binds the token to. A
/// `cnf` that is present but not `{"x5t#S256": "<non-empty string>"}` (null,
/// `{}`, another confirmation method) is refused, never read as "unbound".
fn bound_thumbprint(cnf: &serde_json::Value) -> Result<&str, Denial> {
    cnf.get("x5t#S256")
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Denial::new(Reason::ClaimsInvalid)
                .with_detail("cnf: present but without an x5t#S256 thumbprint")
        })
}

fn token_error(kind: &ErrorKind) -> Denial {
    match kind {
        ErrorKind::InvalidSignature => Denial::new(Reason::BadSignature),
        ErrorKind::ExpiredSignature => Denial::new(Reason::TokenExpired),
        ErrorKind::ImmatureSignature => Denial::new(Reason::TokenNotYetValid),
        ErrorKind::InvalidIssuer => Denial::new(Reason::WrongIssuer),
        ErrorKind::InvalidAudience => Denial::new(Reason::WrongAudience),
        ErrorKind::InvalidAlgorithm => Denial::new(Reason::AlgKeyMismatch),
        // jsonwebtoken reports a claim it cannot read as a number or string
        // (`exp: -1`, `aud: 5`) as missing: say both.
        ErrorKind::MissingRequiredClaim(claim) => Denial::new(Reason::ClaimsInvalid)
            .with_detail(format!("{claim} missing or not of its type")),
        ErrorKind::Json(e) => Denial::new(Reason::ClaimsInvalid).with_detail(e.to_string()),
        _ => Denial::new(Reason::TokenMalformed),
    }
}
