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
fn replica_config(
    shared: &Path,
    n: usize,
    (port, metrics): (u16, u16),
    (tables, backend): (&str, &str),
) -> std::path::PathBuf {
    let address = REPLICAS[n];
    let text = render(&Setup {
        backend: backend.to_owned(),
        address: format!("{address}:{port}"),
        network: r#"allow = ["127.0.0.0/8"]"#.into(),
        jwt: "revocations = \"revoked.txt\"".into(),
        tables: format!("[listen.proxy_protocol]\ntrusted = [\"{BALANCER}\"]\n\n{tables}"),
        metrics_listen: format!("{address}:{metrics}"),
        ..Setup::default()
    })
    .replace(
        "security_log = \"security.log\"",
        &format!("security_log = \"security-{n}.log\""),
    )
    .replace(
        "audit_log = \"audit.log\"",
        &format!("audit_log = \"audit-{n}.log\""),
    );
    let config = shared.join(format!("gateway-{n}.toml"));
    std::fs::write(&config, text).unwrap();
    config
}

fn spawn_replica(shared: &Path, config: &Path, n: usize) -> Running {
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

/// Three replicas sharing a folder (PKI, store, revocation file), each with
/// `tables` added to its config; all three answer `/ready` once it returns.
pub struct Cluster {
    /// The shared folder.
    pub shared: tempfile::TempDir,
    /// The CA and token key every replica trusts.
    pub pki: crate::common::Pki,
    /// The MCP port, the same on every replica address.
    pub port: u16,
    /// The metrics port, likewise.
    pub metrics: u16,
    /// The running replicas; `None` once a test killed one.
    pub replicas: Vec<Option<Running>>,
}

impl Cluster {
    /// Starts the three replicas on the embedded store and waits until they
    /// are ready.
    pub async fn start(tables: &str) -> Cluster {
        Cluster::start_on(tables, crate::common::EMBEDDED_BACKEND, |_| ()).await
    }

    /// Starts the three replicas on `backend` (its tables), after `prepare`
    /// has written what it needs into the shared folder.
    pub async fn start_on(tables: &str, backend: &str, prepare: impl FnOnce(&Path)) -> Cluster {
        let shared = tempfile::TempDir::new().unwrap();
        prepare(shared.path());
        let pki = crate::common::write_pki(shared.path());
        std::fs::write(shared.path().join("revoked.txt"), "").unwrap();
        // For `bans.shared_dir = "bans"`, which must exist.
        std::fs::create_dir(shared.path().join("bans")).unwrap();
        let (port, metrics) = (crate::common::free_port(), crate::common::free_port());
        let replicas = (0..REPLICAS.len())
            .map(|n| {
                let config = replica_config(shared.path(), n, (port, metrics), (tables, backend));
                Some(spawn_replica(shared.path(), &config, n))
            })
            .collect();
        let cluster = Cluster {
            shared,
            pki,
            port,
            metrics,
            replicas,
        };
        // Built first: a replica that never gets ready is explained by the
        // stderr tails the cluster prints when dropped during a panic.
        wait_ready(metrics).await;
        cluster
    }

    /// Where the replicas write; for the logs.
    pub fn path(&self) -> &Path {
        self.shared.path()
    }

    /// Replica `n`'s security log so far.
    pub fn security_log(&self, n: usize) -> String {
        std::fs::read_to_string(self.path().join(format!("security-{n}.log"))).unwrap_or_default()
    }

    /// How many lines of replica `n`'s security log contain `fragment`.
    pub fn lines_with(&self, n: usize, fragment: &str) -> usize {
        self.security_log(n)
            .lines()
            .filter(|l| l.contains(fragment))
            .count()
    }

    /// Kills replica `n` and starts it again on the same config.
    pub fn restart(&mut self, n: usize) {
        self.replicas[n] = None;
        let config = self.path().join(format!("gateway-{n}.toml"));
        self.replicas[n] = Some(spawn_replica(self.path(), &config, n));
    }

    /// Starts HAProxy with the shipped config, `adjust`ed, on `listen`.
    pub async fn balance(&self, listen: u16, adjust: impl FnOnce(String) -> String) -> Running {
        let config = adjust(haproxy_config(listen, self.port, self.metrics));
        let haproxy = start_haproxy(self.path(), &config);
        crate::common::wait_for_port(listen).await;
        haproxy
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failure behind the balancer is explained by what HAProxy saw
        // (servers marked down, retries) and by the replicas' own errors.
        if std::thread::panicking() {
            for name in [
                "haproxy.stderr",
                "gateway-0.stderr",
                "gateway-1.stderr",
                "gateway-2.stderr",
            ] {
                let text = std::fs::read_to_string(self.path().join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                eprintln!("--- {name} (last lines) ---");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
        crate::sweep::keep(self.shared.path(), None, &self.pki.secrets());
    }
}

/// The shipped HAProxy config with this test's addresses and ports.
fn haproxy_config(listen: u16, port: u16, metrics: u16) -> String {
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
            .replace("maxconn 4096", "maxconn 1000")
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
async fn wait_ready(metrics: u16) {
    for address in REPLICAS {
        let url = format!("http://{address}:{metrics}/ready");
        // Generous: the suite starts many servers at once (gateways, HAProxy,
        // the Python CalDAV servers), and a start on a starved 2-core machine
        // is slow, not broken; a replica that fails to start says so below.
        within(Duration::from_secs(60), async || {
            reqwest::get(&url).await.is_ok_and(|r| r.status() == 200)
        })
        .await
        .unwrap_or_else(|| panic!("{url} never answered 200"));
    }
}

/// Checks `config` with `haproxy -c` and starts HAProxy on it, in the foreground.
fn start_haproxy(shared: &Path, config: &str) -> Running {
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

/// Whether a test client opens a new connection for every call (so that
/// HAProxy spreads the calls over the replicas) or keeps one.
pub enum Connections {
    PerCall,
    Reused,
}

/// A client from `source` with `identity`'s certificate and `token`, for the
/// balancer.
pub fn client_from(
    pki: &crate::common::Pki,
    source: &str,
    (identity, token): (&str, Option<&str>),
    connections: Connections,
) -> reqwest::Client {
    let builder = http_client_builder(
        &pki.ca.issued.cert_pem,
        Some(&pki.ca.issue_client(identity).unwrap()),
        token,
    )
    .local_address(source.parse::<IpAddr>().unwrap());
    match connections {
        Connections::PerCall => builder.pool_max_idle_per_host(0),
        Connections::Reused => builder,
    }
    .build()
    .unwrap()
}

/// Creates `event` through `url` (the balancer), asserting that it was
/// acknowledged; the new event's id. `label` names the call in a failure.
pub async fn create_through(
    client: &reqwest::Client,
    url: &str,
    label: &str,
    event: serde_json::Value,
) -> String {
    let (status, answer) = crate::common::call_stateless(client, url, "create_event", event).await;
    assert_eq!(status, 200, "{label}: {answer}");
    assert!(answer["result"]["isError"] != true, "{label}: {answer}");
    answer["result"]["structuredContent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: {answer}"))
        .to_owned()
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
