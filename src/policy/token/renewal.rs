//! Token renewal (`[jwt.renewal]`): a client whose token carries a
//! `renewableUntil` limit and is bound to its certificate exchanges it, over
//! mutual TLS at [`crate::config::RENEWAL_PATH`], for a fresh one.
//!
//! The request has passed the whole admission pipeline first (address, TLS,
//! the token itself: signature, expiry, revocation, `clientId`,
//! `allowedIPs`, binding), so what is renewed is a token the gateway would
//! serve right now. The fresh token is a copy of the old one's grant —
//! `clientId`, `allowedIPs`, `permissions`, `calendars`, `cnf`,
//! `renewableUntil` — read from the signed claims as they were, never
//! widened; only `jti`, `iat`, `nbf` and `exp` are new, and `exp` is never
//! later than the limit. Every token of a chain names the first one's `jti`
//! as `rootJti`: revoking that `jti` revokes every renewal made from it.

use serde_json::{Value, json};

use crate::config::{Jwt, Problem};
use crate::denial::{Denial, Reason};
use crate::policy::grant::Grant;
use crate::policy::token::keys::{SigningKey, load_signing_key};

/// A renewed token shorter than this is not worth having: the limit counts
/// as reached.
pub const MIN_RENEWED_LIFETIME: i64 = 10;

/// What a renewable token says that its renewal copies, from its signed
/// claims exactly as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalBasis {
    /// `allowedIPs`, as written.
    pub allowed_ips: Vec<String>,
    /// `permissions`, as written.
    pub permissions: Vec<String>,
    /// `calendars`, as written.
    pub calendars: Vec<String>,
    /// `cnf.x5t#S256`: renewal needs a token bound to its certificate.
    pub thumbprint: Option<String>,
    /// `renewableUntil`: no renewed token lives past it.
    pub until: i64,
    /// The `jti` of the chain's first token (`rootJti`, or its own `jti`).
    pub root_jti: String,
    /// `exp - iat`: a renewed token lives as long as the old one did.
    pub lifetime: i64,
}

/// A fresh token and what the renewal answer tells about it.
#[derive(Debug)]
pub struct Renewed {
    /// The signed token.
    pub token: String,
    /// Its `jti` (for the audit line).
    pub jti: String,
    /// Its `exp`.
    pub expires_at: i64,
    /// The chain's limit, unchanged.
    pub renewable_until: i64,
}

/// Signs renewed tokens with the configured key.
pub struct Renewer {
    /// `jwt.signing_key`, loaded.
    key: SigningKey,
    /// `iss` of renewed tokens: the configured issuer.
    issuer: String,
    /// `aud` of renewed tokens: the configured audience.
    audience: String,
    /// `jwt.max_lifetime` in seconds: a renewal never lives longer.
    max_lifetime: i64,
}

impl Renewer {
    /// The renewer `[jwt.renewal]` asks for, or `None` when renewal is off.
    /// The signing key must be readable and its public half in the JWKS
    /// (else every renewed token would be refused).
    pub fn from_config(jwt: &Jwt) -> Result<Option<Renewer>, Problem> {
        if !jwt.renewal {
            return Ok(None);
        }
        crate::policy::token::jwks::check_signing_key(jwt)?;
        let path = jwt.signing_key.as_ref().ok_or_else(|| {
            Problem::new(
                "jwt.renewal.enabled",
                "renewal signs fresh tokens: set jwt.signing_key",
            )
        })?;
        let pem = std::fs::read_to_string(path).map_err(|e| {
            Problem::new(
                "jwt.signing_key",
                format!("cannot read {} (renewal is on): {e}", path.display()),
            )
        })?;
        let key =
            load_signing_key(&pem).map_err(|e| Problem::new("jwt.signing_key", e.to_string()))?;
        Ok(Some(Renewer {
            key,
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
            max_lifetime: jwt.max_lifetime.as_secs() as i64,
        }))
    }

    /// A fresh token for the admitted `grant`, at `now` (Unix seconds).
    pub fn renew(&self, grant: &Grant, now: i64) -> Result<Renewed, Denial> {
        let basis = grant.renewal().ok_or_else(|| {
            Denial::new(Reason::TokenNotRenewable).with_detail("no renewableUntil claim")
        })?;
        let jti = uuid::Uuid::new_v4().to_string();
        let claims = renewed_claims(
            basis,
            grant.identity().id(),
            (&self.issuer, &self.audience),
            self.max_lifetime,
            (now, &jti),
        )?;
        let expires_at = claims["exp"].as_i64().unwrap_or(now);
        let token = self.key.sign(&claims).map_err(|e| {
            // Unreachable with a key that loaded; refused, never half-answered.
            Denial::new(Reason::TokenNotRenewable).with_detail(format!("signing failed: {e}"))
        })?;
        Ok(Renewed {
            token,
            jti,
            expires_at,
            renewable_until: basis.until,
        })
    }
}

/// The claims of the renewal of a token with `basis`, held by `client_id`,
/// at `now` with the new `jti`: a pure function of what the old token was
/// signed with (the property tests hold it to never widen a claim).
pub fn renewed_claims(
    basis: &RenewalBasis,
    client_id: &str,
    (issuer, audience): (&str, &str),
    max_lifetime: i64,
    (now, jti): (i64, &str),
) -> Result<Value, Denial> {
    let thumbprint = basis.thumbprint.as_deref().ok_or_else(|| {
        Denial::new(Reason::TokenNotRenewable).with_detail("not bound to a certificate (cnf)")
    })?;
    if basis.until.saturating_sub(now) < MIN_RENEWED_LIFETIME {
        return Err(Denial::new(Reason::RenewalLimitReached)
            .with_detail(format!("renewableUntil {}", basis.until)));
    }
    let lifetime = basis.lifetime.clamp(0, max_lifetime);
    let exp = now.saturating_add(lifetime).min(basis.until);
    if exp.saturating_sub(now) < MIN_RENEWED_LIFETIME {
        return Err(Denial::new(Reason::TokenNotRenewable)
            .with_detail(format!("a lifetime of {lifetime}s is too short to renew")));
    }
    Ok(json!({
        "iss": issuer,
        "aud": audience,
        "sub": client_id,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "jti": jti,
        "clientId": client_id,
        "allowedIPs": basis.allowed_ips,
        "permissions": basis.permissions,
        "calendars": basis.calendars,
        "cnf": { "x5t#S256": thumbprint },
        "renewableUntil": basis.until,
        "rootJti": basis.root_jti,
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{Just, Strategy, any, prop, prop_assert, prop_assert_eq, proptest};

    use super::{MIN_RENEWED_LIFETIME, RenewalBasis, renewed_claims};
    use crate::denial::Reason;

    fn basis(until: i64, lifetime: i64) -> RenewalBasis {
        RenewalBasis {
            allowed_ips: vec!["127.0.0.1/32".into()],
            permissions: vec!["readCalendars".into()],
            calendars: vec!["team".into()],
            thumbprint: Some("abc".into()),
            until,
            root_jti: "first".into(),
            lifetime,
        }
    }

    const ISSUED: (&str, &str) = ("issuer", "https://gw/mcp");

    #[test]
    fn the_limit_and_the_binding_decide() {
        let now = 1_000_000;
        let renewed = renewed_claims(&basis(now + 3600, 60), "alice", ISSUED, 86400, (now, "n"));
        let claims = renewed.unwrap();
        assert_eq!(claims["exp"], now + 60);
        assert_eq!(claims["rootJti"], "first");
        assert_eq!(claims["jti"], "n");
        // Near the limit: exp is the limit, never past it.
        let near = renewed_claims(&basis(now + 30, 60), "alice", ISSUED, 86400, (now, "n"));
        assert_eq!(near.unwrap()["exp"], now + 30);
        let past = renewed_claims(&basis(now + 5, 60), "alice", ISSUED, 86400, (now, "n"));
        assert_eq!(past.unwrap_err().reason, Reason::RenewalLimitReached);
        let mut unbound = basis(now + 3600, 60);
        unbound.thumbprint = None;
        let refused = renewed_claims(&unbound, "alice", ISSUED, 86400, (now, "n"));
        assert_eq!(refused.unwrap_err().reason, Reason::TokenNotRenewable);
        // A lifetime longer than jwt.max_lifetime (lowered since) is cut to it.
        let cut = renewed_claims(&basis(now + 9999, 600), "alice", ISSUED, 120, (now, "n"));
        assert_eq!(cut.unwrap()["exp"], now + 120);
    }

    fn bases() -> impl Strategy<Value = (RenewalBasis, i64)> {
        let texts = prop::collection::vec("[a-z*0-9./]{0,12}", 0..4);
        (
            texts.clone(),
            texts.clone(),
            texts,
            prop::option::of("[A-Za-z0-9_-]{1,43}"),
            any::<i32>(),
            -100i64..200_000,
            0i64..100_000,
        )
            .prop_flat_map(
                |(ips, permissions, calendars, thumbprint, until, life, now)| {
                    let basis = RenewalBasis {
                        allowed_ips: ips,
                        permissions,
                        calendars,
                        thumbprint,
                        until: now + i64::from(until) % 300_000,
                        root_jti: "root".into(),
                        lifetime: life,
                    };
                    (Just(basis), Just(now))
                },
            )
    }

    proptest! {
        /// A renewed token never carries more than the old one: the same
        /// grant claims, the same binding and limit, an `exp` within both the
        /// limit and the old lifetime, and no renewal at all without a
        /// binding or past the limit.
        #[test]
        fn a_renewal_never_widens_a_claim((basis, now) in bases(), max_lifetime in 1i64..200_000) {
            match renewed_claims(&basis, "client", ISSUED, max_lifetime, (now, "new")) {
                Ok(claims) => {
                    prop_assert_eq!(&claims["allowedIPs"], &serde_json::json!(basis.allowed_ips));
                    prop_assert_eq!(&claims["permissions"], &serde_json::json!(basis.permissions));
                    prop_assert_eq!(&claims["calendars"], &serde_json::json!(basis.calendars));
                    prop_assert_eq!(&claims["cnf"]["x5t#S256"], &serde_json::json!(basis.thumbprint));
                    prop_assert_eq!(&claims["renewableUntil"], &serde_json::json!(basis.until));
                    prop_assert_eq!(&claims["clientId"], "client");
                    let exp = claims["exp"].as_i64().unwrap();
                    prop_assert!(exp <= basis.until);
                    prop_assert!(exp - now <= basis.lifetime.min(max_lifetime));
                    prop_assert!(exp - now >= MIN_RENEWED_LIFETIME);
                    prop_assert_eq!(claims.as_object().unwrap().len(), 14);
                }
                Err(denial) => {
                    let no_room = basis.until - now < MIN_RENEWED_LIFETIME
                        || basis.lifetime.min(max_lifetime).min(basis.until - now) < MIN_RENEWED_LIFETIME;
                    prop_assert!(basis.thumbprint.is_none() || no_room, "{denial:?}");
                }
            }
        }
    }
}
