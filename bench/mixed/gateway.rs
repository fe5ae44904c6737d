//! The gateway under load: a quickstart folder with rate budgets the load
//! fits in, the real binary spawned on it (and killed and restarted when the
//! run says so), and its resident memory sampled from /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use mcp_gateway::cli::pki::{Authority, Issued};
use mcp_gateway::cli::token::{TokenRequest, claims, sign};

/// Per-client budgets far above what the load sends: the load measures the
/// gateway's work, not its rate limiter (which has tests of its own).
const GENEROUS_RATE_LIMITS: &str = "\n[rate_limits]\nrequests_per_second_per_address = 1000000\nreads_per_minute_per_client = 100000000\nwrites_per_minute_per_client = 100000000\n";

/// A prepared folder and the running gateway serving it.
pub struct Gateway {
    /// The binary started.
    binary: PathBuf,
    /// The quickstart folder (config, keys, store, logs).
    pub dir: PathBuf,
    /// Where it listens.
    pub address: std::net::SocketAddr,
    /// The process, while it runs.
    child: Option<Child>,
    /// Its pid (0 while none runs), for the memory sampler.
    pub pid: Arc<AtomicU32>,
    /// Where its metrics are served (reload counts are read there).
    pub metrics: std::net::SocketAddr,
    /// The config as first written, to restore after an invalid one.
    config_text: String,
    issuer: String,
    audience: String,
    authority: Authority,
    signer: mcp_gateway::policy::token::keys::SigningKey,
}

/// What one simulated client presents.
pub struct Credentials {
    pub cert: Issued,
    pub token: String,
}

impl Gateway {
    /// Writes a quickstart folder in `dir` (listening on `address`) with
    /// budgets that fit the load, and starts `binary` on it.
    pub fn start(binary: &Path, dir: &Path, address: std::net::SocketAddr) -> anyhow::Result<Self> {
        // Its own metrics port too, so that runs side by side do not clash.
        let metrics = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let wanted = mcp_gateway::cli::quickstart::Addresses {
            listen: Some(address),
            metrics: Some(metrics),
        };
        let (config, _) = mcp_gateway::cli::quickstart::prepare(dir, wanted)?;
        let text = std::fs::read_to_string(&config)?;
        let text = format!(
            "{}{GENEROUS_RATE_LIMITS}\n",
            text.split("\n[rate_limits]").next().unwrap_or(&text)
        );
        std::fs::write(&config, &text)?;
        let loaded = mcp_gateway::config::Config::load(&config)
            .map_err(|p| anyhow::anyhow!("{}: {p}", config.display()))?;
        let authority = Authority::load(
            &std::fs::read_to_string(dir.join("ca.pem"))?,
            &std::fs::read_to_string(dir.join("ca.key"))?,
        )?;
        let signer = mcp_gateway::policy::token::keys::load_signing_key(&std::fs::read_to_string(
            dir.join("signing.key"),
        )?)?;
        let mut gateway = Gateway {
            binary: binary.to_owned(),
            dir: dir.to_owned(),
            address,
            child: None,
            pid: Arc::new(AtomicU32::new(0)),
            metrics,
            config_text: text,
            issuer: loaded.jwt.issuer,
            audience: loaded.jwt.audience,
            authority,
            signer,
        };
        gateway.spawn()?;
        Ok(gateway)
    }

    /// A certificate for `identity` and a full-access token bound to it.
    pub fn credentials(&self, identity: &str) -> anyhow::Result<Credentials> {
        let cert = self.authority.issue_client(identity)?;
        let request = TokenRequest {
            bind_cert_pem: Some(cert.cert_pem.clone()),
            renewable_for: None,
            ..TokenRequest::full_access(
                identity,
                &["127.0.0.0/8", "::1"],
                Duration::from_secs(3600),
            )
        };
        let token = sign(
            &claims(&request, &self.issuer, &self.audience)?,
            &self.signer,
        )?;
        Ok(Credentials { cert, token })
    }

    /// The CA clients trust the server with.
    pub fn ca_pem(&self) -> String {
        self.authority.issued.cert_pem.clone()
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.binary)
            .args(["serve", "--config"])
            .arg(self.dir.join("gateway.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("gateway.stderr"))?,
            ))
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", self.binary.display()))?;
        self.pid.store(child.id(), Ordering::Relaxed);
        self.child = Some(child);
        Ok(())
    }

    /// Waits (up to 20 s) until the gateway accepts connections.
    pub async fn wait_listening(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(self.address).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("the gateway does not listen on {}", self.address)
    }

    /// SIGKILL: no shutdown path runs, as when the machine loses power.
    pub fn kill_9(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            self.pid.store(0, Ordering::Relaxed);
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the binary again on the same folder.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.spawn()?;
        self.wait_listening().await
    }

    /// Writes a config that does not parse and sends SIGHUP: the gateway must
    /// refuse it and keep serving as before.
    pub fn reload_invalid(&self) -> anyhow::Result<()> {
        let broken = format!("{}\n[listen\n", self.config_text);
        self.write_config_and_hup(&broken)
    }

    /// Writes the config back with one live-reloadable change (the read
    /// budget, still far above the load) and sends SIGHUP.
    pub fn reload_valid(&self, generation: u64) -> anyhow::Result<()> {
        let changed = self.config_text.replace(
            "reads_per_minute_per_client = 100000000",
            &format!("reads_per_minute_per_client = {}", 100_000_000 + generation),
        );
        self.write_config_and_hup(&changed)
    }

    fn write_config_and_hup(&self, text: &str) -> anyhow::Result<()> {
        // Written aside and renamed, as an operator's tools do: never half a file.
        let config = self.dir.join("gateway.toml");
        let next = self.dir.join("gateway.toml.next");
        std::fs::write(&next, text)?;
        std::fs::rename(&next, &config)?;
        let pid = self.pid.load(Ordering::Relaxed);
        if pid != 0 {
            Command::new("kill")
                .args(["-HUP", &pid.to_string()])
                .status()?;
        }
        Ok(())
    }

    /// `mcp_gateway_config_reloads_total` by result (success, failure).
    pub async fn reload_counts(&self) -> anyhow::Result<(u64, u64)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.metrics).await?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
            .await?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await?;
        let count = |result: &str| {
            let series = format!("mcp_gateway_config_reloads_total{{result=\"{result}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&series))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map_or(0, |v| v as u64)
        };
        Ok((count("success"), count("failure")))
    }

    /// SIGTERM and wait: the gateway drains and exits.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            self.pid.store(0, Ordering::Relaxed);
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status()?;
            let status = child.wait()?;
            anyhow::ensure!(status.success(), "the gateway exited with {status}");
        }
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.kill_9();
    }
}

/// Resident memory of `pid` in KiB, from /proc (0 when it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The highest RSS seen while it runs: sampled every 100 ms from whichever
/// process `pid` names at the time.
pub fn sample_peak_rss(pid: Arc<AtomicU32>) -> Arc<AtomicU64> {
    let peak = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&peak);
    tokio::spawn(async move {
        loop {
            let current = pid.load(Ordering::Relaxed);
            if current != 0 {
                seen.fetch_max(rss_kib(current), Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    peak
}
