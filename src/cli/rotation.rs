//! `keys rotate` and `keys prune`: replacing the token signing key without a
//! moment when a valid token is refused. `rotate` writes a new key in place of
//! `jwt.signing_key`, adds its public half to `jwt.jwks` (the old public keys
//! stay, so tokens they signed still verify) and notes when each old key
//! retired in `<jwks>.retired.json`; `prune` drops from the JWKS the keys
//! retired longer ago than `jwt.max_lifetime` + `jwt.leeway` — no token they
//! signed can still be valid. Every file is replaced by rename.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::Jwt;
use crate::policy::token::keys::{generate_ed25519_pem, generate_es256_pem, load_signing_key};

fn retired_path(jwks: &Path) -> PathBuf {
    jwks.with_extension("retired.json")
}

/// Who may read a file `replace` writes: the signing key only its owner;
/// the public key set and its retirement notes anyone (the gateway's service
/// user must, and they hold nothing secret).
#[derive(Clone, Copy)]
enum Readable {
    OwnerOnly,
    Everyone,
}

fn replace(path: &Path, text: &str, readable: Readable) -> anyhow::Result<()> {
    let mode = match readable {
        Readable::OwnerOnly => 0o600,
        Readable::Everyone => 0o644,
    };
    crate::cli::files::replace(path, text, mode)
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn retired(jwks: &Path) -> anyhow::Result<BTreeMap<String, i64>> {
    match std::fs::read_to_string(retired_path(jwks)) {
        Ok(text) => Ok(serde_json::from_str(&text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e.into()),
    }
}

/// `keys rotate`: a new signing key of the same algorithm; returns its kid.
pub fn rotate(jwt: &Jwt, now: i64) -> anyhow::Result<String> {
    let path = jwt
        .signing_key
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("jwt.signing_key is not set in the config"))?;
    let old = load_signing_key(&std::fs::read_to_string(path)?)?;
    let pem = match old.algorithm {
        jsonwebtoken::Algorithm::ES256 => generate_es256_pem()?,
        _ => generate_ed25519_pem()?,
    };
    let new = load_signing_key(&pem)?;
    // The JWKS first: a gateway reloaded in between must verify the new key.
    let mut document = read_json(&jwt.jwks)?;
    let keys = document["keys"]
        .as_array_mut()
        .ok_or_else(|| anyhow::anyhow!("jwt.jwks: no \"keys\" array"))?;
    keys.push(new.jwk.clone());
    replace(
        &jwt.jwks,
        &serde_json::to_string_pretty(&document)?,
        Readable::Everyone,
    )?;
    let mut retirements = retired(&jwt.jwks)?;
    retirements.insert(old.kid.clone(), now);
    replace(
        &retired_path(&jwt.jwks),
        &serde_json::to_string_pretty(&retirements)?,
        Readable::Everyone,
    )?;
    replace(path, &pem, Readable::OwnerOnly)?;
    Ok(format!(
        "new signing key {} in {}; {} stays in {} until `keys prune` (after {}s); reload the gateway (SIGHUP)",
        new.kid,
        path.display(),
        old.kid,
        jwt.jwks.display(),
        (jwt.max_lifetime + jwt.leeway).as_secs()
    ))
}

/// `keys prune`: drops the keys retired long enough ago; returns what it did.
pub fn prune(jwt: &Jwt, now: i64) -> anyhow::Result<String> {
    let horizon = (jwt.max_lifetime + jwt.leeway).as_secs() as i64;
    let mut retirements = retired(&jwt.jwks)?;
    let expired: Vec<String> = retirements
        .iter()
        .filter(|(_, at)| now - **at > horizon)
        .map(|(kid, _)| kid.clone())
        .collect();
    let mut document = read_json(&jwt.jwks)?;
    let keys = document["keys"]
        .as_array_mut()
        .ok_or_else(|| anyhow::anyhow!("jwt.jwks: no \"keys\" array"))?;
    keys.retain(|k| !expired.iter().any(|kid| k["kid"] == kid.as_str()));
    replace(
        &jwt.jwks,
        &serde_json::to_string_pretty(&document)?,
        Readable::Everyone,
    )?;
    for kid in &expired {
        retirements.remove(kid);
    }
    replace(
        &retired_path(&jwt.jwks),
        &serde_json::to_string_pretty(&retirements)?,
        Readable::Everyone,
    )?;
    Ok(match expired.len() {
        0 => "nothing to prune: every retired key may still have valid tokens".to_owned(),
        n => format!(
            "{n} retired key(s) removed from {}: {}",
            jwt.jwks.display(),
            expired.join(", ")
        ),
    })
}
