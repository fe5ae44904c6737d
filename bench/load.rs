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

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

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
    /// Keep-alive mode: stop each connection after this many measured requests (0: no limit).
    #[arg(long, default_value_t = 0)]
    count: u64,
    /// Idle mode: hold connections after the handshake alone, no request.
    #[arg(long)]
    no_request: bool,
    /// Idle mode: connections to open and hold.
    #[arg(long, default_value_t = 1000)]
    hold: usize,
}

/// What every connection needs to make requests.
struct Target {
    args: Args,
    tls: TlsConnector,
    body: Bytes,
    headers: Vec<(String, String)>,
}

/// Longest wait for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

impl Target {
    fn new(args: Args) -> anyhow::Result<Target> {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&args.ca)? {
            roots.add(ca?)?;
        }
        let chain = CertificateDer::pem_file_iter(&args.cert)?.collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_file(&args.key)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if args.mode == Mode::Handshake && !args.resume {
            config.resumption = rustls::client::Resumption::disabled();
        }
        let headers = args
            .headers
            .iter()
            .map(|h| {
                let (name, value) = h
                    .split_once(':')
                    .ok_or_else(|| anyhow::anyhow!("--header {h:?}: expected `Name: value`"))?;
                Ok((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Target {
            body: Bytes::from(std::fs::read(&args.body)?),
            tls: TlsConnector::from(Arc::new(config)),
            headers,
            args,
        })
    }

    async fn tcp(&self) -> std::io::Result<TcpStream> {
        self.tcp_from(self.args.source).await
    }

    /// `--source` moved by `worker` in its last octet: each worker has its own
    /// address, so its own ports (a port in TIME_WAIT cannot be bound again).
    fn source_of(&self, worker: usize) -> Option<IpAddr> {
        match self.args.source? {
            IpAddr::V4(base) => {
                let [a, b, c, d] = base.octets();
                Some(IpAddr::from([a, b, c, d.wrapping_add(worker as u8)]))
            }
            v6 => Some(v6),
        }
    }

    async fn tcp_from(&self, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
        let socket = if self.args.connect.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(source) = source {
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let stream = socket.connect(self.args.connect).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn tls(&self) -> anyhow::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(self.args.host.clone())?;
        Ok(self.tls.connect(name, self.tcp().await?).await?)
    }

    /// A connection ready for requests, and whether its handshake resumed.
    async fn connect(&self) -> anyhow::Result<(Sender, bool)> {
        let tls = self.tls().await?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        Ok((sender, resumed))
    }

    /// Sends `body` with the configured headers (and `session`); returns the
    /// status and whether the answer is a JSON-RPC result.
    async fn send(
        &self,
        sender: &mut Sender,
        body: Bytes,
        session: Option<&str>,
    ) -> anyhow::Result<(u16, bool, Option<String>)> {
        let mut request = Request::post(self.args.path.as_str())
            .header("host", self.args.host.as_str())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        sender.ready().await?;
        // No answer within the bound counts as a failure, never a hang.
        let response = tokio::time::timeout(
            REQUEST_TIMEOUT,
            sender.send_request(request.body(Full::new(body))?),
        )
        .await??;
        let status = response.status().as_u16();
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect())
            .await??
            .to_bytes();
        let ok = status == 200 && memchr(&bytes, b"\"result\"");
        Ok((status, ok, session))
    }

    /// The request body with its JSON-RPC id (`"id":1` in the file) set to `id`.
    fn body_with_id(&self, id: u64) -> Bytes {
        let text = String::from_utf8_lossy(&self.body);
        Bytes::from(text.replacen("\"id\":1,", &format!("\"id\":{id},"), 1))
    }

    /// Initializes a session on `sender`; returns its id.
    async fn initialize(&self, sender: &mut Sender, version: &str) -> anyhow::Result<String> {
        let init = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"bench","version":"1"}}}}}}"#
        );
        let (status, _, session) = self.send(sender, Bytes::from(init), None).await?;
        let session =
            session.ok_or_else(|| anyhow::anyhow!("initialize: status {status}, no session id"))?;
        let done = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let mut request = Request::post(self.args.path.as_str())
            .header("host", self.args.host.as_str())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session.as_str())
            .header("mcp-protocol-version", version);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        sender.ready().await?;
        let response = sender.send_request(request.body(Full::new(done))?).await?;
        response.into_body().collect().await?;
        Ok(session)
    }
}

fn memchr(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Counters shared by the workers of one run.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    resumed: AtomicU64,
}

/// Measured latencies in microseconds, per worker, merged at the end.
type Latencies = Vec<u32>;

fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[index])
}

async fn keepalive(
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

async fn one_per_connection(
    worker: usize,
    target: Arc<Target>,
    measure: Instant,
    end: Instant,
    tally: Arc<Tally>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Vec::new();
    loop {
        let began = Instant::now();
        if began >= end {
            break;
        }
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

async fn idle(target: Arc<Target>) -> anyhow::Result<()> {
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
