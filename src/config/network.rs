//! The address-level settings: `[network]` (allowlist), `[listen.proxy_protocol]`,
//! `[geoip]` and `[log]`, read strictly and validated with keyed problems.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::config::Problem;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawNetwork {
    allow: Vec<String>,
    allow_any: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawProxy {
    trusted: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawGeo {
    database: Option<PathBuf>,
    allow_countries: Vec<String>,
    deny_countries: Vec<String>,
    exempt: Vec<String>,
    unknown: String,
}

impl Default for RawGeo {
    fn default() -> Self {
        RawGeo {
            database: None,
            allow_countries: Vec::new(),
            deny_countries: Vec::new(),
            exempt: Vec::new(),
            unknown: "deny".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    security_log: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    allow_lines: bool,
    audit_format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            security_log: None,
            audit_log: None,
            allow_lines: true,
            audit_format: "text".into(),
        }
    }
}

/// How audit lines are written (`log.audit_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// `key=value` text after the syslog-style prefix, as the security log.
    Text,
    /// One JSON object a line, for log pipelines (Loki, Elastic, Vector).
    Json,
}

/// Which client addresses may connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedNetworks {
    /// Only these networks.
    Only(Vec<IpNet>),
    /// Any address, because the config says `network.allow_any = true`.
    Any,
}

/// Countries allowed or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountryList {
    /// Only these ISO codes may connect.
    Allow(HashSet<String>),
    /// These ISO codes may not.
    Deny(HashSet<String>),
}

/// The validated `[geoip]` table (present only when a database is configured).
#[derive(Debug, Clone)]
pub struct Geo {
    /// The MaxMind DB file.
    pub database: PathBuf,
    /// Allow or deny list.
    pub countries: CountryList,
    /// Networks that skip the lookup.
    pub exempt: Vec<IpNet>,
    /// Whether an address without a country is admitted (`unknown = "allow"`).
    pub allow_unknown: bool,
}

/// The validated address-level settings.
#[derive(Debug, Clone)]
pub struct Network {
    /// The allowlist.
    pub allow: AllowedNetworks,
    /// Load balancers that may send PROXY headers; `None` when the protocol is off.
    pub proxy_trusted: Option<Vec<IpNet>>,
    /// The GeoIP policy, if any.
    pub geo: Option<Geo>,
    /// Security log file; `None` means stderr.
    pub security_log: Option<PathBuf>,
    /// Audit log file (one line per tool call); `None` means stderr.
    pub audit_log: Option<PathBuf>,
    /// Whether each admitted connection writes an `ALLOW` line.
    pub allow_lines: bool,
    /// How audit lines are written.
    pub audit_format: AuditFormat,
}

/// Parses `a.b.c.d/n`, `x::/n`, or a bare address (a single host). A network
/// with host bits set (`10.8.0.7/8`) is refused: it would silently mean the
/// whole `10.0.0.0/8`, which is rarely what the writer meant.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net = text
        .parse::<IpNet>()
        .map_err(|_| format!("`{text}` is not an IP address or CIDR"))?;
    if net.trunc() != net {
        return Err(format!(
            "`{text}` has host bits set: write {} for the network, or {} for the one address",
            net.trunc(),
            IpNet::from(net.addr())
        ));
    }
    Ok(net)
}

fn cidrs(key: &str, list: &[String], problems: &mut Vec<Problem>) -> Vec<IpNet> {
    list.iter()
        .enumerate()
        .filter_map(|(i, text)| {
            parse_cidr(text)
                .map_err(|why| problems.push(Problem::new(format!("{key}[{i}]"), why)))
                .ok()
        })
        .collect()
}

fn countries(key: &str, list: &[String], problems: &mut Vec<Problem>) -> HashSet<String> {
    list.iter()
        .enumerate()
        .filter_map(|(i, code)| {
            let valid = code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase());
            if !valid {
                problems.push(Problem::new(
                    format!("{key}[{i}]"),
                    format!("`{code}` is not a two-letter upper-case ISO country code"),
                ));
            }
            valid.then(|| code.clone())
        })
        .collect()
}

pub(super) fn validate(
    network: RawNetwork,
    proxy: RawProxy,
    geo: RawGeo,
    log: RawLog,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Network {
    let allowed = cidrs("network.allow", &network.allow, problems);
    let allow = match (network.allow_any, allowed.is_empty()) {
        (true, true) => AllowedNetworks::Any,
        (true, false) => {
            problems.push(Problem::new(
                "network.allow_any",
                "cannot be combined with a network.allow list",
            ));
            AllowedNetworks::Only(allowed)
        }
        (false, true) => {
            problems.push(Problem::new(
                "network.allow",
                "is empty: list the client networks (e.g. your VPN range), or set network.allow_any = true explicitly",
            ));
            AllowedNetworks::Only(allowed)
        }
        (false, false) => AllowedNetworks::Only(allowed),
    };
    let trusted = cidrs("listen.proxy_protocol.trusted", &proxy.trusted, problems);
    let proxy_trusted = (!trusted.is_empty()).then_some(trusted);
    let geo = validate_geo(geo, base, problems);
    let audit_format = match log.audit_format.as_str() {
        "text" => AuditFormat::Text,
        "json" => AuditFormat::Json,
        other => {
            problems.push(Problem::new(
                "log.audit_format",
                format!("`{other}` is neither \"text\" nor \"json\""),
            ));
            AuditFormat::Text
        }
    };
    Network {
        allow,
        proxy_trusted,
        geo,
        security_log: log.security_log.map(|p| base.join(p)),
        audit_log: log.audit_log.map(|p| base.join(p)),
        allow_lines: log.allow_lines,
        audit_format,
    }
}

fn validate_geo(raw: RawGeo, base: &Path, problems: &mut Vec<Problem>) -> Option<Geo> {
    let allow_unknown = match raw.unknown.as_str() {
        "deny" => false,
        "allow" => true,
        other => {
            problems.push(Problem::new(
                "geoip.unknown",
                format!("`{other}` is not \"deny\" or \"allow\""),
            ));
            false
        }
    };
    let allow = countries("geoip.allow_countries", &raw.allow_countries, problems);
    let deny = countries("geoip.deny_countries", &raw.deny_countries, problems);
    let exempt = cidrs("geoip.exempt", &raw.exempt, problems);
    let Some(database) = raw.database else {
        if !allow.is_empty() || !deny.is_empty() {
            problems.push(Problem::new(
                "geoip.database",
                "country lists are set but no database is configured",
            ));
        }
        return None;
    };
    let database = base.join(database);
    if !database.is_file() {
        problems.push(Problem::new(
            "geoip.database",
            format!("file not found: {}", database.display()),
        ));
    }
    let countries = match (allow.is_empty(), deny.is_empty()) {
        (false, true) => CountryList::Allow(allow),
        (true, false) => CountryList::Deny(deny),
        (false, false) => {
            problems.push(Problem::new(
                "geoip.allow_countries",
                "set either allow_countries or deny_countries, not both",
            ));
            CountryList::Allow(allow)
        }
        (true, true) => {
            problems.push(Problem::new(
                "geoip.allow_countries",
                "a database is configured but neither allow_countries nor deny_countries",
            ));
            CountryList::Allow(allow)
        }
    };
    Some(Geo {
        database,
        countries,
        exempt,
        allow_unknown,
    })
}

/// Ranges that are not public address space: private (RFC 1918, unique
/// local), shared (CGNAT, where some VPNs number their peers), loopback and
/// link-local.
const NOT_PUBLIC: [&str; 9] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
];

/// The allowed networks that reach beyond private address space (all of
/// them for `allow_any`), as written: what a gateway on every interface
/// should not admit.
pub fn public_networks(allow: &AllowedNetworks) -> Vec<String> {
    let AllowedNetworks::Only(networks) = allow else {
        return vec!["allow_any".to_owned()];
    };
    let private: Vec<IpNet> = NOT_PUBLIC
        .iter()
        .map(|n| n.parse().expect("a valid CIDR"))
        .collect();
    networks
        .iter()
        .filter(|n| !private.iter().any(|p| p.contains(*n)))
        .map(ToString::to_string)
        .collect()
}

#[cfg(test)]
mod public_tests {
    use super::{AllowedNetworks, public_networks};

    #[test]
    fn only_networks_beyond_private_space_are_public() {
        let allow = |list: &[&str]| {
            AllowedNetworks::Only(list.iter().map(|n| n.parse().unwrap()).collect())
        };
        assert!(
            public_networks(&allow(&[
                "10.8.0.0/24",
                "100.64.0.0/10",
                "fd00::/64",
                "127.0.0.1/32"
            ]))
            .is_empty()
        );
        assert_eq!(
            public_networks(&allow(&[
                "10.8.0.0/24",
                "203.0.113.0/24",
                "0.0.0.0/0",
                "10.0.0.0/7"
            ])),
            ["203.0.113.0/24", "0.0.0.0/0", "10.0.0.0/7"]
        );
        assert_eq!(public_networks(&AllowedNetworks::Any), ["allow_any"]);
    }
}
