//! One connection, from accept to close: socket options, the address checks
//! ([`crate::admission`]) and the per-address cap before any TLS work, the
//! handshake under a deadline, the client identity, then HTTP/1.1 or HTTP/2
//! until the connection ends, is cut for idleness ([`crate::activity`]) or the
//! gateway shuts down. Every refusal on the way is one security line.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::activity::{Activity, IdleVerdict, Tracked};
use crate::arrival::{Arrived, arrive};
use crate::denial::{Denial, Reason, Stage};
use crate::http::ConnectionInfo;
use crate::identity::identify;
use crate::server::Shared;
use crate::{telemetry, tls};

/// The refusal hyper made itself when it ended a connection over the request
/// head, so that it too gets its line: 431 for headers over
/// `listen.max_header_list_bytes`, 400 for a head HTTP/1.1 does not allow
/// (an ambiguous length, a bad header, a request smuggled in), or no complete
/// head within
/// `listen.header_read_timeout` — which HTTP/1.1 also applies between the
/// requests of a keep-alive connection, so it reads as the first-request or
/// the idle deadline, depending on whether a request was ever served.
fn protocol_refusal(
    error: &(dyn std::error::Error + 'static),
    activity: &Activity,
) -> Option<Denial> {
    let hyper = error.downcast_ref::<hyper::Error>()?;
    if let Some(h2) = std::error::Error::source(hyper).and_then(|e| e.downcast_ref::<h2::Error>()) {
        return http2_refusal(h2);
    }
    if hyper.is_parse_too_large() {
        Some(Denial::new(Reason::HeadersTooLarge))
    } else if hyper.is_parse() {
        Some(Denial::new(Reason::RequestRejected).with_detail(hyper.to_string()))
    } else if hyper.is_timeout() && activity.has_served() {
        Some(Denial::new(Reason::IdleTimeout).with_detail("no new request head in time"))
    } else if hyper.is_timeout() {
        Some(Denial::new(Reason::FirstRequestTimeout).with_detail("request head incomplete"))
    } else {
        None
    }
}

/// Why the gateway's HTTP/2 stack ended a connection, when it did so itself
/// (a GOAWAY it sent, not one it received, nor the peer going away):
/// `ENHANCE_YOUR_CALM` is h2's answer to rapid resets and CONTINUATION
/// floods, which no well-behaved client causes; any other reason is a
/// client breaking the protocol.
fn http2_refusal(error: &h2::Error) -> Option<Denial> {
    if !error.is_go_away() || error.is_remote() {
        return None;
    }
    let reason = error.reason()?;
    Some(if reason == h2::Reason::ENHANCE_YOUR_CALM {
        Denial::new(Reason::Http2Flood).with_detail(error.to_string())
    } else {
        Denial::new(Reason::RequestRejected).with_detail(format!("HTTP/2 {error}"))
    })
}

/// How long a connection cut for idleness gets to close gracefully (HTTP/2
/// GOAWAY) before its socket is dropped.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(1);

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

pub(crate) async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let listen = &shared.config.listen;
    let accepted_at = Instant::now();
    // This connection keeps the TLS settings and address policy it started
    // with, whatever a reload swaps in meanwhile.
    let live = shared.live.load_full();
    // Address checks first: a refused address never costs a TLS handshake.
    // The futures of each phase are boxed so that the connection's task holds
    // only what the current phase needs: an idle connection is this task, and
    // unboxed the task was 6 KiB (bench/README.md).
    let deadline = accepted_at + listen.handshake_timeout;
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
    let left = listen
        .handshake_timeout
        .saturating_sub(accepted_at.elapsed());
    if closes_before_tls(&stream, left).await {
        return match by_balancer {
            true => telemetry::balancer_check(),
            false => telemetry::silent_probe(),
        };
    }
    // The stream comes out boxed too: moved by value it would keep a slot of
    // its size in this task for the connection's whole life.
    let acceptor = live.acceptor.clone();
    // One deadline from accept to the end of the handshake, whatever the
    // PROXY header and the first byte took of it.
    let handshake = tokio::time::timeout(
        listen
            .handshake_timeout
            .saturating_sub(accepted_at.elapsed()),
        Box::pin(async move { acceptor.accept(stream).await.map(Box::new) }),
    )
    .await;
    let handshake_took = accepted_at.elapsed();
    let tls_stream = match handshake {
        Ok(Ok(s)) => {
            telemetry::handshake("ok", handshake_took);
            s
        }
        Ok(Err(e)) => {
            telemetry::handshake("refused", handshake_took);
            return shared.seclog.deny(
                &tls::handshake_denial(&e).by_balancer(by_balancer),
                client_ip,
                None,
            );
        }
        Err(_) => {
            telemetry::handshake("timeout", handshake_took);
            return shared.seclog.deny(
                &Denial::new(Reason::HandshakeTimeout).by_balancer(by_balancer),
                client_ip,
                None,
            );
        }
    };
    // Borrowed, not copied: a copy of the certificate kept in this task would
    // stay for the connection's whole life (rustls keeps its own).
    let Some(cert) = tls_stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    else {
        return shared.seclog.deny(
            &Denial::new(Reason::NoCertificate).by_balancer(by_balancer),
            client_ip,
            None,
        );
    };
    let identity = match identify(cert, shared.config.tls.identity) {
        Ok(identity) => identity,
        Err(e) => {
            return shared.seclog.deny(
                &Denial::new(Reason::NoIdentity)
                    .with_detail(e.to_string())
                    .by_balancer(by_balancer),
                client_ip,
                None,
            );
        }
    };
    // A resumed session skips certificate verification, expiry included; a
    // certificate that expired since its full handshake is refused here.
    if identity.not_after() < chrono::Utc::now() {
        return shared.seclog.deny(
            &Denial::new(Reason::CertificateExpired).with_detail("session resumed after expiry"),
            client_ip,
            Some(identity.id()),
        );
    }
    if shared.config.network.allow_lines {
        shared.seclog.allow(Stage::Tls, client_ip, identity.id());
    }
    let client_id = identity.id().to_owned();
    let activity = Activity::new();
    let info = ConnectionInfo {
        peer,
        client_ip,
        identity,
        activity: Arc::clone(&activity),
    };
    let app = Arc::clone(&shared.app);
    let tracked = Arc::clone(&activity);
    let service = service_fn(move |request| {
        let in_flight = tracked.begin();
        // Boxed: hyper keeps a slot the size of this future for the whole
        // connection; the request's own (large) future lives only while it runs.
        let response = Box::pin(Arc::clone(&app).handle(request, info.clone()));
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Tracked::boxed(body, in_flight)))
        }
    });
    let mut connection = Box::pin(
        shared
            .http
            .serve_connection(TokioIo::new(tls_stream), service),
    );
    let (first_request, idle) = (listen.first_request_timeout, listen.idle_timeout);
    // Set once a graceful close has started: past it, the socket is dropped.
    let mut hard_close: Option<Instant> = None;
    // Set once this loop has cut the connection and logged why: hyper's own
    // deadline may end it with an error at the same moment, and a refusal
    // gets one line, not two.
    let mut cut_logged = false;
    loop {
        let check_at = match (
            hard_close,
            activity.verdict(Instant::now(), first_request, idle),
        ) {
            (Some(at), _) => at,
            (None, IdleVerdict::Cut(denial)) => {
                shared.seclog.deny(&denial, client_ip, Some(&client_id));
                cut_logged = true;
                connection.as_mut().graceful_shutdown();
                hard_close = Some(Instant::now() + GRACEFUL_CLOSE);
                continue;
            }
            (None, IdleVerdict::WaitUntil(at)) => at,
            (None, IdleVerdict::Busy) => Instant::now() + idle,
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    match protocol_refusal(e.as_ref(), &activity) {
                        Some(denial) if !cut_logged => shared.seclog.deny(&denial, client_ip, Some(&client_id)),
                        _ => tracing::debug!(ip = %client_ip, error = %e, "connection ended with an error"),
                    }
                }
                return;
            }
            () = shutdown.cancelled(), if hard_close.is_none() => {
                connection.as_mut().graceful_shutdown();
                hard_close = Some(Instant::now() + listen.drain_timeout);
            }
            // Gone idle (the deadline moves: look again), or banned while
            // open: the request that found out was refused and logged, and
            // the connection ends like an idle one (GOAWAY on HTTP/2).
            () = activity.changed(), if hard_close.is_none() => {
                if activity.is_closing() {
                    connection.as_mut().graceful_shutdown();
                    hard_close = Some(Instant::now() + GRACEFUL_CLOSE);
                }
            }
            () = tokio::time::sleep_until(check_at) => {
                if hard_close.is_some() {
                    // A peer that ignores the graceful close: drop the socket.
                    return;
                }
            }
        }
    }
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
