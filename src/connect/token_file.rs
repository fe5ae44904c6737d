//! The token file: read when `connect` starts, read again whenever it
//! changes (checked before every request: one `stat`), so that a token
//! rotated on disk is used without restarting the MCP client; written
//! atomically (0600) when a renewal brings a fresh token. A file caught
//! half-written (empty, or not a JWT yet) keeps the token already held.
//! The token's claims are read without verifying it — the gateway verifies;
//! `connect` only needs to know when it expires and whether it renews.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::connect::credentials::require_private;

/// Longest token file read (the gateway refuses tokens over 8 KiB anyway).
const MAX_TOKEN_FILE: u64 = 16 * 1024;

/// What `connect` reads from a token (unverified).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenClaims {
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: Option<i64>,
    /// The token id.
    pub jti: Option<String>,
    /// The certificate identity it is for.
    #[serde(rename = "clientId")]
    pub client_id: Option<String>,
    /// Renewal limit, when the token may be renewed.
    #[serde(rename = "renewableUntil")]
    pub renewable_until: Option<i64>,
    /// What it permits (for `--check`).
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Which calendars (for `--check`).
    #[serde(default)]
    pub calendars: Vec<String>,
    /// From where (for `--check`).
    #[serde(default, rename = "allowedIPs")]
    pub allowed_ips: Vec<String>,
    /// Certificate binding (for `--check`).
    pub cnf: Option<serde_json::Value>,
}

/// The claims of `token`, read without verification.
pub fn read_claims(token: &str) -> Result<TokenClaims, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or("not a JWT (header.payload.signature)")?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| "not a JWT: the payload is not base64url")?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not a JWT this gateway issues: {e}"))
}

/// What identifies one version of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// A token read from the file.
#[derive(Debug, Clone)]
pub struct Held {
    /// The token text.
    pub token: Arc<str>,
    /// Its claims.
    pub claims: Arc<TokenClaims>,
}

/// The token file and the token last read from it.
pub struct TokenFile {
    /// Where the token lives.
    path: PathBuf,
    /// The last good read, and the file version it came from.
    held: Mutex<Option<(Stamp, Held)>>,
}

impl TokenFile {
    /// The token file at `path` (not read yet).
    pub fn new(path: PathBuf) -> TokenFile {
        TokenFile {
            path,
            held: Mutex::new(None),
        }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The token to send now: the one held, or the file's new content when
    /// it changed. A file that changed into something that is not a token
    /// (caught mid-write) keeps the token held; with none held, the error.
    pub fn current(&self) -> Result<Held, String> {
        let stamp = self.stamp()?;
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, token)) = held.as_ref()
            && *seen == stamp
        {
            return Ok(token.clone());
        }
        match self.read() {
            Ok(token) => {
                if held
                    .as_ref()
                    .is_some_and(|(_, old)| old.token != token.token)
                {
                    tracing::info!(
                        file = %self.path.display(),
                        jti = token.claims.jti.as_deref().unwrap_or("-"),
                        expires = %crate::connect::clock::describe(token.claims.exp),
                        "token file changed: using the new token"
                    );
                }
                *held = Some((stamp, token.clone()));
                Ok(token)
            }
            Err(why) => match held.as_ref() {
                Some((_, token)) => {
                    tracing::warn!(file = %self.path.display(), "token file unreadable ({why}); keeping the token held");
                    Ok(token.clone())
                }
                None => Err(why),
            },
        }
    }

    fn stamp(&self) -> Result<Stamp, String> {
        let meta = std::fs::metadata(&self.path)
            .map_err(|e| format!("cannot read token file {}: {e}", self.path.display()))?;
        Ok(Stamp {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        })
    }

    fn read(&self) -> Result<Held, String> {
        require_private(&self.path, "token file")?;
        let file = std::fs::File::open(&self.path)
            .map_err(|e| format!("cannot read token file {}: {e}", self.path.display()))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_TOKEN_FILE), &mut text)
            .map_err(|e| format!("cannot read token file {}: {e}", self.path.display()))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(format!("token file {} is empty", self.path.display()));
        }
        let claims = read_claims(token)
            .map_err(|why| format!("token file {}: {why}", self.path.display()))?;
        Ok(Held {
            token: Arc::from(token),
            claims: Arc::new(claims),
        })
    }

    /// Replaces the file with `token`: written to a new file beside it (mode
    /// 0600, synced), then renamed over it, so that no reader ever sees half
    /// a token and a crash leaves the old or the new one.
    pub fn replace(&self, token: &str) -> std::io::Result<()> {
        crate::config::replace_private(&self.path, format!("{token}\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::{TokenFile, read_claims};
    use std::os::unix::fs::PermissionsExt;

    fn token(exp: i64, jti: &str) -> String {
        use base64::Engine;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.sig",
            b64(r#"{"alg":"EdDSA"}"#),
            b64(&format!(r#"{{"exp":{exp},"jti":"{jti}","clientId":"a"}}"#))
        )
    }

    #[test]
    fn a_changed_file_is_read_again_and_a_half_written_one_keeps_the_token() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("token");
        let file = TokenFile::new(path.clone());
        file.replace(&token(100, "one")).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(file.current().unwrap().claims.jti.as_deref(), Some("one"));
        file.replace(&token(200, "two")).unwrap();
        assert_eq!(file.current().unwrap().claims.jti.as_deref(), Some("two"));
        // Truncated in place by an editor, mid-write.
        std::fs::write(&path, "").unwrap();
        assert_eq!(file.current().unwrap().claims.jti.as_deref(), Some("two"));
        // Made readable by others: refused, the token held stays.
        file.replace(&token(300, "three")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(file.current().unwrap().claims.jti.as_deref(), Some("two"));
        let fresh = TokenFile::new(path);
        let why = fresh.current().unwrap_err();
        assert!(why.contains("mode 0644"), "{why}");
        assert!(!why.contains(&token(300, "three")));
    }

    #[test]
    fn claims_are_read_without_the_signature() {
        assert_eq!(read_claims(&token(5, "x")).unwrap().exp, 5);
        assert!(read_claims("garbage").is_err());
    }
}
