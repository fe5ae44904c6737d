//! The configuration file: TOML read into strict serde structs (unknown keys
//! are errors), then validated into [`Config`]. Every problem names its key, and
//! all problems are reported at once so an operator fixes the file in one pass.

pub mod google;
mod google_secrets;
mod jwt;
mod network;
mod raw;

pub use crate::config::jwt::Jwt;
pub use crate::config::network::{AllowedNetworks, CountryList, Geo, Network, parse_cidr};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::raw::{RawConfig, RawEmbedded, RawListen, RawMcp, RawTls};

/// One thing wrong with the configuration, tied to the key that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `tls.client_ca`.
    pub key: String,
    /// What is wrong, e.g. `file not found: /etc/ca.pem`.
    pub problem: String,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    /// Things that work but deserve the operator's attention (printed at start).
    pub warnings: Vec<String>,
}

/// The calendar backend chosen by `backend.kind`.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded SQLite store.
    Embedded(Embedded),
    /// Google Calendar.
    Google(google::Google),
}

/// Listener limits.
#[derive(Debug, Clone)]
pub struct Listen {
    /// Address to bind.
    pub address: SocketAddr,
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
}

/// TLS settings (paths already resolved against the config file's folder).
#[derive(Debug, Clone)]
pub struct Tls {
    /// Server certificate chain (PEM).
    pub certificate: PathBuf,
    /// Server private key (PEM).
    pub private_key: PathBuf,
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
#[derive(Debug, Clone)]
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

/// Embedded store settings.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// SQLite file.
    pub path: PathBuf,
    /// Zone of the `primary` calendar.
    pub time_zone: String,
    /// Further calendars to create when missing.
    pub calendars: Vec<crate::calendar::embedded::CalendarSeed>,
}

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problems(vec![Problem::new(
                "config",
                format!("cannot read {}: {e}", path.display()),
            )])
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::parse(&text, base)?;
        if let Backend::Embedded(embedded) = &config.backend
            && google_secrets::readable_by_others(&embedded.path)
        {
            config.warnings.push(format!(
                "backend.embedded.path: {} is readable by group or others, who can read every calendar without the gateway; chmod 600 it (and its -wal and -shm files)",
                embedded.path.display()
            ));
        }
        let plaintext = matches!(&config.backend, Backend::Google(g) if g.holds_plaintext_secret);
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
        let raw: RawConfig = toml::from_str(text).map_err(|e| Problems(vec![toml_problem(&e)]))?;
        let mut problems = Vec::new();
        let mut raw = raw;
        let proxy = std::mem::take(&mut raw.listen.proxy_protocol);
        let listen = validate_listen(&raw.listen, &mut problems);
        let tls = validate_tls(raw.tls, base, &mut problems);
        let jwt = jwt::validate(raw.jwt, base, &mut problems);
        let mcp = validate_mcp(raw.mcp, &jwt.audience, &mut problems);
        let mut warnings = Vec::new();
        let backend = match (raw.backend.kind.as_str(), raw.backend.google) {
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
                    format!("unknown backend `{other}` (supported: embedded, google)"),
                ));
                Backend::Embedded(validate_embedded(raw.backend.embedded, base, &mut problems))
            }
        };
        let network =
            network::validate(raw.network, proxy, raw.geoip, raw.log, base, &mut problems);
        if problems.is_empty() {
            Ok(Config {
                listen,
                tls,
                mcp,
                backend,
                network,
                jwt,
                warnings,
            })
        } else {
            Err(Problems(problems))
        }
    }
}

fn toml_problem(e: &toml::de::Error) -> Problem {
    let message = e.message().to_owned();
    Problem::new("config", message)
}

pub(crate) fn duration(key: &str, text: &str, problems: &mut Vec<Problem>) -> Duration {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => {
            problems.push(Problem::new(key, "must be longer than zero"));
            Duration::from_secs(1)
        }
        Err(e) => {
            problems.push(Problem::new(
                key,
                format!("`{text}` is not a duration such as \"5s\" ({e})"),
            ));
            Duration::from_secs(1)
        }
    }
}

fn validate_listen(raw: &RawListen, problems: &mut Vec<Problem>) -> Listen {
    let address = raw.address.parse().unwrap_or_else(|_| {
        problems.push(Problem::new(
            "listen.address",
            format!("`{}` is not an IP:port address", raw.address),
        ));
        SocketAddr::from(([127, 0, 0, 1], 8443))
    });
    if raw.max_connections == 0 {
        problems.push(Problem::new("listen.max_connections", "must be at least 1"));
    }
    if raw.max_request_body_bytes < 1024 {
        problems.push(Problem::new(
            "listen.max_request_body_bytes",
            "must be at least 1024",
        ));
    }
    let at_least = |key: &str, value: u64, min: u64, problems: &mut Vec<Problem>| {
        if value < min {
            problems.push(Problem::new(key, format!("must be at least {min}")));
        }
    };
    at_least(
        "listen.max_connections_per_address",
        raw.max_connections_per_address as u64,
        1,
        problems,
    );
    at_least(
        "listen.max_concurrent_streams",
        u64::from(raw.max_concurrent_streams),
        1,
        problems,
    );
    at_least(
        "listen.max_header_list_bytes",
        u64::from(raw.max_header_list_bytes),
        8192,
        problems,
    );
    Listen {
        address,
        max_connections: raw.max_connections.max(1),
        handshake_timeout: duration("listen.handshake_timeout", &raw.handshake_timeout, problems),
        header_read_timeout: duration(
            "listen.header_read_timeout",
            &raw.header_read_timeout,
            problems,
        ),
        max_request_body_bytes: raw.max_request_body_bytes,
        body_read_timeout: duration("listen.body_read_timeout", &raw.body_read_timeout, problems),
        first_request_timeout: duration(
            "listen.first_request_timeout",
            &raw.first_request_timeout,
            problems,
        ),
        idle_timeout: duration("listen.idle_timeout", &raw.idle_timeout, problems),
        max_connections_per_address: raw.max_connections_per_address.max(1),
        max_concurrent_streams: raw.max_concurrent_streams.max(1),
        max_header_list_bytes: raw.max_header_list_bytes.max(8192),
    }
}

fn existing_file(key: &str, path: PathBuf, base: &Path, problems: &mut Vec<Problem>) -> PathBuf {
    let path = base.join(path);
    if !path.is_file() {
        problems.push(Problem::new(
            key,
            format!("file not found: {}", path.display()),
        ));
    }
    path
}

fn validate_tls(raw: RawTls, base: &Path, problems: &mut Vec<Problem>) -> Tls {
    let allow_tls12 = match raw.min_version.as_str() {
        "1.3" => false,
        "1.2" => true,
        other => {
            problems.push(Problem::new(
                "tls.min_version",
                format!("`{other}` is not supported (use \"1.3\" or \"1.2\")"),
            ));
            false
        }
    };
    let identity = match raw.identity.as_str() {
        "san_uri" => IdentitySource::SanUri,
        "san_dns" => IdentitySource::SanDns,
        "subject_cn" => IdentitySource::SubjectCn,
        other => {
            problems.push(Problem::new(
                "tls.identity",
                format!("`{other}` is not one of san_uri, san_dns, subject_cn"),
            ));
            IdentitySource::SanUri
        }
    };
    Tls {
        certificate: existing_file("tls.certificate", raw.certificate, base, problems),
        private_key: existing_file("tls.private_key", raw.private_key, base, problems),
        client_ca: existing_file("tls.client_ca", raw.client_ca, base, problems),
        crls: raw
            .crls
            .into_iter()
            .enumerate()
            .map(|(i, p)| existing_file(&format!("tls.crls[{i}]"), p, base, problems))
            .collect(),
        allow_tls12,
        identity,
    }
}

fn validate_mcp(raw: RawMcp, audience: &str, problems: &mut Vec<Problem>) -> Mcp {
    if !raw.path.starts_with('/') || raw.path.len() < 2 || raw.path.contains(['?', '#', ' ']) {
        problems.push(Problem::new(
            "mcp.path",
            format!("`{}` must be an absolute path such as \"/mcp\"", raw.path),
        ));
    }
    if raw.allowed_hosts.is_empty() {
        problems.push(Problem::new(
            "mcp.allowed_hosts",
            "must list at least one host name",
        ));
    }
    let resource = raw.resource.unwrap_or_else(|| audience.to_owned());
    if !resource.starts_with("https://") {
        problems.push(Problem::new(
            "mcp.resource",
            format!("`{resource}` must be an https:// URL (defaults to jwt.audience)"),
        ));
    }
    for (i, origin) in raw.allowed_origins.iter().enumerate() {
        if !(origin.starts_with("https://") || origin.starts_with("http://"))
            || origin.ends_with('/')
        {
            problems.push(Problem::new(
                format!("mcp.allowed_origins[{i}]"),
                format!("`{origin}` must be scheme://host[:port]"),
            ));
        }
    }
    if raw.max_sessions == 0 {
        problems.push(Problem::new("mcp.max_sessions", "must be at least 1"));
    }
    if raw.max_sessions_per_client == 0 || raw.max_sessions_per_client > raw.max_sessions {
        problems.push(Problem::new(
            "mcp.max_sessions_per_client",
            "must be between 1 and mcp.max_sessions",
        ));
    }
    Mcp {
        path: raw.path,
        allowed_hosts: raw.allowed_hosts,
        allowed_origins: raw.allowed_origins,
        resource,
        authorization_servers: raw.authorization_servers,
        max_sessions: raw.max_sessions.max(1),
        max_sessions_per_client: raw.max_sessions_per_client.max(1),
        session_idle_timeout: duration(
            "mcp.session_idle_timeout",
            &raw.session_idle_timeout,
            problems,
        ),
    }
}

fn validate_embedded(raw: RawEmbedded, base: &Path, problems: &mut Vec<Problem>) -> Embedded {
    if raw.time_zone.parse::<chrono_tz::Tz>().is_err() {
        problems.push(Problem::new(
            "backend.embedded.time_zone",
            format!("unknown time zone `{}`", raw.time_zone),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, cal) in raw.calendars.iter().enumerate() {
        let key = format!("backend.embedded.calendars[{i}]");
        let id_ok = !cal.id.is_empty()
            && cal.id.len() <= 128
            && cal
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
        if !id_ok {
            problems.push(Problem::new(
                format!("{key}.id"),
                format!("`{}` must be 1-128 of A-Z a-z 0-9 - _ . @", cal.id),
            ));
        }
        if !seen.insert(cal.id.clone()) || cal.id == "primary" {
            problems.push(Problem::new(
                format!("{key}.id"),
                format!("`{}` is declared twice (primary always exists)", cal.id),
            ));
        }
        if cal.time_zone.parse::<chrono_tz::Tz>().is_err() {
            problems.push(Problem::new(
                format!("{key}.time_zone"),
                format!("unknown time zone `{}`", cal.time_zone),
            ));
        }
    }
    Embedded {
        path: base.join(raw.path),
        time_zone: raw.time_zone,
        calendars: raw
            .calendars
            .into_iter()
            .map(|c| crate::calendar::embedded::CalendarSeed {
                id: c.id,
                name: c.name,
                time_zone: c.time_zone,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
