//! Secrets of the `[backend.google]` and `[backend.caldav]` tables: revealing `ENC:` values with the
//! key from the environment or the key file, reading the service account key,
//! and the file-mode check behind the plaintext-secret warnings. Problems name
//! the setting and never quote the value.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::aws_lc_rs::sign::any_supported_type;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use yup_oauth2::ServiceAccountKey;

use crate::config::Problem;
use crate::config::google::endpoint;
use crate::secrets::{KEY_ENV, PREFIX, Secret, SecretError, SecretKey, reveal};

/// The encryption key (or why it could not be loaded), used to reveal `ENC:` values.
pub(super) struct Secrets {
    key: Option<SecretKey>,
    key_problem: Option<Problem>,
    /// The backend table (`backend.google`, `backend.caldav`), for messages.
    table: &'static str,
}

impl Secrets {
    /// The key from the environment or `key_file` (and the previous one,
    /// during a change-over); a bad key is reported only if some value
    /// actually needs it.
    pub(super) fn load(
        table: &'static str,
        key_file: Option<&Path>,
        previous_file: Option<&Path>,
    ) -> Secrets {
        match SecretKey::with_previous_from_environment(key_file, previous_file) {
            Ok(key) => Secrets {
                key,
                key_problem: None,
                table,
            },
            Err(e) => Secrets {
                key: None,
                key_problem: Some(secret_problem(
                    table,
                    &format!("{table}.encryption_key_file"),
                    e,
                )),
                table,
            },
        }
    }

    /// The plain text of `value`; `ENC:` values are decrypted with the key.
    pub(super) fn reveal(
        &mut self,
        setting: &str,
        value: &str,
        problems: &mut Vec<Problem>,
    ) -> String {
        if value.starts_with(PREFIX)
            && let Some(problem) = self.key_problem.take()
        {
            problems.push(problem);
            return String::new();
        }
        match reveal(value, setting, self.key.as_ref()) {
            Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|_| {
                problems.push(Problem::new(setting, "decrypted value is not UTF-8 text"));
                String::new()
            }),
            Err(e) => {
                problems.push(secret_problem(self.table, setting, e));
                String::new()
            }
        }
    }
}

/// A secret that cannot be read, as a problem of `setting` (never quoting the value).
fn secret_problem(table: &str, setting: &str, error: SecretError) -> Problem {
    let problem = match error {
        SecretError::NoKey { .. } => format!(
            "encrypted, but no key is available: set {KEY_ENV} or {table}.encryption_key_file"
        ),
        SecretError::Undecryptable { .. } => {
            "cannot decrypt (wrong key, or the value was altered)".to_owned()
        }
        SecretError::BadKey { source_name } => {
            format!("{source_name}: the encryption key must be base64 of exactly 32 bytes")
        }
    };
    Problem::new(setting, problem)
}

pub(super) fn service_account_key(
    (inline, file): (Option<&String>, Option<&PathBuf>),
    base: &Path,
    secrets: &mut Secrets,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) -> Option<Arc<Secret<ServiceAccountKey>>> {
    let (setting, text) = match (inline, file) {
        (Some(inline), None) => ("backend.google.service_account_key", inline.clone()),
        (None, Some(file)) => {
            let path = base.join(file);
            let setting = "backend.google.service_account_key_file";
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(Problem::new(
                        setting,
                        format!("cannot read {}: {e}", path.display()),
                    ));
                    return None;
                }
            };
            if !text.trim_start().starts_with(PREFIX) && readable_by_others(&path) {
                warnings.push(format!(
                    "{setting}: {} holds a plaintext key and is readable by group or others; chmod 600 it or store it encrypted (mcp-gateway secrets encrypt)",
                    path.display()
                ));
            }
            (setting, text.trim().to_owned())
        }
        (None, None) => return None,
        (Some(_), Some(_)) => {
            problems.push(Problem::new(
                "backend.google.service_account_key",
                "set service_account_key or service_account_key_file, not both",
            ));
            return None;
        }
    };
    let json = secrets.reveal(setting, &text, problems);
    if json.is_empty() {
        return None;
    }
    // The parser's own message could quote the key; name the setting only.
    let key = match yup_oauth2::parse_service_account_key(json.as_bytes()) {
        Ok(key) => key,
        Err(_) => {
            problems.push(Problem::new(
                setting,
                "not a service account key (JSON with client_email, private_key and token_uri)",
            ));
            return None;
        }
    };
    // yup-oauth2 would read the private key only at the first token request.
    let usable = PrivateKeyDer::from_pem_slice(key.private_key.as_bytes())
        .ok()
        .is_some_and(|der| any_supported_type(&der).is_ok());
    if !usable {
        problems.push(Problem::new(
            format!("{setting}.private_key"),
            "not a usable PEM private key",
        ));
        return None;
    }
    let token_uri = endpoint(
        &format!("{setting}.token_uri"),
        key.token_uri.clone(),
        problems,
    );
    if token_uri.is_empty() {
        return None;
    }
    Some(Arc::new(Secret::new(key)))
}

use crate::config::private_file::mode_open_to_others;

/// Whether a file may be read by anyone but its owner.
pub(super) fn readable_by_others(path: &Path) -> bool {
    mode_open_to_others(path).is_some()
}
