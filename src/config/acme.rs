//! `[tls.acme]`: the server certificate from an RFC 8555 CA (Let's Encrypt,
//! step-ca, any ACME server), validated here so `check-config` names every
//! wrong key before the gateway asks a CA for anything. The running client
//! is [`crate::acme`].
//!
//! ```toml
//! [tls.acme]
//! directory = "https://acme-v02.example/directory"
//! contact = ["mailto:ops@example.org"]
//! names = ["gateway.vpn.example.org"]
//! state_dir = "acme"            # account key and certificate, 0600 files
//! challenge = "dns-01"          # or "tls-alpn-01" (on the MCP port)
//! # directory_ca = "ca.pem"     # roots for the CA's own HTTPS (step-ca); default: the system's
//! # eab_key_id = "kid"          # External Account Binding (step-ca, ZeroSSL, GTS)
//! # eab_hmac_key_file = "eab.key"
//! [tls.acme.dns_update]         # RFC 2136 + TSIG, for dns-01
//! server = "10.0.0.53:53"
//! zone = "example.org"
//! tsig_key_file = "acme-update.key"   # as `tsig-keygen` writes it
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Problem;
use crate::config::private_file::mode_open_to_others;
use crate::config::tsig_key::{TsigKey, parse_tsig_key};
use crate::secrets::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAcme {
    directory: String,
    #[serde(default)]
    contact: Vec<String>,
    names: Vec<String>,
    state_dir: PathBuf,
    challenge: String,
    directory_ca: Option<PathBuf>,
    eab_key_id: Option<String>,
    eab_hmac_key_file: Option<PathBuf>,
    dns_update: Option<RawDnsUpdate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDnsUpdate {
    server: String,
    zone: String,
    tsig_key_file: PathBuf,
    #[serde(default = "default_ttl")]
    ttl: u32,
}

fn default_ttl() -> u32 {
    60
}

/// The validated `[tls.acme]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Acme {
    /// The CA's directory URL (https).
    pub directory: String,
    /// `mailto:` contacts for the account.
    pub contact: Vec<String>,
    /// The names the certificate is ordered for (and must cover).
    pub names: Vec<String>,
    /// Where the account key and the issued certificate are kept (mode 0700, files 0600).
    pub state_dir: PathBuf,
    /// How the CA checks that the names are ours.
    pub challenge: AcmeChallenge,
    /// Roots for the CA's own HTTPS; `None`: the system's.
    pub directory_ca: Option<PathBuf>,
    /// External Account Binding, for CAs that require one.
    pub external_account: Option<ExternalAccount>,
}

impl Acme {
    /// The issued chain (PEM), which `tls.certificate` points at.
    pub fn certificate_path(&self) -> PathBuf {
        self.state_dir.join("certificate.pem")
    }

    /// The issued certificate's key (PEM), which `tls.private_key` points at.
    pub fn private_key_path(&self) -> PathBuf {
        self.state_dir.join("private_key.pem")
    }
}

/// The challenge type of `tls.acme.challenge`.
#[derive(Debug, Clone, PartialEq)]
pub enum AcmeChallenge {
    /// A TXT record set by RFC 2136 dynamic update.
    Dns01(DnsUpdate),
    /// RFC 8737, answered on the MCP port.
    TlsAlpn01,
}

/// `[tls.acme.dns_update]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsUpdate {
    /// The primary server that takes updates.
    pub server: SocketAddr,
    /// The zone the `_acme-challenge` records go in (no trailing dot).
    pub zone: String,
    /// The TSIG key the updates are signed with.
    pub tsig: TsigKey,
    /// TTL of the TXT records.
    pub ttl: u32,
}

/// `eab_key_id` and the HMAC key in `eab_hmac_key_file`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalAccount {
    /// The key identifier the CA gave.
    pub key_id: String,
    /// The HMAC key (decoded from base64url).
    pub hmac_key: Secret<Vec<u8>>,
}

pub(super) fn validate_acme(raw: RawAcme, base: &Path, problems: &mut Vec<Problem>) -> Acme {
    let mut problem = |key: &str, text: String| problems.push(Problem::new(key, text));
    if !raw.directory.starts_with("https://") {
        problem(
            "tls.acme.directory",
            format!(
                "`{}` must be the CA's https:// directory URL",
                raw.directory
            ),
        );
    }
    for (i, contact) in raw.contact.iter().enumerate() {
        if !contact.starts_with("mailto:") || contact.contains([' ', ',']) || contact.len() < 10 {
            problem(
                &format!("tls.acme.contact[{i}]"),
                format!("`{contact}` must be one mailto: address, e.g. \"mailto:ops@example.org\""),
            );
        }
    }
    let challenge = match raw.challenge.as_str() {
        "dns-01" => match raw.dns_update {
            Some(dns) => Some(AcmeChallenge::Dns01(validate_dns_update(
                dns,
                base,
                &mut problem,
            ))),
            None => {
                problem(
                    "tls.acme.dns_update",
                    "is required with challenge = \"dns-01\" (server, zone, tsig_key_file)".into(),
                );
                None
            }
        },
        "tls-alpn-01" => {
            if raw.dns_update.is_some() {
                problem(
                    "tls.acme.dns_update",
                    "is only used with challenge = \"dns-01\"; remove it or change the challenge"
                        .into(),
                );
            }
            Some(AcmeChallenge::TlsAlpn01)
        }
        other => {
            problem(
                "tls.acme.challenge",
                format!("`{other}` is not one of dns-01, tls-alpn-01"),
            );
            None
        }
    };
    if raw.names.is_empty() {
        problem("tls.acme.names", "must list at least one DNS name".into());
    }
    for (i, name) in raw.names.iter().enumerate() {
        let key = format!("tls.acme.names[{i}]");
        let bare = name.strip_prefix("*.").unwrap_or(name);
        if !is_dns_name(bare) {
            problem(
                &key,
                format!("`{name}` is not a DNS name (IP addresses cannot be ordered)"),
            );
        } else if name.starts_with("*.") && !matches!(challenge, Some(AcmeChallenge::Dns01(_))) {
            problem(
                &key,
                format!("`{name}`: a wildcard can only be validated with dns-01"),
            );
        }
        if let Some(AcmeChallenge::Dns01(dns)) = &challenge
            && !in_zone(bare, &dns.zone)
        {
            problem(
                &key,
                format!(
                    "`{name}` is not inside tls.acme.dns_update.zone `{}`",
                    dns.zone
                ),
            );
        }
    }
    let state_dir = base.join(&raw.state_dir);
    if state_dir.exists() && !state_dir.is_dir() {
        problem(
            "tls.acme.state_dir",
            format!("{} exists and is not a folder", state_dir.display()),
        );
    }
    let directory_ca = raw.directory_ca.map(|path| {
        let path = base.join(path);
        if !path.is_file() {
            problem(
                "tls.acme.directory_ca",
                format!("file not found: {}", path.display()),
            );
        }
        path
    });
    let external_account = match (raw.eab_key_id, raw.eab_hmac_key_file) {
        (None, None) => None,
        (Some(key_id), Some(file)) => {
            read_secret_file("tls.acme.eab_hmac_key_file", &base.join(file), &mut problem).and_then(
                |text| match base64url(text.trim()) {
                    Some(hmac_key) if !hmac_key.is_empty() => Some(ExternalAccount {
                        key_id,
                        hmac_key: Secret::new(hmac_key),
                    }),
                    _ => {
                        problem(
                            "tls.acme.eab_hmac_key_file",
                            "must hold the CA's HMAC key in base64url, as the CA gave it".into(),
                        );
                        None
                    }
                },
            )
        }
        (Some(_), None) => {
            problem(
                "tls.acme.eab_hmac_key_file",
                "is required with eab_key_id (both or neither)".into(),
            );
            None
        }
        (None, Some(_)) => {
            problem(
                "tls.acme.eab_key_id",
                "is required with eab_hmac_key_file (both or neither)".into(),
            );
            None
        }
    };
    Acme {
        directory: raw.directory,
        contact: raw.contact,
        names: raw.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        state_dir,
        challenge: challenge.unwrap_or(AcmeChallenge::TlsAlpn01),
        directory_ca,
        external_account,
    }
}

fn validate_dns_update(
    raw: RawDnsUpdate,
    base: &Path,
    problem: &mut impl FnMut(&str, String),
) -> DnsUpdate {
    let server = raw
        .server
        .parse::<SocketAddr>()
        .or_else(|_| {
            raw.server
                .parse::<std::net::IpAddr>()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .unwrap_or_else(|_| {
            problem(
                "tls.acme.dns_update.server",
                format!(
                    "`{}` must be the primary server's IP address, with a port if not 53",
                    raw.server
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 53))
        });
    let zone = raw.zone.trim_end_matches('.').to_ascii_lowercase();
    if !is_dns_name(&zone) {
        problem(
            "tls.acme.dns_update.zone",
            format!("`{}` is not a DNS name", raw.zone),
        );
    }
    if raw.ttl == 0 || raw.ttl > 86_400 {
        problem(
            "tls.acme.dns_update.ttl",
            format!("{} must be 1 to 86400 seconds", raw.ttl),
        );
    }
    let path = base.join(&raw.tsig_key_file);
    let tsig = read_secret_file("tls.acme.dns_update.tsig_key_file", &path, problem)
        .and_then(|text| match parse_tsig_key(&text) {
            Ok(key) => Some(key),
            Err(why) => {
                problem(
                    "tls.acme.dns_update.tsig_key_file",
                    format!("{}: {why}", path.display()),
                );
                None
            }
        })
        .unwrap_or_else(|| TsigKey {
            name: String::new(),
            algorithm: String::new(),
            secret: Secret::new(Vec::new()),
        });
    DnsUpdate {
        server,
        zone,
        tsig,
        ttl: raw.ttl,
    }
}

/// A secret file's text; refused when others may read it.
fn read_secret_file(
    key: &str,
    path: &Path,
    problem: &mut impl FnMut(&str, String),
) -> Option<String> {
    if let Some(mode) = mode_open_to_others(path) {
        problem(
            key,
            format!(
                "{} has mode {mode:04o}: a secret must be readable by its owner only; run `chmod 600 {}`",
                path.display(),
                path.display()
            ),
        );
        return None;
    }
    std::fs::read_to_string(path)
        .map_err(|e| problem(key, format!("cannot read {}: {e}", path.display())))
        .ok()
}

fn base64url(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

/// A host name: dot-separated labels of letters, digits and hyphens.
fn is_dns_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    !name.is_empty()
        && name.len() <= 253
        && name.parse::<std::net::IpAddr>().is_err()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether `name` is `zone` or below it.
fn in_zone(name: &str, zone: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == zone || name.ends_with(&format!(".{zone}"))
}
