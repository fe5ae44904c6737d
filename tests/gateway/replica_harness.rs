//! Replicas of the real binary and the real HAProxy in front of them, for the
//! replica tests: each replica's config (its own address and logs; the PKI,
//! store and revocation file shared), the shipped HAProxy config with the
//! test's addresses, and clients that reach one replica directly.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Setup, http_client_builder, render};

/// HAProxy's address towards the replicas (`source` in its backend).
pub const BALANCER: &str = "127.0.0.2";
/// The client's address.
pub const CLIENT: &str = "127.0.0.5";
/// An attacker's address.
pub const STUFFER: &str = "127.0.0.9";
pub const REPLICAS: [&str; 3] = ["127.0.0.11", "127.0.0.12", "127.0.0.13"];

/// A child process killed on drop.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes replica `n`'s config into the shared folder: its own address and
/// logs; the PKI, store and revocation file shared.
pub fn replica_config(
    shared: &Path,
    n: usize,
    (port, metrics): (u16, u16),
    tables: &str,
) -> std::path::PathBuf {
    let address = REPLICAS[n];
    let text = render(&Setup {
        address: format!("{address}:{port}"),
        network: r#"allow = ["127.0.0.0/8"]"#.into(),
        jwt: "revocations = \"revoked.txt\"".into(),
        tables: format!("[listen.proxy_protocol]\ntrusted = [\"{BALANCER}\"]\n\n{tables}"),
        ..Setup::default()
    })
    .replace(
        "security_log = \"security.log\"",
        &format!("security_log = \"security-{n}.log\""),
    )
    .replace(
        "audit_log = \"audit.log\"",
        &format!("audit_log = \"audit-{n}.log\""),
    )
    .replace(
        "[metrics]\nlisten = \"127.0.0.1:0\"",
        &format!("[metrics]\nlisten = \"{address}:{metrics}\""),
    );
    let config = shared.join(format!("gateway-{n}.toml"));
    std::fs::write(&config, text).unwrap();
    config
}

pub fn spawn_replica(shared: &Path, config: &Path, n: usize) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(shared.join(format!("gateway-{n}.stderr"))).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// The shipped HAProxy config with this test's addresses and ports.
pub fn haproxy_config(listen: u16, port: u16, metrics: u16) -> String {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/haproxy/haproxy.cfg"
    ))
    .unwrap();
    let servers: String = REPLICAS
        .iter()
        .enumerate()
        .map(|(n, ip)| format!("    server gw{} {ip}:{port}\n", n + 1))
        .collect();
    let mut text = String::new();
    for line in shipped.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("server gw") || trimmed.starts_with("log /dev/log") {
            continue;
        }
        let line = line
            .replace("maxconn 20000", "maxconn 1000")
            .replace("bind :8443", &format!("bind 127.0.0.1:{listen}"))
            .replace("check port 9464", &format!("check port {metrics}"));
        text.push_str(&line);
        text.push('\n');
        if trimmed.starts_with("balance roundrobin") {
            text.push_str(&format!("    source {BALANCER}\n"));
        }
    }
    text.push_str(&servers);
    text
}

/// Waits (up to 20 s) until every replica answers `/ready` on `metrics`, so
/// that HAProxy's first checks find them all up.
pub async fn wait_ready(metrics: u16) {
    for address in REPLICAS {
        let url = format!("http://{address}:{metrics}/ready");
        within(Duration::from_secs(20), async || {
            reqwest::get(&url).await.is_ok_and(|r| r.status() == 200)
        })
        .await
        .unwrap_or_else(|| panic!("{url} never answered 200"));
    }
}

/// Checks `config` with `haproxy -c` and starts HAProxy on it, in the foreground.
pub fn start_haproxy(shared: &Path, config: &str) -> Running {
    let cfg = shared.join("haproxy.cfg");
    std::fs::write(&cfg, config).unwrap();
    let checked = Command::new("haproxy")
        .arg("-c")
        .arg("-f")
        .arg(&cfg)
        .output()
        .expect(
            "haproxy must be installed (Debian package haproxy; scripts/test-all.sh installs it)",
        );
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    Running(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(shared.join("haproxy.stderr")).unwrap())
            .spawn()
            .unwrap(),
    )
}

/// A client of replica `n` alone from `source` (the replicas' certificate
/// names localhost: it is resolved to the replica), presenting `token`.
pub fn direct_client(
    pki: &crate::common::Pki,
    n: usize,
    port: u16,
    source: &str,
    token: &str,
) -> (reqwest::Client, String) {
    let client = http_client_builder(
        &pki.ca.issued.cert_pem,
        Some(&pki.ca.issue_client("agent-h").unwrap()),
        Some(token),
    )
    .local_address(source.parse::<IpAddr>().unwrap())
    .resolve(
        "localhost",
        (REPLICAS[n].parse::<IpAddr>().unwrap(), port).into(),
    )
    .build()
    .unwrap();
    (client, format!("https://localhost:{port}/mcp"))
}

/// Polls `condition` every 100 ms for up to `limit`; how long it took.
pub async fn within(limit: Duration, condition: impl AsyncFn() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if condition().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
