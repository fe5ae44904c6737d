//! Token signing keys: generating an Ed25519 key (PKCS#8 PEM) for development,
//! loading a signing key, and describing its public half as a JWK whose `kid`
//! is the RFC 7638 thumbprint — so the issuer and the JWKS agree on the id
//! without any extra configuration.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use rcgen::KeyPair;
use serde_json::{Value, json};

/// A private key able to sign tokens, with its algorithm and key id.
pub struct SigningKey {
    /// The key for jsonwebtoken.
    pub encoding: EncodingKey,
    /// EdDSA or ES256.
    pub algorithm: Algorithm,
    /// RFC 7638 thumbprint of the public key; written as `kid`.
    pub kid: String,
    /// The public key as a JWK (with `kid`, `alg`, `use`).
    pub jwk: Value,
}

impl SigningKey {
    /// `claims` as a JWT signed with this key (`typ: JWT`, its `kid`).
    pub fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn thumbprint(members: &str) -> String {
    b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, members.as_bytes()).as_ref())
}

/// A new Ed25519 private key, PKCS#8 PEM.
pub fn generate_ed25519_pem() -> anyhow::Result<String> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ED25519)?.serialize_pem())
}

/// Reads a PKCS#8 PEM private key (Ed25519 or ECDSA P-256).
pub fn load_signing_key(pem: &str) -> anyhow::Result<SigningKey> {
    let pair = KeyPair::from_pem(pem)?;
    let raw = pair.public_key_raw();
    if pair.algorithm() == &rcgen::PKCS_ED25519 {
        let x = b64(raw);
        let kid = thumbprint(&format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#));
        let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" });
        return Ok(SigningKey {
            encoding: EncodingKey::from_ed_pem(pem.as_bytes())?,
            algorithm: Algorithm::EdDSA,
            kid,
            jwk,
        });
    }
    if pair.algorithm() == &rcgen::PKCS_ECDSA_P256_SHA256 && raw.len() == 65 {
        let (x, y) = (b64(&raw[1..33]), b64(&raw[33..65]));
        let kid = thumbprint(&format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#
        ));
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": "ES256", "use": "sig" });
        return Ok(SigningKey {
            encoding: EncodingKey::from_ec_pem(pem.as_bytes())?,
            algorithm: Algorithm::ES256,
            kid,
            jwk,
        });
    }
    anyhow::bail!("unsupported signing key: use an Ed25519 or ECDSA P-256 PKCS#8 PEM key")
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

/// A new ECDSA P-256 private key (ES256), PKCS#8 PEM.
pub fn generate_es256_pem() -> anyhow::Result<String> {
    Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?.serialize_pem())
}

/// `keys generate`: a new signing key written to `out` (mode 0600, never over
/// an existing file); returns its `kid`.
pub fn generate_key_file(out: &std::path::Path, algorithm: &str) -> anyhow::Result<String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let pem = match algorithm {
        "EdDSA" | "ed25519" => generate_ed25519_pem()?,
        "ES256" | "p256" => generate_es256_pem()?,
        other => anyhow::bail!("--algorithm: `{other}` is not EdDSA or ES256"),
    };
    let kid = load_signing_key(&pem)?.kid;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| anyhow::anyhow!("--out: cannot create {}: {e}", out.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(kid)
}

/// `keys jwks`: the JWKS that verifies the key in `key_file`. With `add`, that
/// file's keys are kept and this one added (a rotation: old tokens still
/// verify), and the file is replaced atomically; the document is returned.
pub fn jwks_for_key_file(
    key_file: &std::path::Path,
    add: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    let pem = std::fs::read_to_string(key_file)
        .map_err(|e| anyhow::anyhow!("--key: cannot read {}: {e}", key_file.display()))?;
    let key = load_signing_key(&pem).map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let Some(path) = add else {
        return Ok(serde_json::to_string_pretty(&jwks(&[&key]))?);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--add: cannot read {}: {e}", path.display()))?;
    let mut document: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("--add: {} is not JSON: {e}", path.display()))?;
    let keys = document
        .get_mut("keys")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| anyhow::anyhow!("--add: {} has no \"keys\" array", path.display()))?;
    if !keys.iter().any(|k| k["kid"] == key.kid.as_str()) {
        keys.push(key.jwk.clone());
    }
    let rendered = serde_json::to_string_pretty(&document)?;
    let temporary = path.with_extension("json.new");
    std::fs::write(&temporary, format!("{rendered}\n"))?;
    std::fs::rename(&temporary, path)?;
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use super::{Algorithm, generate_ed25519_pem, load_signing_key, thumbprint};

    #[test]
    fn kid_is_the_rfc7638_thumbprint() {
        // RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
        let members =
            r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
        assert_eq!(
            thumbprint(members),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn generated_key_files_are_private_and_join_an_existing_set() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::TempDir::new().unwrap();
        let (first, second) = (dir.path().join("a.key"), dir.path().join("b.key"));
        let kid_a = super::generate_key_file(&first, "EdDSA").unwrap();
        let kid_b = super::generate_key_file(&second, "ES256").unwrap();
        let mode = std::fs::metadata(&first).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            super::generate_key_file(&first, "EdDSA").is_err(),
            "overwrote a key"
        );
        let set = dir.path().join("jwks.json");
        std::fs::write(&set, super::jwks_for_key_file(&first, None).unwrap()).unwrap();
        super::jwks_for_key_file(&second, Some(&set)).unwrap();
        // Idempotent: adding the same key again changes nothing.
        super::jwks_for_key_file(&second, Some(&set)).unwrap();
        let document: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&set).unwrap()).unwrap();
        let kids: Vec<&str> = document["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, [kid_a.as_str(), kid_b.as_str()]);
    }

    #[test]
    fn generated_keys_load_with_a_stable_kid() {
        let pem = generate_ed25519_pem().unwrap();
        let a = load_signing_key(&pem).unwrap();
        let b = load_signing_key(&pem).unwrap();
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.algorithm, Algorithm::EdDSA);
        assert_eq!(a.jwk["kid"], a.kid.as_str());
    }
}
