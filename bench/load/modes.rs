//! The load modes (see the crate doc): each worker's loop and what it counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

use crate::Mode;
use crate::target::Target;

/// Counters shared by the workers of one run.
#[derive(Default)]
pub struct Tally {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub resumed: AtomicU64,
}

/// Measured latencies in microseconds, per worker, merged at the end.
pub type Latencies = Vec<u32>;

pub fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[index])
}

pub async fn keepalive(
    worker: usize,
    target: Arc<Target>,
    measure: Instant,
    end: Instant,
    tally: Arc<Tally>,
    shared: Option<String>,
) -> anyhow::Result<Latencies> {
    let (mut sender, _) = target.connect().await?;
    let session = match (&target.args.session_version, shared) {
        (_, Some(id)) => Some(id),
        (Some(version), None) => Some(target.initialize(&mut sender, version).await?),
        (None, None) => None,
    };
    let mut latencies = Vec::new();
    let mut sent = 0u64;
    // JSON-RPC ids must be unique among a session's requests in flight.
    let mut next_id = worker as u64 * 1_000_000_000;
    loop {
        let began = Instant::now();
        if began >= end || (target.args.count > 0 && sent >= target.args.count) {
            break;
        }
        sent += u64::from(began >= measure);
        next_id += 1;
        let result = target
            .send(
                &mut sender,
                target.body_with_id(next_id),
                session.as_deref(),
            )
            .await;
        let done = Instant::now();
        let ok = matches!(result, Ok((_, true, _)));
        if !ok {
            // Counted even in the warm-up: a failure is never hidden.
            tally.failed.fetch_add(1, Ordering::Relaxed);
        } else if began >= measure {
            latencies.push((done - began).as_micros().min(u32::MAX as u128) as u32);
            tally.ok.fetch_add(1, Ordering::Relaxed);
        }
        if result.is_err() {
            // The connection is gone; make a new one (counted as a failure above).
            (sender, _) = target.connect().await?;
        }
    }
    Ok(latencies)
}

pub async fn one_per_connection(
    worker: usize,
    target: Arc<Target>,
    measure: Instant,
    end: Instant,
    tally: Arc<Tally>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Vec::new();
    let mut sent = 0u64;
    loop {
        let began = Instant::now();
        if began >= end || (target.args.count > 0 && sent >= target.args.count) {
            break;
        }
        sent += u64::from(began >= measure);
        let outcome = match target.args.mode {
            Mode::Refuse => refused(&target, worker).await,
            _ => match target.connect().await {
                Ok((mut sender, resumed)) => {
                    if resumed && began >= measure {
                        tally.resumed.fetch_add(1, Ordering::Relaxed);
                    }
                    matches!(
                        target.send(&mut sender, target.body.clone(), None).await,
                        Ok((_, true, _))
                    )
                }
                Err(_) => false,
            },
        };
        if began >= measure {
            let counter = if outcome { &tally.ok } else { &tally.failed };
            counter.fetch_add(1, Ordering::Relaxed);
            latencies.push(began.elapsed().as_micros().min(u32::MAX as u128) as u32);
        }
    }
    Ok(latencies)
}

/// Whether the server refused this client: dropped the connection (before or
/// during TLS) or answered 403.
async fn refused(target: &Target, worker: usize) -> bool {
    // A connection that never reached the server is a failure, not a refusal.
    let Ok(tcp) = target.tcp_from(target.source_of(worker)).await else {
        return false;
    };
    let Ok(name) = ServerName::try_from(target.args.host.clone()) else {
        return false;
    };
    let Ok(tls) = target.tls.connect(name, tcp).await else {
        return true;
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(tls)).await
    else {
        return true;
    };
    tokio::spawn(connection);
    match target.send(&mut sender, target.body.clone(), None).await {
        Ok((403, _, _)) | Err(_) => true,
        Ok(_) => false,
    }
}

pub async fn idle(target: Arc<Target>) -> anyhow::Result<()> {
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(target.args.duration);
    let tally = Arc::new(Tally::default());
    let permits = Arc::new(tokio::sync::Semaphore::new(target.args.connections));
    let (release, released) = tokio::sync::watch::channel(false);
    for _ in 0..target.args.hold {
        let target = Arc::clone(&target);
        let permits = Arc::clone(&permits);
        let tally = Arc::clone(&tally);
        let mut released = released.clone();
        tokio::spawn(async move {
            let Ok(permit) = permits.acquire_owned().await else {
                return;
            };
            let held = match target.connect().await {
                Ok((sender, _)) if target.args.no_request => Some(sender),
                Ok((mut sender, _)) => {
                    let ok = matches!(
                        target.send(&mut sender, target.body.clone(), None).await,
                        Ok((_, true, _))
                    );
                    ok.then_some(sender)
                }
                Err(_) => None,
            };
            let counter = if held.is_some() {
                &tally.ok
            } else {
                &tally.failed
            };
            counter.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            let _ = released.wait_for(|r| *r).await;
            drop(held);
        });
    }
    let settled = |t: &Tally| t.ok.load(Ordering::Relaxed) + t.failed.load(Ordering::Relaxed);
    while settled(&tally) < target.args.hold as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open_seconds = began.elapsed().as_secs_f64();
    // Let the server settle (buffers freed after the request) before it is read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "{}",
        serde_json::json!({
            "ready": true,
            "held": tally.ok.load(Ordering::Relaxed),
            "failed": tally.failed.load(Ordering::Relaxed),
            "open_seconds": open_seconds,
        })
    );
    // Hold until the harness closes stdin, at most ten minutes.
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        let _ = std::io::stdin().read_line(&mut sink);
    });
    let _ = tokio::time::timeout(Duration::from_secs(600), stdin_closed).await;
    let _ = release.send(true);
    Ok(())
}
