//! The configuration file as written: strict serde structs (unknown keys are
//! errors) with the documented defaults. Validation lives in the parent module.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::Problem;
use crate::config::locate::{key_at, line_at};

/// Most problems reported from one file before giving up.
const MAX_PROBLEMS: usize = 32;

/// Reads `text` into the raw structs, with every syntax, type and unknown-key
/// problem in it, each with its dotted key and line (in `at`, as `line N`,
/// until the caller knows the file name). TOML stops at its first error, so
/// each problem's entry is blanked out and the text read again; the structs
/// read from what is left (when it reads) are returned too, so that the
/// validation can report its own problems in the same pass.
pub(super) fn read(text: &str) -> (Option<RawConfig>, Vec<Problem>) {
    let mut text = text.to_owned();
    let mut problems: Vec<Problem> = Vec::new();
    while problems.len() < MAX_PROBLEMS {
        let error = match toml::from_str::<RawConfig>(&text) {
            Ok(raw) => return (Some(raw), problems),
            Err(error) => error,
        };
        let found = error.span().and_then(|span| key_at(&text, span.start));
        let line = error.span().map(|span| line_at(&text, span.start));
        let (key, message) = describe(&error, found.as_ref().map(|f| f.0.as_str()));
        let blanked_before = problems
            .iter()
            .any(|p| message.contains(&format!("`{}`", last_segment(&p.key))));
        if blanked_before {
            // "missing field" for a key blanked here: already reported.
            return (None, problems);
        }
        problems.push(Problem {
            at: line.map(|l| format!("line {l}")),
            ..Problem::new(key, message)
        });
        match found {
            Some((_, entry)) => {
                // A misspelled table header (`[jwtt]`) goes with its keys:
                // blanked alone, they would read as keys of the table above
                // and be reported there, wrongly.
                let entry = with_table_body(&text, entry);
                // Spaces keep every later line and offset where it was.
                let blank: String = text[entry.clone()]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' })
                    .collect();
                text.replace_range(entry, &blank);
            }
            None => return (None, problems),
        }
    }
    (None, problems)
}

/// `entry` extended to the end of its table when it is a table header (a
/// line starting with `[`): up to the next header, or the end of the text.
fn with_table_body(text: &str, entry: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let line_start = text[..entry.start].rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..].trim_start().starts_with('[') {
        return entry;
    }
    let after_header = text[entry.start..]
        .find('\n')
        .map_or(text.len(), |i| entry.start + i + 1);
    let mut end = after_header;
    for line in text[after_header..].split_inclusive('\n') {
        if line.trim_start().starts_with('[') {
            break;
        }
        end += line.len();
    }
    line_start.min(entry.start)..end
}

fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

/// The dotted key and the message for one TOML error, in this file's words:
/// `log.audit-deny: unknown key; expected security_log, audit_log or allow_lines`.
fn describe(error: &toml::de::Error, key: Option<&str>) -> (String, String) {
    let message = error.message().trim().to_owned();
    let key = key.unwrap_or("config").to_owned();
    match message.strip_prefix("unknown field `") {
        Some(rest) => {
            let expected = rest
                .split_once(", expected ")
                .map(|(_, list)| list.replace('`', ""))
                .unwrap_or_default();
            (key, format!("unknown key; expected {expected}"))
        }
        None => (key, message),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub(super) listen: RawListen,
    pub(super) tls: RawTls,
    #[serde(default)]
    pub(super) mcp: RawMcp,
    #[serde(default)]
    pub(super) backend: RawBackend,
    #[serde(default)]
    pub(super) network: crate::config::network::RawNetwork,
    #[serde(default)]
    pub(super) geoip: crate::config::network::RawGeo,
    #[serde(default)]
    pub(super) log: crate::config::network::RawLog,
    pub(super) jwt: crate::config::jwt::RawJwt,
    #[serde(default)]
    pub(super) metrics: crate::config::metrics::RawMetrics,
    #[serde(default)]
    pub(super) rate_limits: crate::config::protection::RawRateLimits,
    #[serde(default)]
    pub(super) bans: crate::config::protection::RawBans,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawListen {
    pub(super) address: String,
    pub(super) interface: Option<String>,
    pub(super) max_connections: usize,
    pub(super) handshake_timeout: String,
    pub(super) header_read_timeout: String,
    pub(super) max_request_body_bytes: usize,
    pub(super) body_read_timeout: String,
    pub(super) first_request_timeout: String,
    pub(super) idle_timeout: String,
    pub(super) max_connections_per_address: usize,
    pub(super) max_concurrent_streams: u32,
    pub(super) max_header_list_bytes: u32,
    pub(super) drain_timeout: String,
    pub(super) drain_delay: String,
    pub(super) proxy_protocol: crate::config::network::RawProxy,
}

impl Default for RawListen {
    fn default() -> Self {
        RawListen {
            address: "127.0.0.1:8443".into(),
            interface: None,
            max_connections: 1024,
            handshake_timeout: "10s".into(),
            header_read_timeout: "10s".into(),
            max_request_body_bytes: 1024 * 1024,
            body_read_timeout: "10s".into(),
            first_request_timeout: "10s".into(),
            idle_timeout: "120s".into(),
            max_connections_per_address: 64,
            max_concurrent_streams: 16,
            max_header_list_bytes: 32 * 1024,
            drain_timeout: "10s".into(),
            drain_delay: "0s".into(),
            proxy_protocol: Default::default(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) certificate: Option<PathBuf>,
    pub(super) private_key: Option<PathBuf>,
    #[serde(default)]
    pub(super) server_names: Vec<String>,
    pub(super) acme: Option<crate::config::acme::RawAcme>,
    pub(super) client_ca: PathBuf,
    #[serde(default)]
    pub(super) crls: Vec<PathBuf>,
    #[serde(default = "default_min_version")]
    pub(super) min_version: String,
    #[serde(default = "default_identity")]
    pub(super) identity: String,
}

fn default_min_version() -> String {
    "1.3".into()
}

fn default_identity() -> String {
    "san_uri".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMcp {
    pub(super) path: String,
    pub(super) allowed_hosts: Vec<String>,
    pub(super) allowed_origins: Vec<String>,
    pub(super) resource: Option<String>,
    pub(super) authorization_servers: Vec<String>,
    pub(super) max_sessions: usize,
    pub(super) max_sessions_per_client: usize,
    pub(super) session_idle_timeout: String,
}

impl Default for RawMcp {
    fn default() -> Self {
        RawMcp {
            path: "/mcp".into(),
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: Vec::new(),
            resource: None,
            authorization_servers: Vec::new(),
            max_sessions: 1000,
            max_sessions_per_client: 16,
            session_idle_timeout: "5m".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawBackend {
    pub(super) kind: String,
    pub(super) embedded: RawEmbedded,
    pub(super) google: Option<crate::config::google::RawGoogle>,
    pub(super) caldav: Option<crate::config::caldav::RawCalDav>,
}

impl Default for RawBackend {
    fn default() -> Self {
        RawBackend {
            kind: "embedded".into(),
            embedded: RawEmbedded::default(),
            google: None,
            caldav: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEmbedded {
    pub(super) path: PathBuf,
    pub(super) time_zone: String,
    pub(super) calendars: Vec<RawCalendar>,
}

impl Default for RawEmbedded {
    fn default() -> Self {
        RawEmbedded {
            path: PathBuf::from("calendar.db"),
            time_zone: "UTC".into(),
            calendars: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalendar {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(default = "utc")]
    pub(super) time_zone: String,
}

fn utc() -> String {
    "UTC".into()
}
