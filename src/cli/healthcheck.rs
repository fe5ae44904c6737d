//! `mcp-gateway healthcheck`: for container runtimes that have no curl (the
//! distroless image). Healthy means `GET /ready` on the metrics listener
//! answers 200 (the gateway serves, its logs are writable, it is not
//! draining). The probe never touches the MCP port's TLS: a handshake
//! without a client certificate is a ban-worthy line, and five runs would
//! ban this very host. Only without a metrics listener (or with one that
//! requires certificates) does it fall back to TCP connections, which close
//! before a byte and are counted as probes, never logged as refusals.

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
    if !config.metrics.enabled {
        TcpStream::connect_timeout(&mcp, PROBE_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("listen.address {mcp}: {e}"))?;
        return Ok(format!("healthy: {mcp} accepts connections"));
    }
    let metrics = local(config.metrics.listen);
    if config.metrics.tls.is_some() {
        // Scrapers present certificates; the probe has none: a connection will do.
        TcpStream::connect_timeout(&metrics, PROBE_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("metrics.listen {metrics}: {e}"))?;
        return Ok(format!("healthy: {metrics} accepts connections"));
    }
    let mut stream = TcpStream::connect_timeout(&metrics, PROBE_TIMEOUT)
        .map_err(|e| anyhow::anyhow!("metrics.listen {metrics}: {e}"))?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.write_all(b"GET /ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(4096)
        .read_to_end(&mut answer)
        .map_err(|e| {
            anyhow::anyhow!(
                "metrics.listen {metrics}: no answer ({e}); is this host in metrics.allow?"
            )
        })?;
    let answer = String::from_utf8_lossy(&answer);
    if answer.get(9..12) != Some("200") {
        let said = answer.split("\r\n\r\n").nth(1).unwrap_or("").trim();
        let status = answer.lines().next().unwrap_or("nothing");
        anyhow::bail!("metrics.listen {metrics}: /ready answered {status}: {said}");
    }
    Ok(format!("healthy: {metrics}/ready says the gateway serves"))
}
