//! `mcp-gateway healthcheck`: for container runtimes that have no curl (the
//! distroless image). Healthy means the MCP port accepts a TCP connection and,
//! when metrics are on, `GET /metrics` answers 200 — both from this host.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::config::Config;

/// How long each probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to reach a listener bound to `addr` from this host (a wildcard
/// address is reached on loopback).
fn local(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// Probes the gateway `config` describes; a message saying what answered, or what did not.
pub fn check(config: &Config) -> anyhow::Result<String> {
    let mcp = local(config.listen.address);
    TcpStream::connect_timeout(&mcp, PROBE_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("listen.address {mcp}: {e}"))?;
    if !config.metrics.enabled {
        return Ok(format!("healthy: {mcp} accepts connections"));
    }
    let metrics = local(config.metrics.listen);
    if config.metrics.tls.is_some() {
        // Scrapers present certificates; the probe has none: a connection will do.
        TcpStream::connect_timeout(&metrics, PROBE_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("metrics.listen {metrics}: {e}"))?;
        return Ok(format!("healthy: {mcp} and {metrics} accept connections"));
    }
    let mut stream = TcpStream::connect_timeout(&metrics, PROBE_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("metrics.listen {metrics}: {e}"))?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|e| {
        anyhow::anyhow!("metrics.listen {metrics}: no answer ({e}); is this host in metrics.allow?")
    })?;
    if &head[9..12] != b"200" {
        anyhow::bail!(
            "metrics.listen {metrics}: answered {}",
            String::from_utf8_lossy(&head)
        );
    }
    Ok(format!(
        "healthy: {mcp} accepts connections, {metrics} serves metrics"
    ))
}
