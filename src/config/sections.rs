//! Validation of the `[listen]`, `[tls]`, `[mcp]` and `[backend.embedded]`
//! tables: each turns its raw table into the validated settings, pushing one
//! keyed [`Problem`] per mistake.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::raw::{RawEmbedded, RawListen, RawMcp, RawTls};
use crate::config::{Embedded, IdentitySource, Listen, Mcp, Problem, Tls, delay, duration};

pub(super) fn validate_listen(raw: &RawListen, problems: &mut Vec<Problem>) -> Listen {
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
    if let Some(name) = &raw.interface
        && !is_interface_name(name)
    {
        problems.push(Problem::new(
            "listen.interface",
            format!(
                "`{name}` is not a network interface name (1 to 15 characters, no `/` or spaces)"
            ),
        ));
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
        interface: raw.interface.clone(),
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
        drain_timeout: duration("listen.drain_timeout", &raw.drain_timeout, problems),
        drain_delay: delay("listen.drain_delay", &raw.drain_delay, problems),
    }
}

/// Whether `name` could name a Linux network interface (`IFNAMSIZ` less its NUL).
fn is_interface_name(name: &str) -> bool {
    (1..=15).contains(&name.len()) && name.chars().all(|c| c.is_ascii_graphic() && c != '/')
}

/// `path` under `base`, or a problem when no such file exists.
pub(super) fn existing_file(
    key: &str,
    path: PathBuf,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> PathBuf {
    let path = base.join(path);
    if !path.is_file() {
        problems.push(Problem::new(
            key,
            format!("file not found: {}", path.display()),
        ));
    }
    path
}

pub(super) fn validate_tls(raw: RawTls, base: &Path, problems: &mut Vec<Problem>) -> Tls {
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
    let acme = raw
        .acme
        .map(|acme| crate::config::acme::validate_acme(acme, base, problems));
    let (certificate, private_key, server_names) = match &acme {
        Some(acme) => {
            for (key, written) in [
                ("tls.certificate", raw.certificate.is_some()),
                ("tls.private_key", raw.private_key.is_some()),
                ("tls.server_names", !raw.server_names.is_empty()),
            ] {
                if written {
                    problems.push(Problem::new(
                        key,
                        "is set by [tls.acme] (the certificate lives in tls.acme.state_dir and covers tls.acme.names): remove this key",
                    ));
                }
            }
            (
                acme.certificate_path(),
                acme.private_key_path(),
                acme.names.clone(),
            )
        }
        None => {
            let mut required = |key: &str, path: Option<PathBuf>| match path {
                Some(path) => existing_file(key, path, base, problems),
                None => {
                    problems.push(Problem::new(
                        key,
                        "is required (or get the certificate from a CA with [tls.acme])",
                    ));
                    PathBuf::new()
                }
            };
            let certificate = required("tls.certificate", raw.certificate);
            let private_key = required("tls.private_key", raw.private_key);
            for (i, name) in raw.server_names.iter().enumerate() {
                if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                    problems.push(Problem::new(
                        format!("tls.server_names[{i}]"),
                        format!("`{name}` is not a DNS name or IP address"),
                    ));
                }
            }
            (certificate, private_key, raw.server_names)
        }
    };
    Tls {
        certificate,
        private_key,
        server_names,
        acme,
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

pub(super) fn validate_mcp(raw: RawMcp, audience: &str, problems: &mut Vec<Problem>) -> Mcp {
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

pub(super) fn validate_embedded(
    raw: RawEmbedded,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Embedded {
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
            .map(|c| crate::config::CalendarSeed {
                id: c.id,
                name: c.name,
                time_zone: c.time_zone,
            })
            .collect(),
    }
}
