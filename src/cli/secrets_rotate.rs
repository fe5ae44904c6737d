//! `secrets rotate`: every `ENC:` value of a config re-sealed with a new key.
//! Nothing is ever half done: the new text is written beside the config,
//! checked (it still reads as TOML, and every value opens with the new key to
//! what it held before), and only then renamed over the config, with the
//! config's own mode; until then the old file stands. Values are found
//! wherever they are in the file (`ENC:` followed by base64, inside a string),
//! and errors name the line, never a value.
//!
//! A running deployment changes keys one replica at a time (docs in the
//! README, "Rotating the secrets key"): each replica gets the new key as its
//! key and the old one as its previous key (`MCP_GATEWAY_PREVIOUS_ENCRYPTION_KEY`
//! or `backend.google.previous_encryption_key_file`), so it reads the config
//! before and after this command; then the config is rotated; then the
//! previous key is removed.

use std::path::Path;

use crate::secrets::{PREFIX, SecretKey};

/// Where each `ENC:` value is in `text`: byte ranges, in order.
fn sealed_values(text: &str) -> Vec<std::ops::Range<usize>> {
    let is_base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(PREFIX) {
        let start = from + at;
        let body = start + PREFIX.len();
        let end = body
            + text.as_bytes()[body..]
                .iter()
                .take_while(|b| is_base64(**b))
                .count();
        if end > body {
            found.push(start..end);
        }
        from = end.max(start + PREFIX.len());
    }
    found
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// `text` with every `ENC:` value opened with `old` and sealed with `new`;
/// how many there were.
fn reseal(text: &str, old: &SecretKey, new: &SecretKey) -> anyhow::Result<(String, usize)> {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let values = sealed_values(text);
    for range in &values {
        let setting = format!("line {}", line_of(text, range.start));
        let plain = old
            .decrypt(&text[range.clone()], &setting)
            .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
        out.push_str(&text[last..range.start]);
        out.push_str(&new.encrypt(&plain));
        last = range.end;
    }
    out.push_str(&text[last..]);
    Ok((out, values.len()))
}

/// `secrets rotate`: the current key from `MCP_GATEWAY_ENCRYPTION_KEY`, else
/// `key_file`, else the config's `backend.google.encryption_key_file`; the
/// new one from `new_key_file`.
pub fn run(config: &Path, new_key_file: &Path, key_file: Option<&Path>) -> anyhow::Result<String> {
    let configured = std::fs::read_to_string(config)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| {
            let file = table
                .get("backend")?
                .get("google")?
                .get("encryption_key_file")?;
            let base = config.parent().unwrap_or(Path::new("."));
            Some(base.join(file.as_str()?))
        });
    let old = SecretKey::from_environment(key_file.or(configured.as_deref()))
        .map_err(|e| anyhow::anyhow!("the current key: {e}"))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no current key: set MCP_GATEWAY_ENCRYPTION_KEY, --key-file, or backend.google.encryption_key_file"
            )
        })?;
    let new =
        SecretKey::from_file(new_key_file).map_err(|e| anyhow::anyhow!("--new-key-file: {e}"))?;
    rotate(config, &old, &new)
}

/// Re-seals every `ENC:` value of the config at `path` from `old` to `new`.
pub fn rotate(path: &Path, old: &SecretKey, new: &SecretKey) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--config: cannot read {}: {e}", path.display()))?;
    let (resealed, count) = reseal(&text, old, new)?;
    if count == 0 {
        anyhow::bail!("{}: holds no ENC: value; nothing to rotate", path.display());
    }
    // The check the new file must pass before it replaces the old one.
    resealed.parse::<toml::Table>().map_err(|e| {
        anyhow::anyhow!("the re-sealed config does not read as TOML ({e}); nothing was changed")
    })?;
    for (before, after) in sealed_values(&text)
        .into_iter()
        .zip(sealed_values(&resealed))
    {
        let setting = format!("line {}", line_of(&resealed, after.start));
        let was = old.decrypt(&text[before], &setting)?;
        let is = new
            .decrypt(&resealed[after], &setting)
            .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
        if was != is {
            anyhow::bail!("{setting}: the re-sealed value differs; nothing was changed");
        }
    }
    let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
    crate::cli::files::replace(path, &resealed, mode)?;
    Ok(format!(
        "{}: {count} value(s) re-sealed with the new key; give every replica the new key (and the old one as its previous key until all run this file), then remove the old key",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::{rotate, sealed_values};
    use crate::secrets::{SecretKey, generate_key};
    use std::os::unix::fs::PermissionsExt;

    fn key() -> SecretKey {
        SecretKey::from_base64(&generate_key(), "test").unwrap()
    }

    #[test]
    fn every_value_is_resealed_and_reads_the_same() {
        let (old, new) = (key(), key());
        let (a, b) = (old.encrypt(b"first secret"), old.encrypt(b"second"));
        let text = format!(
            "[backend.google]\nservice_account_key = \"{a}\"\noauth_client_secret = '{b}'\nplain = \"ENC:\"\n"
        );
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let said = rotate(&path, &old, &new).unwrap();
        assert!(said.contains("2 value(s)"), "{said}");
        let rotated = std::fs::read_to_string(&path).unwrap();
        let values = sealed_values(&rotated);
        assert_eq!(values.len(), 2);
        assert_eq!(
            new.decrypt(&rotated[values[0].clone()], "a").unwrap(),
            b"first secret"
        );
        assert_eq!(
            new.decrypt(&rotated[values[1].clone()], "b").unwrap(),
            b"second"
        );
        assert!(old.decrypt(&rotated[values[0].clone()], "a").is_err());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert!(rotated.contains("plain = \"ENC:\""));
    }

    #[test]
    fn a_wrong_old_key_changes_nothing_and_names_the_line() {
        let (old, new, wrong) = (key(), key(), key());
        let text = format!(
            "[backend.google]\nservice_account_key = \"{}\"\n",
            old.encrypt(b"s")
        );
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, &text).unwrap();
        let error = rotate(&path, &wrong, &new).unwrap_err().to_string();
        assert!(
            error.contains("line 2") && error.contains("nothing was changed"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(!dir.path().join("gateway.toml.rotating").exists());
    }
}
