//! A TSIG key file as BIND's `tsig-keygen` writes it (and `nsupdate -k`
//! reads it), for `tls.acme.dns_update.tsig_key_file`:
//!
//! ```text
//! key "acme-update" {
//!     algorithm hmac-sha256;
//!     secret "base64...";
//! };
//! ```

use crate::secrets::Secret;

/// A TSIG key as BIND's `tsig-keygen` writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TsigKey {
    /// The key's name, which the server knows it by.
    pub name: String,
    /// `hmac-sha256`, `hmac-sha384` or `hmac-sha512`.
    pub algorithm: String,
    /// The shared secret.
    pub secret: Secret<Vec<u8>>,
}

/// Reads `key "name" { algorithm hmac-sha256; secret "base64"; };`, the
/// format of BIND's `tsig-keygen` and `nsupdate -k`.
pub fn parse_tsig_key(text: &str) -> Result<TsigKey, String> {
    let text: String = text
        .lines()
        .map(|line| {
            line.split(['#'])
                .next()
                .unwrap_or("")
                .split("//")
                .next()
                .unwrap_or("")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let rest = text
        .trim_start()
        .strip_prefix("key")
        .ok_or("does not start with `key \"name\" {` (write it with tsig-keygen)")?;
    let (name, body) = rest
        .trim_start()
        .strip_prefix('"')
        .and_then(|r| r.split_once('"'))
        .ok_or("the key's name must be quoted: key \"name\" { ... };")?;
    let body = body
        .trim_start()
        .strip_prefix('{')
        .and_then(|b| b.rsplit_once('}'))
        .map(|(inside, _)| inside)
        .ok_or("the key's body must be in braces")?;
    let (mut algorithm, mut secret) = (None, None);
    for statement in body.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (word, value) = statement
            .split_once(char::is_whitespace)
            .unwrap_or((statement, ""));
        let value = value.trim().trim_matches('"');
        match word {
            "algorithm" => algorithm = Some(value.to_ascii_lowercase()),
            "secret" => secret = Some(value.to_owned()),
            other => return Err(format!("unknown statement `{other}` in the key")),
        }
    }
    let algorithm = algorithm.ok_or("no `algorithm` in the key")?;
    if !["hmac-sha256", "hmac-sha384", "hmac-sha512"].contains(&algorithm.as_str()) {
        return Err(format!(
            "algorithm `{algorithm}` is not supported (hmac-sha256, hmac-sha384 or hmac-sha512)"
        ));
    }
    let secret = secret.ok_or("no `secret` in the key")?;
    let secret = base64(&secret).ok_or("the secret is not base64")?;
    if name.is_empty() || secret.is_empty() {
        return Err("the key's name and secret must not be empty".into());
    }
    Ok(TsigKey {
        name: name.trim_end_matches('.').to_ascii_lowercase(),
        algorithm,
        secret: Secret::new(secret),
    })
}

fn base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_tsig_key;

    #[test]
    fn a_tsig_keygen_file_is_read() {
        let key = parse_tsig_key(
            "key \"acme-update\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXNlY3JldC1zZWNyZXQ=\";\n};\n",
        )
        .unwrap();
        assert_eq!(key.name, "acme-update");
        assert_eq!(key.algorithm, "hmac-sha256");
        assert_eq!(key.secret.expose(), b"secret-secret-secret");
    }

    #[test]
    fn a_bad_tsig_file_is_named() {
        for (text, says) in [
            ("", "does not start with `key"),
            ("key acme { };", "must be quoted"),
            (
                "key \"a\" { algorithm hmac-md5; secret \"YQ==\"; };",
                "hmac-md5` is not supported",
            ),
            ("key \"a\" { algorithm hmac-sha256; };", "no `secret`"),
            (
                "key \"a\" { algorithm hmac-sha256; secret \"%%\"; };",
                "not base64",
            ),
        ] {
            let error = parse_tsig_key(text).unwrap_err();
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
