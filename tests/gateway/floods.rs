//! Floods by holders of valid certificates and tokens, on the real binary:
//! sixteen addresses each open more connections than an address may hold,
//! together more than the gateway serves at once, and each connection opens
//! an MCP session, more than the caps allow. The caps hold (counted on the
//! gateway's own gauges), every connection and session is closed by the idle
//! timeouts, and the memory they held is reused: over three rounds neither
//! the peak nor what is kept after expiry grows.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use crate::common::{
    Setup, client_tls, free_port, initialize_body, metric, render, rss_kib, wait_for_port,
    write_pki,
};

const ADDRESSES: u8 = 16;
const PER_ADDRESS: usize = 25;
const MAX_CONNECTIONS: usize = 300;
const MAX_PER_ADDRESS: usize = 20;
const MAX_SESSIONS: usize = 150;
const MAX_PER_CLIENT: usize = 100;

/// How one flooding connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Held open with a new session (HTTP 200).
    Session,
    /// Held open, its initialize refused for a session cap (429).
    Capped,
    /// Refused before or during TLS (the per-address cap).
    Refused,
    /// Still waiting for a slot (the global cap) when the client gave up.
    Waited,
}

/// Opens a connection from `source`, initializes a session, and keeps the
/// connection (returned) open without reading further.
async fn flood_one(
    port: u16,
    source: IpAddr,
    tls: Arc<rustls::ClientConfig>,
    token: &str,
) -> (
    Outcome,
    Option<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    let connecting = async {
        let tcp = socket.connect(([127, 0, 0, 1], port).into()).await?;
        TlsConnector::from(tls)
            .connect("localhost".try_into().unwrap(), tcp)
            .await
    };
    let mut stream = match tokio::time::timeout(Duration::from_secs(3), connecting).await {
        Err(_) => return (Outcome::Waited, None),
        Ok(Err(_)) => return (Outcome::Refused, None),
        Ok(Ok(stream)) => stream,
    };
    let body = initialize_body("2025-11-25");
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut head = [0u8; 12];
    let answered = async {
        stream.write_all(request.as_bytes()).await?;
        stream.read_exact(&mut head).await
    };
    match tokio::time::timeout(Duration::from_secs(5), answered).await {
        Ok(Ok(_)) if head.starts_with(b"HTTP/1.1 200") => (Outcome::Session, Some(stream)),
        Ok(Ok(_)) if head.starts_with(b"HTTP/1.1 429") => (Outcome::Capped, Some(stream)),
        // A cap refused at accept closes right after the handshake.
        _ => (Outcome::Refused, None),
    }
}

/// A gauge from the gateway's metrics on port `metrics`.
async fn gauge(metrics: u16, name: &str) -> f64 {
    metric(([127, 0, 0, 1], metrics).into(), name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_with_valid_tokens_meet_the_caps_and_give_memory_back() {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = write_pki(dir.path());
    let (port, metrics) = (free_port(), free_port());
    let text = render(&Setup {
        address: format!("127.0.0.1:{port}"),
        listen: format!(
            "max_connections = {MAX_CONNECTIONS}\nmax_connections_per_address = {MAX_PER_ADDRESS}\nidle_timeout = \"4s\""
        ),
        mcp: format!(
            "max_sessions = {MAX_SESSIONS}\nmax_sessions_per_client = {MAX_PER_CLIENT}\nsession_idle_timeout = \"4s\""
        ),
        metrics_listen: format!("127.0.0.1:{metrics}"),
        ..Setup::default()
    });
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("gateway.stderr")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_port(port).await;
    // Two identities, so that both session caps are met.
    let agents: Vec<(Arc<rustls::ClientConfig>, String)> = ["agent-x", "agent-y"]
        .iter()
        .map(|id| {
            let cert = pki.ca.issue_client(id).unwrap();
            (
                Arc::new(client_tls(&pki.ca.issued.cert_pem, &cert, b"http/1.1")),
                pki.token(id),
            )
        })
        .collect();
    let before = rss_kib(pid);
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let mut tasks = Vec::new();
        for address in 1..=ADDRESSES {
            for n in 0..PER_ADDRESS {
                let (tls, token) = agents[n % 2].clone();
                let source = IpAddr::from([127, 0, 5, address]);
                tasks.push(tokio::spawn(async move {
                    (address, flood_one(port, source, tls, &token).await)
                }));
            }
        }
        let mut held = Vec::new();
        let mut outcomes = Vec::new();
        let mut served_per_address = [0usize; ADDRESSES as usize + 1];
        for task in tasks {
            let (address, (outcome, stream)) = task.await.unwrap();
            if stream.is_some() {
                served_per_address[usize::from(address)] += 1;
            }
            outcomes.push(outcome);
            held.extend(stream);
        }
        let open = gauge(metrics, "mcp_gateway_connections_open").await;
        let sessions = gauge(metrics, "mcp_gateway_sessions_open").await;
        let peak = rss_kib(pid);
        let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
        let (made, capped, refused, waited) = (
            count(Outcome::Session),
            count(Outcome::Capped),
            count(Outcome::Refused),
            count(Outcome::Waited),
        );
        assert!(open <= MAX_CONNECTIONS as f64, "{open} connections open");
        assert!(sessions <= MAX_SESSIONS as f64, "{sessions} sessions open");
        assert!(made <= MAX_SESSIONS, "{made} sessions made");
        assert!(capped > 0, "no initialize met a session cap");
        // Past the per-address cap a connection is refused; past the global
        // one it waits in the backlog (and this client gives up after 3 s).
        assert!(
            served_per_address.iter().all(|n| *n <= MAX_PER_ADDRESS),
            "{served_per_address:?}"
        );
        assert!(refused > 0, "no connection met the per-address cap");
        assert!(made + capped <= MAX_CONNECTIONS, "{made} + {capped} served");
        // Past both idle timeouts the gateway has closed everything itself,
        // while this side still holds its sockets.
        tokio::time::sleep(Duration::from_secs(7)).await;
        let open_after = gauge(metrics, "mcp_gateway_connections_open").await;
        let sessions_after = gauge(metrics, "mcp_gateway_sessions_open").await;
        let after = rss_kib(pid);
        drop(held);
        rounds.push((made, capped, refused, waited, open, peak, after));
        assert_eq!(open_after, 0.0, "connections outlived the idle timeout");
        assert_eq!(sessions_after, 0.0, "sessions outlived their idle timeout");
    }
    crate::sweep::keep(
        dir.path(),
        Some(([127, 0, 0, 1], metrics).into()),
        &pki.secrets(),
    );
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "floods (sessions, capped, refused, waited, open at peak, RSS peak KiB, RSS after KiB), RSS before {before} KiB: {rounds:?}"
    );
    let (first_peak, last_peak) = (rounds[0].5, rounds[2].5);
    assert!(
        last_peak <= first_peak + 20 * 1024,
        "memory grew from round to round: {rounds:?}"
    );
    // What a round held is reused by the next (the allocator keeps it mapped
    // rather than returning it): after expiry no round ends above the first.
    for round in &rounds {
        assert!(
            round.6 <= first_peak + 20 * 1024,
            "memory kept after expiry grew: {rounds:?}"
        );
    }
}
