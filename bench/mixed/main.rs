//! The mixed load test (issue 13): many MCP clients, each with its own
//! certificate and bound token, send creates, reads and listings to the real
//! gateway binary on the embedded store for a fixed time; then every create
//! the gateway acknowledged is read back, the gateway is stopped, and the
//! store's integrity is checked. With `--kill-9-at`, the gateway is killed
//! (SIGKILL) at that second and started again: no acknowledged write may be
//! missing after it. With `--reload-every`, an invalid config and then a valid
//! one are written and signalled (SIGHUP) throughout: no call may fail for it.
//!
//! ```sh
//! cargo build --release --examples
//! target/release/examples/load-mixed --clients 32 --duration 30
//! target/release/examples/load-mixed --clients 16 --duration 20 --kill-9-at 8
//! target/release/examples/load-mixed --clients 16 --duration 20 --reload-every 1
//! ```
//!
//! It prepares its own folder (a quickstart one with rate budgets the load fits
//! in), starts `target/<profile>/mcp-gateway` on a loopback port, and prints
//! one JSON object of figures on stdout: throughput, latency per kind of call,
//! RSS before, at the peak and after the load, writes acknowledged and lost.
//! It exits non-zero on any error outside the kill window, any lost write, or
//! a damaged store. Figures are for reading, never asserted.

mod client;
mod gateway;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

use crate::client::{Client, Kind, Record};
use crate::gateway::{Gateway, rss_kib, sample_peak_rss};

/// Command-line options; see the module doc.
#[derive(Parser, Debug)]
struct Args {
    /// Concurrent clients, each with its own certificate, token and connection.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Creates in every ten calls (the rest are reads and listings).
    #[arg(long, default_value_t = 3)]
    writes_in_ten: u64,
    /// Kill the gateway with SIGKILL this many seconds into the load, and start it again.
    #[arg(long)]
    kill_9_at: Option<f64>,
    /// Every this many seconds, reload an invalid config and then a valid one (SIGHUP).
    #[arg(long)]
    reload_every: Option<f64>,
    /// The gateway binary (default: `mcp-gateway` of this build's profile).
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// Loopback port to run the gateway on (default: a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Folder for the gateway's files (default: a temporary one, removed after).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    mcp_gateway::transport::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args))?;
    println!("{report}");
    let failed = report["errors"].as_u64() != Some(0)
        || report["writes_lost"].as_u64() != Some(0)
        || report["store_integrity"] != "ok";
    if failed {
        std::process::exit(1);
    }
    Ok(())
}

/// The default gateway binary: `mcp-gateway` beside `examples/`.
fn default_gateway() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let profile_dir = me
        .parent()
        .and_then(|examples| examples.parent())
        .ok_or_else(|| anyhow::anyhow!("cannot place {}", me.display()))?;
    Ok(profile_dir.join("mcp-gateway"))
}

async fn run(args: &Args) -> anyhow::Result<serde_json::Value> {
    let temporary = tempfile::TempDir::new()?;
    let dir = args.dir.clone().unwrap_or_else(|| temporary.path().into());
    let port = match args.port {
        Some(port) => port,
        None => std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port(),
    };
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let binary = match &args.gateway {
        Some(path) => path.clone(),
        None => default_gateway()?,
    };
    let mut gateway = Gateway::start(&binary, &dir, address)?;
    gateway.wait_listening().await?;
    let url = format!("https://{address}/mcp");

    let mut clients = Vec::new();
    for number in 0..args.clients {
        let credentials = gateway.credentials(&format!("load-{number}"))?;
        clients.push(Client::new(url.clone(), gateway.ca_pem(), credentials)?);
    }
    let rss_before = rss_kib(gateway.pid.load(Ordering::Relaxed));
    let peak = sample_peak_rss(Arc::clone(&gateway.pid));
    let outage = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(args.duration);
    let mut tasks = Vec::new();
    for (number, mut client) in clients.into_iter().enumerate() {
        let outage = Arc::clone(&outage);
        let writes = args.writes_in_ten;
        tasks.push(tokio::spawn(async move {
            let record = client.run(number, writes, end, outage).await;
            (client, record)
        }));
    }
    let mut reloads_sent = 0u64;
    if let Some(every) = args.reload_every {
        while Instant::now() + Duration::from_secs_f64(every) < end {
            tokio::time::sleep(Duration::from_secs_f64(every / 2.0)).await;
            gateway.reload_invalid()?;
            tokio::time::sleep(Duration::from_secs_f64(every / 2.0)).await;
            reloads_sent += 1;
            gateway.reload_valid(reloads_sent)?;
        }
    }
    let mut kill = None;
    if let Some(at) = args.kill_9_at {
        tokio::time::sleep_until((started + Duration::from_secs_f64(at)).into()).await;
        outage.fetch_add(1, Ordering::Relaxed);
        let killed = Instant::now();
        gateway.kill_9()?;
        gateway.restart().await?;
        outage.fetch_add(1, Ordering::Relaxed);
        kill = Some(killed.elapsed());
    }
    let mut finished = Vec::new();
    for task in tasks {
        finished.push(task.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss_after = rss_kib(gateway.pid.load(Ordering::Relaxed));
    let reloads = match args.reload_every {
        Some(_) => {
            let (applied, refused) = gateway.reload_counts().await?;
            json!({ "signals": reloads_sent * 2, "applied": applied, "refused": refused })
        }
        None => json!(null),
    };

    // Every acknowledged create, read back by the client that made it.
    let mut acknowledged = 0u64;
    let mut lost = Vec::new();
    for (client, record) in &finished {
        for written in &record.written {
            acknowledged += 1;
            if let Err(e) = client.read_back(written).await {
                lost.push(e);
            }
        }
    }
    gateway.stop()?;
    let integrity = store_integrity(&dir.join("calendar.db"))?;
    let records: Vec<&Record> = finished.iter().map(|(_, record)| record).collect();
    let mut figures = report(
        args,
        &records,
        seconds,
        acknowledged,
        &lost,
        [rss_before, peak.load(Ordering::Relaxed), rss_after],
        kill,
        &integrity,
    );
    figures["reloads"] = reloads;
    Ok(figures)
}

/// SQLite's own check of the store file, after the gateway stopped.
fn store_integrity(path: &std::path::Path) -> anyhow::Result<String> {
    let db =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    Ok(db.query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
}

/// The figures, as one JSON object.
#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    records: &[&Record],
    seconds: f64,
    acknowledged: u64,
    lost: &[String],
    [rss_before, rss_peak, rss_after]: [u64; 3],
    kill: Option<Duration>,
    integrity: &str,
) -> serde_json::Value {
    let errors: Vec<&String> = records.iter().flat_map(|r| &r.errors).collect();
    let calls: usize = records.iter().map(|r| r.latencies.len()).sum();
    let latency = |kind: Kind| {
        let mut micros: Vec<u64> = records
            .iter()
            .flat_map(|r| &r.latencies)
            .filter(|(k, _)| *k == kind)
            .map(|(_, us)| *us)
            .collect();
        micros.sort_unstable();
        let at = |q: f64| {
            micros
                .get(((micros.len() as f64 * q) as usize).min(micros.len().saturating_sub(1)))
                .copied()
        };
        json!({ "calls": micros.len(), "p50_us": at(0.5), "p99_us": at(0.99), "max_us": micros.last() })
    };
    json!({
        "clients": args.clients,
        "seconds": (seconds * 10.0).round() / 10.0,
        "calls": calls,
        "per_second": (calls as f64 / seconds).round(),
        "create": latency(Kind::Create),
        "get": latency(Kind::Get),
        "list": latency(Kind::List),
        "errors": errors.len(),
        "error_samples": errors.iter().take(5).collect::<Vec<_>>(),
        "interrupted_by_kill": records.iter().map(|r| r.interrupted).sum::<u64>(),
        "kill_9_to_listening_ms": kill.map(|d| d.as_millis() as u64),
        "calls_after_restart": records.iter().map(|r| r.after_restart).sum::<u64>(),
        "writes_acknowledged": acknowledged,
        "writes_lost": lost.len(),
        "lost_samples": lost.iter().take(5).collect::<Vec<_>>(),
        "store_integrity": integrity,
        "rss_kib": { "before": rss_before, "peak": rss_peak, "after": rss_after },
    })
}
