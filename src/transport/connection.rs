//! One connection, from accept to close: socket options, the address checks
//! ([`crate::policy::address`]) and the per-address cap before any TLS work, the
//! handshake under a deadline, the client identity, then HTTP/1.1 or HTTP/2
//! until the connection ends, is cut for idleness ([`crate::http::activity`]) or the
//! gateway shuts down. Every refusal on the way is one security line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::denial::{Denial, Reason, Stage};
use crate::http::ConnectionInfo;
use crate::http::activity::Activity;
use crate::identity::ClientIdentity;
use crate::policy::address::ClientIp;
use crate::policy::snapshot::Snapshot;
use crate::telemetry;
use crate::telemetry::Handshake;
use crate::transport::acme_tls::{self, Outcome};
use crate::transport::arrival::{Arrived, arrive};
use crate::transport::protocol::Protocol;
use crate::transport::requests::serve_requests;
use crate::transport::shared::Shared;
use crate::transport::tls;

/// Accepts one connection and sets its socket options. `TCP_NODELAY`: without
/// it the last small chunk of an answer waits for the client's delayed ACK
/// (~40 ms added to every tool call).
pub(crate) async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    let (stream, peer) = listener.accept().await?;
    telemetry::connection_accepted();
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
    }
    Ok((stream, peer))
}

/// Runs one connection to its end, in stages: the address checks
/// ([`arrive`]), a probe that closes before TLS counted, the TLS
/// [`handshake`], the client's identity ([`identify_client`]), then its
/// requests ([`serve_requests`]). A stage that refuses writes its one line
/// and the connection ends there.
pub(crate) async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let accepted_at = Instant::now();
    // One deadline from accept to the end of the handshake, whatever the
    // PROXY header and the first byte took of it.
    let deadline = accepted_at + shared.config.listen.handshake_timeout;
    // This connection keeps the TLS settings and address policy it started
    // with, whatever a reload swaps in meanwhile.
    let live = shared.live.load_full();
    // Address checks first: a refused address never costs a TLS handshake.
    // The futures of each stage are boxed so that the connection's task holds
    // only what the current stage needs: an idle connection is this task, and
    // unboxed the task was 6 KiB (bench/README.md).
    let Some(Arrived {
        client_ip,
        by_balancer,
        slot: _address_slot,
    }) = Box::pin(arrive(&mut stream, peer, &shared, &live, deadline)).await
    else {
        return;
    };
    let _open = telemetry::OpenConnection::count();
    // A TCP probe (a container healthcheck, a Kubernetes tcpSocket probe, a
    // port monitor) connects and closes without a byte: counted, never a
    // ban-worthy handshake failure that would ban the host watching us.
    if closes_before_tls(&stream, deadline.saturating_duration_since(Instant::now())).await {
        return match by_balancer {
            true => telemetry::balancer_check(),
            false => telemetry::silent_probe(),
        };
    }
    let arrived = Client {
        ip: client_ip,
        by_balancer,
    };
    let Ok(tls_stream) = handshake(stream, &live, deadline, accepted_at, &shared, arrived).await
    else {
        return;
    };
    let Ok(identity) = identify_client(&tls_stream, &shared, arrived) else {
        return;
    };
    let info = ConnectionInfo {
        peer,
        client_ip,
        identity,
        activity: Activity::new(),
    };
    let agreed = Protocol::from_alpn(tls_stream.get_ref().1.alpn_protocol());
    serve_requests(tls_stream, agreed, info, &shared, shutdown).await;
}

/// Where a connection comes from, as the address checks found it.
#[derive(Clone, Copy)]
struct Client {
    /// The real client address.
    ip: ClientIp,
    /// A trusted balancer's own connection (its refusals are never ban-worthy).
    by_balancer: bool,
}

/// The connection's TLS stream, boxed: moved by value it would keep a slot
/// of its size in the connection's task for its whole life.
type TlsStream = Box<tokio_rustls::server::TlsStream<TcpStream>>;

/// The TLS handshake, under what is left of the accept deadline; a refusal
/// or a timeout is one line (never ban-worthy for a balancer's own).
async fn handshake(
    stream: TcpStream,
    live: &Snapshot,
    deadline: Instant,
    accepted_at: Instant,
    shared: &Shared,
    client: Client,
) -> Result<TlsStream, ()> {
    let acceptor = live.acceptor.clone();
    // Only while an ACME order waits for TLS-ALPN-01 is the ClientHello read
    // first (crate::transport::acme_tls); otherwise nothing changes.
    let challenge = shared
        .certificate
        .challenge_pending()
        .then(|| Arc::clone(&shared.certificate));
    // A refused handshake gives the socket back (`into_fallible`) so that
    // it can be closed without overtaking the alert.
    let handshake = tokio::time::timeout_at(
        deadline,
        Box::pin(async move {
            match challenge {
                None => acceptor
                    .accept(stream)
                    .into_fallible()
                    .await
                    .map(|tls| Outcome::Client(Box::new(tls)))
                    .map_err(|(e, socket)| (e, Some(socket))),
                Some(certificate) => {
                    acme_tls::handshake(stream, Arc::clone(acceptor.config()), certificate)
                        .await
                        .map_err(|e| (e, None))
                }
            }
        }),
    )
    .await;
    let took = accepted_at.elapsed();
    let (denial, refused_socket) = match handshake {
        Ok(Ok(Outcome::Client(stream))) => {
            telemetry::handshake(Handshake::Ok, took);
            return Ok(stream);
        }
        Ok(Ok(Outcome::ChallengeAnswered(name))) => {
            telemetry::acme_challenge_answered();
            tracing::info!(
                ip = %client.ip,
                name = %crate::observe::escape::escape(&name),
                "TLS-ALPN-01 challenge certificate shown to a validator; connection closed"
            );
            return Err(());
        }
        Ok(Err((e, socket))) => {
            telemetry::handshake(Handshake::Refused, took);
            let denial = if shared.certificate.is_serving() {
                tls::handshake_denial(&e)
            } else {
                Denial::new(Reason::NoServerCertificate).with_detail(e.to_string())
            };
            (denial, socket)
        }
        Err(_) => {
            telemetry::handshake(Handshake::Timeout, took);
            (Denial::new(Reason::HandshakeTimeout), None)
        }
    };
    shared
        .seclog
        .deny(&denial.by_balancer(client.by_balancer), client.ip, None);
    if let Some(socket) = refused_socket {
        Box::pin(close_after_alert(socket)).await;
    }
    Err(())
}

/// How long, and how many bytes, a refused client may still send before
/// its socket is closed anyway.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 64 * 1024;

/// Closes a refused handshake's socket after its alert. In TLS 1.3 the
/// client sends its certificate last and its first request right after:
/// closing with those bytes unread makes the kernel send a reset, which can
/// overtake the alert, and the client reports a broken pipe instead of the
/// refusal. So stop writing, then read and drop what the client still sends
/// until it closes, within [`LINGER`] and [`LINGER_BYTES`].
async fn close_after_alert(mut socket: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = socket.shutdown().await;
    let mut sink = [0u8; 4096];
    let mut left = LINGER_BYTES;
    let _ = tokio::time::timeout(LINGER, async {
        while left > 0 {
            match socket.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    })
    .await;
}

/// Who the client certificate names; a connection without a certificate,
/// without an identity in it, or resumed after the certificate expired is
/// refused with its line.
fn identify_client(
    tls_stream: &TlsStream,
    shared: &Shared,
    client: Client,
) -> Result<ClientIdentity, ()> {
    let refuse = |denial: Denial, id: Option<&str>| {
        shared
            .seclog
            .deny(&denial.by_balancer(client.by_balancer), client.ip, id);
    };
    // Borrowed, not copied: a copy of the certificate kept in the task would
    // stay for the connection's whole life (rustls keeps its own).
    let Some(cert) = tls_stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    else {
        refuse(Denial::new(Reason::NoCertificate), None);
        return Err(());
    };
    let identity = shared.identities.identify(cert).map_err(|e| {
        refuse(
            Denial::new(Reason::NoIdentity).with_detail(e.to_string()),
            None,
        );
    })?;
    // A resumed session skips certificate verification, expiry included; a
    // certificate that expired since its full handshake is refused here.
    if identity.not_after() < chrono::Utc::now() {
        shared.seclog.deny(
            &Denial::new(Reason::CertificateExpired).with_detail("session resumed after expiry"),
            client.ip,
            Some(identity.id()),
        );
        return Err(());
    }
    if shared.config.network.allow_lines {
        shared.seclog.allow(Stage::Tls, client.ip, identity.id());
    }
    Ok(identity)
}

/// Whether a connection closes before its first TLS byte (waiting at most
/// `within`): a health check that only wanted the accept.
async fn closes_before_tls(stream: &TcpStream, within: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(within, stream.peek(&mut first)).await,
        Ok(Ok(0))
    )
}

#[cfg(test)]
mod tests {
    use super::{TcpListener, TcpStream, accept};

    #[tokio::test]
    async fn accepted_connections_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (accepted, client) = tokio::join!(accept(&listener), client);
        let (stream, _) = accepted.unwrap();
        assert!(stream.nodelay().unwrap(), "TCP_NODELAY is not set");
        drop(client);
    }
}
