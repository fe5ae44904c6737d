//! The requests of one identified connection: HTTP/1.1 or HTTP/2 served by
//! hyper, each request handed to [`crate::http::App`], until the connection
//! ends, is cut for idleness ([`crate::http::activity`]), its address is
//! banned meanwhile, or the gateway shuts down. Until its first bytes arrive
//! the connection holds no HTTP state at all ([`crate::transport::protocol`]).
//! A refusal hyper or h2 makes on its own (a head too large, a flood of
//! resets) gets its one line here.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::denial::{Denial, Reason};
use crate::http::ConnectionInfo;
use crate::http::activity::{Activity, IdleVerdict, Tracked};
use crate::transport::protocol::{FirstBytes, Protocol, read_first_bytes};
use crate::transport::shared::Shared;

/// How long a connection cut for idleness gets to close gracefully (HTTP/2
/// GOAWAY) before its socket is dropped.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(1);

/// Serves the connection's requests until it ends; `agreed` is the version
/// ALPN chose, if any.
pub(crate) async fn serve_requests<S>(
    mut stream: S,
    agreed: Option<Protocol>,
    info: ConnectionInfo,
    shared: &Shared,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let listen = &shared.config.listen;
    let client_ip = info.client_ip;
    let client_id = info.identity.id().to_owned();
    let activity = Arc::clone(&info.activity);
    let Some(first) = Box::pin(await_first_bytes(
        &mut stream,
        agreed,
        &info,
        shared,
        &shutdown,
    ))
    .await
    else {
        return;
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
    let mut connection = shared.http.serve(stream, first, service);
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
                    match protocol_refusal(&e, &activity) {
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

/// Waits for the connection's first bytes and learns its HTTP version, under
/// the same deadlines as the requests after it: no first request within
/// `listen.first_request_timeout` is cut with its line; the gateway shutting
/// down, the address banned meanwhile (logged by whoever banned it) or the
/// client closing end it quietly. `None`: the connection is over.
async fn await_first_bytes<S>(
    stream: &mut S,
    agreed: Option<Protocol>,
    info: &ConnectionInfo,
    shared: &Shared,
    shutdown: &CancellationToken,
) -> Option<FirstBytes>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let listen = &shared.config.listen;
    let activity = &info.activity;
    let outcome = {
        let reading = read_first_bytes(&mut *stream, agreed);
        tokio::pin!(reading);
        loop {
            let check_at = match activity.verdict(
                Instant::now(),
                listen.first_request_timeout,
                listen.idle_timeout,
            ) {
                IdleVerdict::Cut(denial) => {
                    shared
                        .seclog
                        .deny(&denial, info.client_ip, Some(info.identity.id()));
                    break None;
                }
                IdleVerdict::WaitUntil(at) => at,
                IdleVerdict::Busy => Instant::now() + listen.idle_timeout,
            };
            tokio::select! {
                read = &mut reading => match read {
                    Ok(first) => return first,
                    Err(e) => {
                        tracing::debug!(ip = %info.client_ip, error = %e, "connection ended before its first request");
                        return None;
                    }
                },
                () = shutdown.cancelled() => break None,
                () = activity.changed() => if activity.is_closing() {
                    break None;
                },
                () = tokio::time::sleep_until(check_at) => {}
            }
        }
    };
    // Cut or closing: say goodbye (TLS close_notify) without waiting long.
    let _ = tokio::time::timeout(GRACEFUL_CLOSE, stream.shutdown()).await;
    outcome
}

/// The refusal hyper made itself when it ended a connection over the request
/// head, so that it too gets its line: 431 for headers over
/// `listen.max_header_list_bytes`, 400 for a head HTTP/1.1 does not allow
/// (an ambiguous length, a bad header, a request smuggled in), or no complete
/// head within
/// `listen.header_read_timeout` — which HTTP/1.1 also applies between the
/// requests of a keep-alive connection, so it reads as the first-request or
/// the idle deadline, depending on whether a request was ever served.
fn protocol_refusal(hyper: &hyper::Error, activity: &Activity) -> Option<Denial> {
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
