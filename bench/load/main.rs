//! The benchmark's load generator: HTTP/1.1 over TLS 1.3 with a client
//! certificate, the same for the gateway, nginx and the floor, so the figures
//! differ only by the server. Modes:
//! - `keepalive`: C connections each sending the request back to back
//!   (optionally after an MCP `initialize`, one session per connection or one
//!   shared by all);
//! - `handshake`: C workers each making a new connection per request, with TLS
//!   resumption off (full handshakes) or on (`--resume`, session tickets);
//! - `refuse`: C workers each connecting from its own address (`--source`,
//!   plus the worker's number in the last octet) and counting refusals
//!   (the connection dropped, or an HTTP 403);
//! - `idle`: opens `--hold` connections, one request each, prints `ready`, and
//!   holds them until stdin closes (the harness reads the server's RSS then).
//!
//! Prints one JSON object of figures on stdout. Every loop is bounded by
//! `--duration`; only loopback addresses are meant to be given.

mod modes;
mod target;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use crate::modes::{Tally, idle, keepalive, one_per_connection, percentile};
use crate::target::Target;

/// What the load does (see the crate doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Keepalive,
    Handshake,
    Refuse,
    Idle,
}

/// Command-line options; see the module doc.
#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// Server address (loopback).
    #[arg(long)]
    connect: SocketAddr,
    /// Path of the requests.
    #[arg(long, default_value = "/mcp")]
    path: String,
    /// Host header sent.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long)]
    ca: PathBuf,
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
    /// The request body (POSTed).
    #[arg(long)]
    body: PathBuf,
    /// Extra request headers, `Name: value`.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// Before the load, initialize an MCP session with this protocol version.
    #[arg(long)]
    session_version: Option<String>,
    /// All connections share one session instead of one each.
    #[arg(long)]
    shared_session: bool,
    /// Concurrent connections or workers.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Handshake mode: offer TLS session resumption.
    #[arg(long)]
    resume: bool,
    /// Local address to connect from.
    #[arg(long)]
    source: Option<IpAddr>,
    /// Keep-alive and handshake modes: stop each worker after this many measured requests (0: no limit).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Idle mode: hold connections after the handshake alone, no request.
    #[arg(long)]
    no_request: bool,
    /// Idle mode: connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    hold: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // One core for the load, as for every server measured.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let target = Arc::new(Target::new(args)?);
        if target.args.mode == Mode::Idle {
            return idle(target).await;
        }
        let shared = match (&target.args.session_version, target.args.shared_session) {
            (Some(version), true) => {
                let (mut sender, _) = target.connect().await?;
                Some(target.initialize(&mut sender, version).await?)
            }
            _ => None,
        };
        let start = Instant::now();
        let measure = start + Duration::from_secs_f64(target.args.warmup);
        let end = measure + Duration::from_secs_f64(target.args.duration);
        let tally = Arc::new(Tally::default());
        let mut tasks = Vec::new();
        for worker in 0..target.args.connections {
            let target = Arc::clone(&target);
            let tally = Arc::clone(&tally);
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                match target.args.mode {
                    Mode::Keepalive => keepalive(worker, target, measure, end, tally, shared).await,
                    _ => one_per_connection(worker, target, measure, end, tally).await,
                }
            }));
        }
        let mut latencies = Vec::new();
        let mut errors = Vec::new();
        for task in tasks {
            match task.await? {
                Ok(mut l) => latencies.append(&mut l),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let seconds = target.args.duration;
        latencies.sort_unstable();
        let ok = tally.ok.load(Ordering::Relaxed);
        println!(
            "{}",
            serde_json::json!({
                "ok": ok,
                "failed": tally.failed.load(Ordering::Relaxed),
                "resumed": tally.resumed.load(Ordering::Relaxed),
                "seconds": seconds,
                "per_second": ok as f64 / seconds,
                "p50_us": percentile(&latencies, 0.50),
                "p99_us": percentile(&latencies, 0.99),
                "worker_errors": errors.into_iter().take(3).collect::<Vec<_>>(),
            })
        );
        anyhow::Ok(())
    })
}
