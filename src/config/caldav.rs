//! The `[backend.caldav]` table: the CalDAV server (or servers) the gateway
//! acts on, the account each client acts as, and how requests to the server
//! are secured, timed and retried. Passwords may be written as `ENC:` values
//! (see [`crate::secrets`]), opened here once and kept in [`Secret`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::config::google::endpoint;
use crate::config::google_accounts::check_client_mapping;
use crate::config::google_secrets::{Secrets, readable_by_others};
use crate::config::{Problem, duration};
use crate::secrets::{PREFIX, Secret};

const TABLE: &str = "backend.caldav";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalDav {
    #[serde(default = "default_request_timeout")]
    request_timeout: String,
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_retry_deadline")]
    retry_deadline: String,
    #[serde(default = "default_retry_base_delay")]
    retry_base_delay: String,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default)]
    client_certificate: Option<PathBuf>,
    #[serde(default)]
    client_private_key: Option<PathBuf>,
    #[serde(default)]
    encryption_key_file: Option<PathBuf>,
    #[serde(default)]
    previous_encryption_key_file: Option<PathBuf>,
    #[serde(default)]
    ready_follows_backend: bool,
    #[serde(default = "default_time_zone")]
    time_zone: String,
    #[serde(default)]
    default_account: Option<String>,
    #[serde(default)]
    clients: BTreeMap<String, String>,
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    primary: Option<String>,
}

fn default_request_timeout() -> String {
    "15s".into()
}

fn default_max_attempts() -> u32 {
    4
}

fn default_retry_deadline() -> String {
    "30s".into()
}

fn default_retry_base_delay() -> String {
    "250ms".into()
}

fn default_time_zone() -> String {
    "UTC".into()
}

/// The validated `[backend.caldav]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct CalDav {
    /// Limit on each exchange with the server.
    pub request_timeout: Duration,
    /// Most tries of one request, the first included.
    pub max_attempts: u32,
    /// Time after which no further retry starts.
    pub retry_deadline: Duration,
    /// First backoff step; each retry doubles it (with jitter).
    pub retry_base_delay: Duration,
    /// Roots trusted instead of the system's (a self-hosted server's CA).
    pub roots: Option<Vec<CertificateDer<'static>>>,
    /// A certificate the gateway presents to the server, and its key (PEM).
    pub client_identity: Option<(Vec<CertificateDer<'static>>, Secret<String>)>,
    /// Whether `/ready` reports a replica not ready while the server cannot
    /// be reached (off by default: an outage of the calendar server would
    /// otherwise take every replica out of the balancer).
    pub ready_follows_backend: bool,
    /// The zone of calendars that state none.
    pub time_zone: String,
    /// The accounts, by the name the client mapping uses.
    pub accounts: BTreeMap<String, Account>,
    /// Client identity → account name.
    pub clients: BTreeMap<String, String>,
    /// Account for clients not in `clients`; without one they reach nothing.
    pub default_account: Option<String>,
    /// Whether the config file itself holds a plaintext password.
    pub holds_plaintext_secret: bool,
}

/// One account on a CalDAV server.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Where discovery starts: the server's CalDAV root, a principal, or
    /// (from `domain`) `https://<domain>/.well-known/caldav` (RFC 6764).
    pub url: String,
    /// Basic authentication, when the server asks for it.
    pub credentials: Option<(String, Secret<String>)>,
    /// The collection (last path segment) `primary` names; without one,
    /// the first calendar in path order.
    pub primary: Option<String>,
}

/// Validates the table: call settings, TLS files, accounts (with their
/// passwords opened), the client mapping. Every problem is collected.
pub(super) fn validate(raw: RawCalDav, base: &Path, problems: &mut Vec<Problem>) -> CalDav {
    let key = |name: &str| format!("{TABLE}.{name}");
    let request_timeout = duration(&key("request_timeout"), &raw.request_timeout, problems);
    let retry_deadline = duration(&key("retry_deadline"), &raw.retry_deadline, problems);
    let retry_base_delay = duration(&key("retry_base_delay"), &raw.retry_base_delay, problems);
    if !(1..=10).contains(&raw.max_attempts) {
        problems.push(Problem::new(
            key("max_attempts"),
            "must be between 1 and 10",
        ));
    }
    if raw.time_zone.parse::<chrono_tz::Tz>().is_err() {
        problems.push(Problem::new(
            key("time_zone"),
            format!("`{}` is not an IANA time zone", raw.time_zone),
        ));
    }
    let roots = raw
        .ca_file
        .as_ref()
        .and_then(|file| certificates(&key("ca_file"), &base.join(file), problems));
    let client_identity = client_identity(&raw, base, problems);
    let mut secrets = Secrets::load(
        TABLE,
        raw.encryption_key_file
            .as_ref()
            .map(|p| base.join(p))
            .as_deref(),
        raw.previous_encryption_key_file
            .as_ref()
            .map(|p| base.join(p))
            .as_deref(),
    );
    let holds_plaintext_secret = raw
        .accounts
        .values()
        .filter_map(|a| a.password.as_ref())
        .any(|p| !p.starts_with(PREFIX));
    let names: Vec<String> = raw.accounts.keys().cloned().collect();
    check_client_mapping(
        TABLE,
        &raw.clients,
        raw.default_account.as_ref(),
        &names,
        problems,
    );
    let accounts = raw
        .accounts
        .into_iter()
        .filter_map(|(name, account)| {
            let built = build_account(&name, account, &mut secrets, problems)?;
            Some((name, built))
        })
        .collect();
    CalDav {
        request_timeout,
        max_attempts: raw.max_attempts,
        retry_deadline,
        retry_base_delay,
        roots,
        client_identity,
        ready_follows_backend: raw.ready_follows_backend,
        time_zone: raw.time_zone,
        accounts,
        clients: raw.clients,
        default_account: raw.default_account,
        holds_plaintext_secret,
    }
}

/// One account: where it starts (`url` or `domain`, exactly one), its
/// credentials (username and password together) and its primary calendar.
fn build_account(
    name: &str,
    raw: RawAccount,
    secrets: &mut Secrets,
    problems: &mut Vec<Problem>,
) -> Option<Account> {
    let key = |field: &str| format!("{TABLE}.accounts.{name}.{field}");
    let url = match (raw.url, raw.domain) {
        (Some(url), None) => endpoint(&key("url"), url, problems),
        (None, Some(domain)) => {
            let valid = !domain.is_empty()
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !valid {
                problems.push(Problem::new(
                    key("domain"),
                    format!("`{domain}` is not a domain name (e.g. example.org)"),
                ));
                return None;
            }
            format!("https://{domain}/.well-known/caldav")
        }
        _ => {
            problems.push(Problem::new(
                key("url"),
                "set exactly one of `url` (the server's CalDAV URL) or `domain` (found through https://<domain>/.well-known/caldav)",
            ));
            return None;
        }
    };
    let credentials = match (raw.username, raw.password) {
        (Some(user), Some(password)) => {
            if user.contains(':') {
                problems.push(Problem::new(
                    key("username"),
                    "must not contain `:` (Basic authentication separates it from the password)",
                ));
            }
            let password = secrets.reveal(&key("password"), &password, problems);
            Some((user, Secret::new(password)))
        }
        (None, None) => None,
        _ => {
            problems.push(Problem::new(
                key("username"),
                "username and password go together",
            ));
            None
        }
    };
    if url.is_empty() {
        return None;
    }
    Some(Account {
        url,
        credentials,
        primary: raw.primary,
    })
}

/// The client certificate and key presented to the server, together.
fn client_identity(
    raw: &RawCalDav,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Option<(Vec<CertificateDer<'static>>, Secret<String>)> {
    let (cert, key) = match (&raw.client_certificate, &raw.client_private_key) {
        (Some(cert), Some(key)) => (base.join(cert), base.join(key)),
        (None, None) => return None,
        _ => {
            problems.push(Problem::new(
                format!("{TABLE}.client_certificate"),
                "client_certificate and client_private_key go together",
            ));
            return None;
        }
    };
    let chain = certificates(&format!("{TABLE}.client_certificate"), &cert, problems)?;
    let setting = format!("{TABLE}.client_private_key");
    let pem = match std::fs::read_to_string(&key) {
        Ok(pem) => pem,
        Err(e) => {
            problems.push(Problem::new(
                setting,
                format!("cannot read {}: {e}", key.display()),
            ));
            return None;
        }
    };
    if PrivateKeyDer::from_pem_slice(pem.as_bytes()).is_err() {
        problems.push(Problem::new(
            setting,
            format!("{} holds no PEM private key", key.display()),
        ));
        return None;
    }
    if readable_by_others(&key) {
        problems.push(Problem::new(
            setting,
            format!(
                "{} is readable by group or others; chmod 600 it",
                key.display()
            ),
        ));
        return None;
    }
    Some((chain, Secret::new(pem)))
}

/// The PEM certificates in `path` (at least one).
fn certificates(
    key: &str,
    path: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Vec<CertificateDer<'static>>> {
    let read =
        CertificateDer::pem_file_iter(path).and_then(|iter| iter.collect::<Result<Vec<_>, _>>());
    match read {
        Ok(certs) if !certs.is_empty() => Some(certs),
        Ok(_) => {
            problems.push(Problem::new(
                key,
                format!("no certificate in {}", path.display()),
            ));
            None
        }
        Err(e) => {
            problems.push(Problem::new(
                key,
                format!("cannot read PEM certificates from {}: {e}", path.display()),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests;
