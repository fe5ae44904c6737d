//! The verification key set (`jwt.jwks`), checked at start so that a mistake
//! shows up as a startup error naming the key, never as tokens that are all
//! refused (or, worse, accepted under the wrong algorithm) in production:
//! every key has a unique `kid` and one supported algorithm it is pinned to,
//! the set is not empty, and the key `token issue` signs with is in it.

use std::collections::HashMap;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::config::{Jwt, Problem};
use crate::policy::token::keys::load_signing_key;

/// A verification key and the one algorithm tokens signed with it may claim.
pub struct PinnedKey {
    /// The public key.
    pub key: DecodingKey,
    /// `alg` from the JWK, or the only one its key type allows.
    pub alg: Algorithm,
}

/// The name `alg` headers and JWKs use for an algorithm this gateway verifies.
pub fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::EdDSA => "EdDSA",
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        Algorithm::HS256 => "HS256",
        _ => "unsupported",
    }
}

/// The algorithm named `name`, if this gateway verifies it.
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    [
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::RS256,
        Algorithm::HS256,
    ]
    .into_iter()
    .find(|a| algorithm_name(*a) == name)
}

/// The one asymmetric algorithm a key of this type verifies, if supported.
fn algorithm_of_key_type(jwk: &Jwk) -> Option<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        _ => None,
    }
}

/// Pins one JWK to its algorithm, or says why it cannot be used.
fn pin(jwk: &Jwk, kid: &str, accepted: &[Algorithm]) -> Result<PinnedKey, String> {
    let by_type = algorithm_of_key_type(jwk).ok_or_else(|| {
        format!("key `{kid}`: unsupported key type (Ed25519, P-256 or RSA public keys only; HS256 secrets belong in jwt.hs256_secret_file)")
    })?;
    let alg = match &jwk.common.key_algorithm {
        None => by_type,
        Some(named) => {
            let name = named.to_string();
            let alg = parse_algorithm(&name)
                .filter(|a| *a != Algorithm::HS256)
                .ok_or_else(|| {
                    format!("key `{kid}`: alg `{name}` is not supported (EdDSA, ES256, RS256)")
                })?;
            if alg != by_type {
                return Err(format!(
                    "key `{kid}`: alg `{name}` does not fit its key type (which verifies {})",
                    algorithm_name(by_type)
                ));
            }
            alg
        }
    };
    if !accepted.contains(&alg) {
        return Err(format!(
            "key `{kid}` verifies {}, which jwt.algorithms does not list",
            algorithm_name(alg)
        ));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key `{kid}`: {e}"))?;
    Ok(PinnedKey { key, alg })
}

/// Reads and checks the key set named by `jwt.jwks`. The signing key is not
/// read: a gateway needs only what it verifies with, and the service user
/// may not be able to read the key `token issue` signs with
/// ([`check_signing_key`] is for the commands that sign).
pub fn load(jwt: &Jwt) -> Result<HashMap<String, PinnedKey>, Problem> {
    let problem = |why: String| Problem::new("jwt.jwks", why);
    let path = jwt.jwks.display();
    let text = std::fs::read_to_string(&jwt.jwks)
        .map_err(|e| problem(format!("cannot read {path}: {e}")))?;
    let set: JwkSet =
        serde_json::from_str(&text).map_err(|e| problem(format!("{path} is not a JWKS: {e}")))?;
    if set.keys.is_empty() {
        return Err(problem(format!(
            "{path} holds no key: no token could ever be verified"
        )));
    }
    let mut keys = HashMap::new();
    for (i, jwk) in set.keys.iter().enumerate() {
        let kid = jwk
            .common
            .key_id
            .clone()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| problem(format!("key #{i} has no kid")))?;
        let pinned = pin(jwk, &kid, &jwt.algorithms).map_err(problem)?;
        if keys.insert(kid.clone(), pinned).is_some() {
            return Err(problem(format!(
                "kid `{kid}` appears more than once: each key needs its own kid"
            )));
        }
    }
    Ok(keys)
}

/// When `jwt.signing_key` is set, it must be readable and verify under the
/// JWKS entry its `kid` names: else every token `token issue` prints would be
/// refused. For `token issue`, `keys` and `check-config`; never for `serve`.
pub fn check_signing_key(jwt: &Jwt) -> Result<(), Problem> {
    let Some(path) = &jwt.signing_key else {
        return Ok(());
    };
    let keys = load(jwt)?;
    let problem = |why: String| Problem::new("jwt.signing_key", why);
    let pem = std::fs::read_to_string(path)
        .map_err(|e| problem(format!("cannot read {}: {e}", path.display())))?;
    let signer = load_signing_key(&pem).map_err(|e| problem(e.to_string()))?;
    let kid = &signer.kid;
    let pinned = keys.get(kid).ok_or_else(|| {
        problem(format!(
            "its kid `{kid}` is not in jwt.jwks: the gateway would refuse every token it signs; add its public key"
        ))
    })?;
    let mut header = jsonwebtoken::Header::new(signer.algorithm);
    header.kid = Some(kid.clone());
    let probe = serde_json::json!({ "probe": true });
    let token = jsonwebtoken::encode(&header, &probe, &signer.encoding)
        .map_err(|e| problem(format!("cannot sign with it: {e}")))?;
    let mut validation = Validation::new(pinned.alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(&token, &pinned.key, &validation)
        .map(|_| ())
        .map_err(|_| {
            problem(format!(
                "jwt.jwks holds another key under its kid `{kid}`: tokens it signs would be refused"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::{check_signing_key, load};
    use crate::config::Jwt;
    use crate::policy::token::keys::{generate_ed25519_pem, jwks, load_signing_key};
    use jsonwebtoken::Algorithm;
    use serde_json::{Value, json};

    /// Writes `set` (and a signing key when given) and loads it.
    fn problem_with(set: &Value, signing_pem: Option<&str>) -> Option<String> {
        let dir = tempfile::TempDir::new().unwrap();
        let jwks_path = dir.path().join("jwks.json");
        std::fs::write(&jwks_path, set.to_string()).unwrap();
        let signing_key = signing_pem.map(|pem| {
            let path = dir.path().join("signing.key");
            std::fs::write(&path, pem).unwrap();
            path
        });
        let jwt = Jwt {
            jwks: jwks_path,
            signing_key,
            issuer: "i".into(),
            audience: "https://gw/mcp".into(),
            algorithms: vec![Algorithm::EdDSA, Algorithm::ES256],
            hs256_secret_file: None,
            max_lifetime: std::time::Duration::from_secs(3600),
            leeway: std::time::Duration::from_secs(30),
            revocations: None,
            require_cert_binding: true,
            max_renewable: std::time::Duration::from_secs(86400),
            renewal: false,
        };
        load(&jwt)
            .and_then(|_| check_signing_key(&jwt))
            .err()
            .map(|p| p.to_string())
    }

    #[test]
    fn a_good_set_with_its_signing_key_loads() {
        let pem = generate_ed25519_pem().unwrap();
        let key = load_signing_key(&pem).unwrap();
        assert_eq!(problem_with(&jwks(&[&key]), Some(&pem)), None);
    }

    #[test]
    fn each_mistake_is_a_problem_naming_the_key() {
        let pem = generate_ed25519_pem().unwrap();
        let key = load_signing_key(&pem).unwrap();
        let other = load_signing_key(&generate_ed25519_pem().unwrap()).unwrap();
        let with_jwk = |jwk: Value| json!({ "keys": [jwk] });
        let mut relabelled = other.jwk.clone();
        relabelled["kid"] = json!(key.kid);
        let mut unpinned = key.jwk.clone();
        unpinned.as_object_mut().unwrap().remove("alg");
        let mut wrong_alg = key.jwk.clone();
        wrong_alg["alg"] = json!("ES256");
        let mut unsupported = key.jwk.clone();
        unsupported["alg"] = json!("PS256");
        let rsa = json!({ "kty": "RSA", "kid": "r1", "alg": "RS256", "n": "sXch", "e": "AQAB" });
        let cases = [
            (json!({ "keys": [] }), None, "jwt.jwks: ", "holds no key"),
            (
                json!({ "keys": [key.jwk.clone(), key.jwk.clone()] }),
                None,
                "jwt.jwks: ",
                &format!("kid `{}` appears more than once", key.kid) as &str,
            ),
            (
                with_jwk(wrong_alg),
                None,
                "jwt.jwks: ",
                "alg `ES256` does not fit its key type",
            ),
            (
                with_jwk(unsupported),
                None,
                "jwt.jwks: ",
                "alg `PS256` is not supported",
            ),
            (
                with_jwk(rsa),
                None,
                "jwt.jwks: ",
                "key `r1` verifies RS256, which jwt.algorithms does not list",
            ),
            (
                with_jwk(other.jwk.clone()),
                Some(pem.as_str()),
                "jwt.signing_key: ",
                "is not in jwt.jwks",
            ),
            (
                with_jwk(relabelled),
                Some(pem.as_str()),
                "jwt.signing_key: ",
                "holds another key under its kid",
            ),
        ];
        for (set, signing, key_name, expected) in cases {
            let problem = problem_with(&set, signing).unwrap_or_else(|| panic!("accepted: {set}"));
            assert!(
                problem.starts_with(key_name) && problem.contains(expected),
                "{problem}"
            );
        }
        // A JWK without alg is pinned to the one algorithm its key type verifies.
        assert_eq!(problem_with(&with_jwk(unpinned), Some(&pem)), None);
    }
}
