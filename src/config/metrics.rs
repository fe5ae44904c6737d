//! The `[metrics]` table: where Prometheus scrapes, and who may.

use std::net::SocketAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::config::Problem;
use crate::config::network::parse_cidr;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetrics {
    enabled: bool,
    listen: String,
    allow: Vec<String>,
}

impl Default for RawMetrics {
    fn default() -> Self {
        RawMetrics {
            enabled: true,
            listen: "127.0.0.1:9464".into(),
            allow: vec!["127.0.0.0/8".into(), "::1".into()],
        }
    }
}

/// The validated `[metrics]` table.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Whether the metrics listener runs at all.
    pub enabled: bool,
    /// Its own address, apart from the MCP listener.
    pub listen: SocketAddr,
    /// Scrapers allowed to connect (checked before anything is read).
    pub allow: Vec<IpNet>,
}

pub(super) fn validate(raw: RawMetrics, problems: &mut Vec<Problem>) -> Metrics {
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
    Metrics {
        enabled: raw.enabled,
        listen,
        allow,
    }
}
