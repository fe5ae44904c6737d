//! The `[metrics]` table: where Prometheus scrapes, and who may.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::Deserialize;

use crate::config::network::parse_cidr;
use crate::config::sections::existing_file;
use crate::config::{IdentitySource, Problem, Tls};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetrics {
    enabled: bool,
    listen: String,
    allow: Vec<String>,
    max_connections: usize,
    tls: Option<RawMetricsTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetricsTls {
    certificate: PathBuf,
    private_key: PathBuf,
    client_ca: PathBuf,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            enabled: true,
            listen: "127.0.0.1:9464".into(),
            allow: vec!["127.0.0.0/8".into(), "::1".into()],
            max_connections: 16,
            tls: None,
        }
    }
}

/// The validated `[metrics]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Whether the metrics listener runs at all.
    pub enabled: bool,
    /// Its own address, apart from the MCP listener.
    pub listen: SocketAddr,
    /// Scrapers allowed to connect (checked before anything is read).
    pub allow: Vec<IpNet>,
    /// Connections served at once; more are refused at accept.
    pub max_connections: usize,
    /// When set, scrapers must present a client certificate from this CA.
    pub tls: Option<Tls>,
}

pub(super) fn validate(raw: RawMetrics, base: &Path, problems: &mut Vec<Problem>) -> Metrics {
    let listen = raw.listen.parse().unwrap_or_else(|_| {
        problems.push(Problem::new(
            "metrics.listen",
            format!("`{}` is not an IP:port address", raw.listen),
        ));
        SocketAddr::from(([127, 0, 0, 1], 9464))
    });
    let allow = raw
        .allow
        .iter()
        .enumerate()
        .filter_map(|(i, text)| {
            parse_cidr(text)
                .map_err(|why| problems.push(Problem::new(format!("metrics.allow[{i}]"), why)))
                .ok()
        })
        .collect::<Vec<_>>();
    if raw.enabled && allow.is_empty() {
        problems.push(Problem::new(
            "metrics.allow",
            "is empty: list the Prometheus servers that scrape (or set enabled = false)",
        ));
    }
    if raw.max_connections == 0 {
        problems.push(Problem::new(
            "metrics.max_connections",
            "must be at least 1 (Prometheus and the readiness checks need one each)",
        ));
    }
    let tls = raw.tls.map(|t| Tls {
        certificate: existing_file("metrics.tls.certificate", t.certificate, base, problems),
        private_key: existing_file("metrics.tls.private_key", t.private_key, base, problems),
        server_names: Vec::new(),
        acme: None,
        client_ca: existing_file("metrics.tls.client_ca", t.client_ca, base, problems),
        crls: Vec::new(),
        allow_tls12: false,
        identity: IdentitySource::SubjectCn,
    });
    Metrics {
        enabled: raw.enabled,
        listen,
        allow,
        max_connections: raw.max_connections,
        tls,
    }
}
