//! The configuration file: TOML read into strict serde structs (unknown keys
//! are errors), then validated into [`Config`]. Every problem names its key, and
//! all problems are reported at once so an operator fixes the file in one pass.

pub mod acme;
pub mod caldav;
pub mod google;
mod google_accounts;
mod google_secrets;
mod jwt;
mod locate;
mod metrics;
mod network;
mod private_file;
mod protection;
mod raw;
mod sections;
mod tsig_key;
pub mod widening;

pub use crate::config::jwt::{Jwt, RENEWAL_PATH};
pub use crate::config::metrics::Metrics;
pub use crate::config::network::{
    AllowedNetworks, AuditFormat, CountryList, Geo, Network, parse_cidr,
};
pub use crate::config::private_file::{mode_open_to_others, replace_private};
pub use crate::config::protection::{BanRule, RateBudgets};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::sections::{validate_embedded, validate_listen, validate_mcp, validate_tls};

/// One thing wrong with the configuration, tied to the key that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `tls.client_ca`.
    pub key: String,
    /// What is wrong, e.g. `file not found: /etc/ca.pem`.
    pub problem: String,
    /// Where: `gateway.toml:27` (file and line), once known.
    pub at: Option<String>,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            problem: problem.into(),
            at: None,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        write!(f, "{}: {}", self.key, self.problem)
    }
}

/// Every problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// How the client's identity is read from its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// The first URI subject alternative name, e.g. `spiffe://corp/agent/42`.
    SanUri,
    /// The first DNS subject alternative name.
    SanDns,
    /// The subject's common name.
    SubjectCn,
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where and how connections are accepted.
    pub listen: Listen,
    /// Server certificate and client-certificate verification.
    pub tls: Tls,
    /// The MCP endpoint.
    pub mcp: Mcp,
    /// Where the calendars live.
    pub backend: Backend,
    /// Address allowlist, PROXY protocol, GeoIP and the security log.
    pub network: Network,
    /// Per-request token verification.
    pub jwt: Jwt,
    /// The Prometheus listener.
    pub metrics: Metrics,
    /// Token buckets per address and per client.
    pub rate_limits: RateBudgets,
    /// The in-process ban rule; `None` when off.
    pub bans: Option<BanRule>,
    /// Things that work but deserve the operator's attention (printed at start).
    pub warnings: Vec<String>,
    /// The keys the file spelled out ([`widening::written_keys`]): a reload
    /// whose file lacks one of them is refused.
    pub written_keys: std::collections::BTreeSet<String>,
}

/// The calendar backend chosen by `backend.kind`.
#[derive(Debug, Clone, PartialEq)]
pub enum Backend {
    /// The embedded SQLite store.
    Embedded(Embedded),
    /// Google Calendar.
    Google(google::Google),
    /// A CalDAV server.
    CalDav(caldav::CalDav),
}

/// Listener limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    /// Address to bind.
    pub address: SocketAddr,
    /// The network interface (a VPN tunnel) the listener is bound to: only
    /// connections arriving on it are accepted (`SO_BINDTODEVICE`).
    pub interface: Option<String>,
    /// Connections served at once; more wait in the kernel backlog.
    pub max_connections: usize,
    /// Time a client has to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time a client has to send a request's headers.
    pub header_read_timeout: Duration,
    /// Largest accepted request body.
    pub max_request_body_bytes: usize,
    /// Time a client has to send a request's whole body once its headers are in.
    pub body_read_timeout: Duration,
    /// Time a client has, after the handshake, to send its first complete request.
    pub first_request_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/1 and HTTP/2).
    pub idle_timeout: Duration,
    /// Connections one client address may hold at once; more are refused before TLS.
    pub max_connections_per_address: usize,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Largest request header block (HTTP/1 buffer, HTTP/2 header list), in bytes.
    pub max_header_list_bytes: u32,
    /// On SIGTERM, how long in-flight requests get to finish before connections are cut.
    pub drain_timeout: Duration,
    /// On SIGTERM, how long the gateway goes on accepting while `/ready`
    /// says it is draining, so that a balancer takes it out of rotation first.
    pub drain_delay: Duration,
}

/// TLS settings (paths already resolved against the config file's folder).
#[derive(Debug, Clone, PartialEq)]
pub struct Tls {
    /// Server certificate chain (PEM); with `[tls.acme]`, the one in its state folder.
    pub certificate: PathBuf,
    /// Server private key (PEM); with `[tls.acme]`, the one in its state folder.
    pub private_key: PathBuf,
    /// Names every server certificate put in force must cover (`tls.server_names`,
    /// or `tls.acme.names`); empty: not checked.
    pub server_names: Vec<String>,
    /// The certificate from an ACME CA instead of files someone else renews.
    pub acme: Option<acme::Acme>,
    /// CA bundle client certificates must chain to (PEM).
    pub client_ca: PathBuf,
    /// Certificate revocation lists (PEM or DER).
    pub crls: Vec<PathBuf>,
    /// Whether TLS 1.2 is also offered (1.3 always is).
    pub allow_tls12: bool,
    /// Where the identity comes from.
    pub identity: IdentitySource,
}

/// MCP endpoint settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Mcp {
    /// HTTP path of the streamable HTTP endpoint.
    pub path: String,
    /// Host header values accepted (DNS-rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// `Origin` values accepted; a request carrying any other Origin gets 403.
    pub allowed_origins: Vec<String>,
    /// This server's resource URL (RFC 9728), advertised in 401 answers.
    pub resource: String,
    /// Authorization servers listed in the protected-resource metadata.
    pub authorization_servers: Vec<String>,
    /// MCP sessions held at once, all clients together; more are refused (429).
    pub max_sessions: usize,
    /// MCP sessions one client identity may hold at once; more are refused (429).
    pub max_sessions_per_client: usize,
    /// A session unused for this long is closed and its memory released.
    pub session_idle_timeout: Duration,
}

/// A calendar declared in the config: created on start when missing.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarSeed {
    /// Calendar id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// IANA zone.
    pub time_zone: String,
}

/// Embedded store settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// SQLite file.
    pub path: PathBuf,
    /// Zone of the `primary` calendar.
    pub time_zone: String,
    /// Further calendars to create when missing.
    pub calendars: Vec<CalendarSeed>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let text = read_whole(path).map_err(|e| {
            Problems(vec![Problem::new(
                "config",
                format!("cannot read {}: {e}", path.display()),
            )])
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::parse(&text, base).map_err(|Problems(mut found)| {
            place(path, &text, &mut found);
            Problems(found)
        })?;
        if let Backend::Embedded(embedded) = &config.backend
            && google_secrets::readable_by_others(&embedded.path)
        {
            config.warnings.push(format!(
                "backend.embedded.path: {} is readable by group or others, who can read every calendar without the gateway; chmod 600 it (and its -wal and -shm files)",
                embedded.path.display()
            ));
        }
        let plaintext = match &config.backend {
            Backend::Google(g) => g.holds_plaintext_secret,
            Backend::CalDav(c) => c.holds_plaintext_secret,
            Backend::Embedded(_) => false,
        };
        if plaintext && google_secrets::readable_by_others(path) {
            config.warnings.push(format!(
                "{}: holds a plaintext secret and is readable by group or others; chmod 600 it or store the secret encrypted (mcp-gateway secrets encrypt)",
                path.display()
            ));
        }
        Ok(config)
    }

    /// Validates TOML `text`, resolving relative paths against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, Problems> {
        let (raw, mut problems) = raw::read(text);
        let Some(raw) = raw else {
            return Err(Problems(problems));
        };
        let mut raw = raw;
        let proxy = std::mem::take(&mut raw.listen.proxy_protocol);
        let listen = validate_listen(&raw.listen, &mut problems);
        let tls = validate_tls(raw.tls, base, &mut problems);
        let jwt = jwt::validate(raw.jwt, base, &mut problems);
        let mcp = validate_mcp(raw.mcp, &jwt.audience, &mut problems);
        let mut warnings = Vec::new();
        let caldav = raw.backend.caldav;
        let backend = match (raw.backend.kind.as_str(), raw.backend.google) {
            ("caldav", _) => match caldav {
                Some(table) => Backend::CalDav(caldav::validate(table, base, &mut problems)),
                None => {
                    problems.push(Problem::new(
                        "backend.caldav",
                        "backend.kind is \"caldav\" but the [backend.caldav] table is missing",
                    ));
                    Backend::Embedded(validate_embedded(raw.backend.embedded, base, &mut problems))
                }
            },
            ("embedded", _) => {
                Backend::Embedded(validate_embedded(raw.backend.embedded, base, &mut problems))
            }
            ("google", Some(table)) => {
                let cx = google::Context {
                    base,
                    problems: &mut problems,
                    warnings: &mut warnings,
                };
                Backend::Google(google::validate(table, cx))
            }
            ("google", None) => {
                problems.push(Problem::new(
                    "backend.google",
                    "backend.kind is \"google\" but the [backend.google] table is missing",
                ));
                Backend::Embedded(validate_embedded(raw.backend.embedded, base, &mut problems))
            }
            (other, _) => {
                problems.push(Problem::new(
                    "backend.kind",
                    format!("unknown backend `{other}` (supported: embedded, google, caldav)"),
                ));
                Backend::Embedded(validate_embedded(raw.backend.embedded, base, &mut problems))
            }
        };
        let network =
            network::validate(raw.network, proxy, raw.geoip, raw.log, base, &mut problems);
        let metrics = metrics::validate(raw.metrics, base, &mut problems);
        let rate_limits = protection::rate_limits(raw.rate_limits);
        let bans = protection::bans(raw.bans, base, &mut problems);
        if listen.address.ip().is_unspecified() && listen.interface.is_none() {
            let public = network::public_networks(&network.allow);
            if !public.is_empty() {
                warnings.push(format!(
                    "listen.address: listens on every interface ({}) while network.allow admits public addresses ({}): bind to the VPN (listen.interface, or the tunnel's address) or narrow the allowlist",
                    listen.address,
                    public.join(", ")
                ));
            }
        }
        if problems.is_empty() {
            Ok(Config {
                listen,
                tls,
                mcp,
                backend,
                network,
                jwt,
                metrics,
                rate_limits,
                bans,
                warnings,
                written_keys: widening::written_keys(text),
            })
        } else {
            Err(Problems(problems))
        }
    }
}

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The text of `path`, read only when it held still: its length and
/// modification time are the same before and after the read, and the read
/// got all of it. A file being written meanwhile is an error (a later look,
/// or the next SIGHUP, reads it whole), never half a file.
fn read_whole(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let stamp = |meta: &std::fs::Metadata| (meta.len(), meta.modified().ok());
    let mut file = std::fs::File::open(path)?;
    let before = file.metadata()?;
    if before.len() > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    let mut text = String::new();
    (&mut file)
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)?;
    let after = std::fs::metadata(path)?;
    if stamp(&before) != stamp(&after) || text.len() as u64 != before.len() {
        return Err(std::io::Error::other(
            "the file changed while it was read; it is read again once it holds still",
        ));
    }
    Ok(text)
}

/// Adds the file and line to each problem that lacks them: the line of its key
/// in `path` (checks made after loading — TLS material, the key set — name
/// keys too).
pub fn locate(path: &Path, problems: &mut [Problem]) {
    if let Ok(text) = std::fs::read_to_string(path) {
        place(path, &text, problems);
    }
}

fn place(path: &Path, text: &str, problems: &mut [Problem]) {
    for problem in problems {
        let line = locate::line_of_key(text, &problem.key).or_else(|| {
            // TOML's own errors carry their line in `at` until here.
            let at = problem.at.as_deref()?;
            at.strip_prefix("line ")?.parse().ok()
        });
        if problem
            .at
            .as_deref()
            .is_none_or(|at| at.starts_with("line "))
        {
            problem.at = line.map(|line| format!("{}:{line}", path.display()));
        }
    }
}

/// The one duration rule, for every duration in the config and on the command
/// line: humantime syntax (`"5s"`, `"10m"`, `"24h"`), longer than zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match parse_delay(text)? {
        d if d.is_zero() => Err(format!("`{text}` must be longer than zero")),
        d => Ok(d),
    }
}

/// The same syntax for a delay that may be off (`"0s"`).
fn parse_delay(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration such as \"5s\" ({e})"))
}

/// The duration at `key`, or a problem (and a placeholder, so validation goes on).
pub(crate) fn duration(key: &str, text: &str, problems: &mut Vec<Problem>) -> Duration {
    parse_duration(text).unwrap_or_else(|why| {
        problems.push(Problem::new(key, why));
        Duration::from_secs(1)
    })
}

/// The delay at `key` (zero allowed), or a problem (and no delay).
pub(crate) fn delay(key: &str, text: &str, problems: &mut Vec<Problem>) -> Duration {
    parse_delay(text).unwrap_or_else(|why| {
        problems.push(Problem::new(key, why));
        Duration::ZERO
    })
}

#[cfg(test)]
mod tests;
