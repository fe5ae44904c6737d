//! The `[backend.google]` table: how the gateway reaches Google Calendar, which
//! Google account each client acts as, and the credentials of those accounts.
//! Secrets may be written as `ENC:` values (see [`crate::secrets`]); they are
//! decrypted here, once, so a wrong or missing key stops the start with the
//! setting's name, and they stay wrapped in [`Secret`] so no log prints them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use yup_oauth2::ServiceAccountKey;

use crate::config::google_accounts::{Credentials, build_accounts, check_client_mapping};
use crate::config::google_secrets::{Secrets, service_account_key};
use crate::config::{Problem, duration};
use crate::secrets::{PREFIX, Secret};

/// Google's Calendar API root, as google-calendar3 expects it (trailing slash).
pub const GOOGLE_API_BASE_URL: &str = "https://www.googleapis.com/calendar/v3/";
/// Google's OAuth token endpoint, for the refresh-token grant.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoogle {
    #[serde(default = "default_api_base_url")]
    api_base_url: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
    #[serde(default = "default_request_timeout")]
    request_timeout: String,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_retry_deadline")]
    retry_deadline: String,
    #[serde(default = "default_retry_base_delay")]
    retry_base_delay: String,
    #[serde(default)]
    encryption_key_file: Option<PathBuf>,
    /// During a key change-over: the key being replaced, for values not yet
    /// sealed with the new one.
    #[serde(default)]
    previous_encryption_key_file: Option<PathBuf>,
    #[serde(default)]
    service_account_key: Option<String>,
    #[serde(default)]
    service_account_key_file: Option<PathBuf>,
    #[serde(default)]
    oauth_client_id: Option<String>,
    #[serde(default)]
    oauth_client_secret: Option<String>,
    #[serde(default)]
    pub(super) default_account: Option<String>,
    #[serde(default)]
    pub(super) clients: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) accounts: BTreeMap<String, RawAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    #[serde(default)]
    pub(super) subject: Option<String>,
    #[serde(default)]
    pub(super) refresh_token: Option<String>,
}

fn default_api_base_url() -> String {
    GOOGLE_API_BASE_URL.into()
}

fn default_token_uri() -> String {
    GOOGLE_TOKEN_URI.into()
}

fn default_request_timeout() -> String {
    "20s".into()
}

fn default_max_attempts() -> u32 {
    5
}

fn default_retry_deadline() -> String {
    "60s".into()
}

fn default_retry_base_delay() -> String {
    "500ms".into()
}

/// The validated `[backend.google]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Google {
    /// Calendar API root (trailing slash); a test or a proxy may replace Google's.
    pub api_base_url: String,
    /// Token endpoint of the refresh-token grant.
    pub token_uri: String,
    /// Limit on each HTTP exchange with Google (token or API).
    pub request_timeout: Duration,
    /// Most tries of one API call, the first included.
    pub max_attempts: u32,
    /// Time after which no further retry starts.
    pub retry_deadline: Duration,
    /// First backoff step; each retry doubles it (with jitter).
    pub retry_base_delay: Duration,
    /// The Google accounts, by the name the client mapping uses.
    pub accounts: BTreeMap<String, Account>,
    /// Client identity → account name.
    pub clients: BTreeMap<String, String>,
    /// Account for clients not in `clients`; without one they reach nothing.
    pub default_account: Option<String>,
    /// Whether the config file itself holds a plaintext secret (its mode then matters).
    pub holds_plaintext_secret: bool,
}

/// How the gateway signs in as one Google account.
#[derive(Debug, Clone)]
pub enum Account {
    /// A service account with domain-wide delegation, acting as `subject`.
    ServiceAccount {
        /// The service account's key (shared by every delegated account).
        key: Arc<Secret<ServiceAccountKey>>,
        /// The Workspace user to act as.
        subject: String,
    },
    /// A user who authorized the gateway once (installed-app flow); the
    /// refresh token yields access tokens from then on.
    AuthorizedUser {
        /// OAuth client id.
        client_id: String,
        /// OAuth client secret.
        client_secret: Secret<String>,
        /// The user's refresh token.
        refresh_token: Secret<String>,
    },
}

/// Accounts compare by what they sign in with, secrets included (a changed
/// refresh token or key must read as a change); a service account key by
/// its JSON, as `yup_oauth2` gives it no comparison of its own.
impl PartialEq for Account {
    fn eq(&self, other: &Account) -> bool {
        match (self, other) {
            (
                Account::ServiceAccount { key, subject },
                Account::ServiceAccount {
                    key: other_key,
                    subject: other_subject,
                },
            ) => {
                let json =
                    |key: &Secret<ServiceAccountKey>| serde_json::to_value(key.expose()).ok();
                subject == other_subject && json(key) == json(other_key)
            }
            (
                Account::AuthorizedUser {
                    client_id,
                    client_secret,
                    refresh_token,
                },
                Account::AuthorizedUser {
                    client_id: other_id,
                    client_secret: other_secret,
                    refresh_token: other_token,
                },
            ) => {
                client_id == other_id
                    && client_secret == other_secret
                    && refresh_token == other_token
            }
            _ => false,
        }
    }
}

/// What validation reads besides the table: the config folder, and warnings to fill.
pub(super) struct Context<'a> {
    pub(super) base: &'a Path,
    pub(super) problems: &'a mut Vec<Problem>,
    pub(super) warnings: &'a mut Vec<String>,
}

/// Validates the table in stages: the secrets key, the credentials (a
/// service account key, an OAuth client), the endpoints and call settings,
/// the accounts, and the client → account mapping. Every problem is
/// collected, each under its key.
pub(super) fn validate(raw: RawGoogle, cx: Context<'_>) -> Google {
    let Context {
        base,
        problems,
        warnings,
    } = cx;
    let mut secrets = open_secrets(&raw, base);
    let service_account = service_account_key(
        (
            raw.service_account_key.as_ref(),
            raw.service_account_key_file.as_ref(),
        ),
        base,
        &mut secrets,
        problems,
        warnings,
    );
    let (api_base_url, token_uri) = endpoints(&raw.api_base_url, &raw.token_uri, problems);
    let calls = call_settings(&raw, problems);
    let oauth_client = oauth_client(&raw, &mut secrets, problems);
    let holds_plaintext_secret = holds_plaintext_secret(&raw);
    let credentials = Credentials {
        service_account,
        service_account_set: raw.service_account_key.is_some()
            || raw.service_account_key_file.is_some(),
        oauth_client,
        oauth_client_set: raw.oauth_client_id.is_some() || raw.oauth_client_secret.is_some(),
    };
    let names: Vec<String> = raw.accounts.keys().cloned().collect();
    let accounts = build_accounts(raw.accounts, &credentials, &mut secrets, problems);
    check_client_mapping(
        "backend.google",
        &raw.clients,
        raw.default_account.as_ref(),
        &names,
        problems,
    );
    Google {
        api_base_url,
        token_uri,
        request_timeout: calls.request_timeout,
        max_attempts: raw.max_attempts,
        retry_deadline: calls.retry_deadline,
        retry_base_delay: calls.retry_base_delay,
        accounts,
        clients: raw.clients,
        default_account: raw.default_account,
        holds_plaintext_secret,
    }
}

/// The keys `ENC:` values are opened with (the current one and, during a
/// change-over, the previous one), relative to the config folder.
fn open_secrets(raw: &RawGoogle, base: &Path) -> Secrets {
    let key_file = raw.encryption_key_file.as_ref().map(|p| base.join(p));
    let previous_file = raw
        .previous_encryption_key_file
        .as_ref()
        .map(|p| base.join(p));
    Secrets::load(
        "backend.google",
        key_file.as_deref(),
        previous_file.as_deref(),
    )
}

/// The OAuth client of authorized-user accounts: id and secret together.
fn oauth_client(
    raw: &RawGoogle,
    secrets: &mut Secrets,
    problems: &mut Vec<Problem>,
) -> Option<(String, Secret<String>)> {
    match (&raw.oauth_client_id, &raw.oauth_client_secret) {
        (Some(id), Some(secret)) => Some((
            id.clone(),
            Secret::new(secrets.reveal("backend.google.oauth_client_secret", secret, problems)),
        )),
        (None, None) => None,
        _ => {
            problems.push(Problem::new(
                "backend.google.oauth_client_id",
                "oauth_client_id and oauth_client_secret go together",
            ));
            None
        }
    }
}

/// The API root (which must end with `/`) and the token endpoint.
fn endpoints(api_base_url: &str, token_uri: &str, problems: &mut Vec<Problem>) -> (String, String) {
    let api_base_url = endpoint(
        "backend.google.api_base_url",
        api_base_url.to_owned(),
        problems,
    );
    if !api_base_url.ends_with('/') {
        problems.push(Problem::new(
            "backend.google.api_base_url",
            "must end with `/` (e.g. .../calendar/v3/)",
        ));
    }
    let token_uri = endpoint("backend.google.token_uri", token_uri.to_owned(), problems);
    (api_base_url, token_uri)
}

/// How each call to Google is timed and retried.
struct CallSettings {
    request_timeout: Duration,
    retry_deadline: Duration,
    retry_base_delay: Duration,
}

fn call_settings(raw: &RawGoogle, problems: &mut Vec<Problem>) -> CallSettings {
    let settings = CallSettings {
        request_timeout: duration(
            "backend.google.request_timeout",
            &raw.request_timeout,
            problems,
        ),
        retry_deadline: duration(
            "backend.google.retry_deadline",
            &raw.retry_deadline,
            problems,
        ),
        retry_base_delay: duration(
            "backend.google.retry_base_delay",
            &raw.retry_base_delay,
            problems,
        ),
    };
    if !(1..=10).contains(&raw.max_attempts) {
        problems.push(Problem::new(
            "backend.google.max_attempts",
            "must be between 1 and 10",
        ));
    }
    settings
}

/// Whether a secret is written in the file itself without `ENC:`.
fn holds_plaintext_secret(raw: &RawGoogle) -> bool {
    [&raw.service_account_key, &raw.oauth_client_secret]
        .into_iter()
        .flatten()
        .chain(
            raw.accounts
                .values()
                .filter_map(|a| a.refresh_token.as_ref()),
        )
        .any(|v| !v.starts_with(PREFIX))
}

/// Checks an endpoint URL: HTTPS, or plain HTTP to a loopback address only
/// (a local test server), since bearer tokens travel on it.
pub(super) fn endpoint(key: &str, url: String, problems: &mut Vec<Problem>) -> String {
    let parsed = match url.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some() => uri,
        _ => {
            problems.push(Problem::new(key, format!("`{url}` is not an absolute URL")));
            return String::new();
        }
    };
    let loopback = parsed.host().is_some_and(|h| {
        h == "localhost"
            || h.trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match parsed.scheme_str() {
        Some("https") => url,
        Some("http") if loopback => url,
        _ => {
            problems.push(Problem::new(
                key,
                format!("`{url}` must use https (plain http only to a loopback address)"),
            ));
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Context, RawGoogle, validate};

    #[test]
    fn secrets_never_reach_debug_output() {
        let raw: RawGoogle = toml::from_str(
            r#"
oauth_client_id = "client"
oauth_client_secret = "very-secret-client-secret"
default_account = "me"
[accounts.me]
refresh_token = "1//very-secret-refresh-token"
"#,
        )
        .unwrap();
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let google = validate(
            raw,
            Context {
                base: Path::new("."),
                problems: &mut problems,
                warnings: &mut warnings,
            },
        );
        assert!(problems.is_empty(), "{problems:?}");
        let shown = format!("{google:?}");
        assert!(shown.contains("Secret([redacted])"), "{shown}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
}
