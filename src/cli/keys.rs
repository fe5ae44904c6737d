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
    fn generated_keys_load_with_a_stable_kid() {
        let pem = generate_ed25519_pem().unwrap();
        let a = load_signing_key(&pem).unwrap();
        let b = load_signing_key(&pem).unwrap();
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.algorithm, Algorithm::EdDSA);
        assert_eq!(a.jwk["kid"], a.kid.as_str());
    }
}
