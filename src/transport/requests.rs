//! The requests of one identified connection: HTTP/1.1 or HTTP/2 served by
//! hyper, each request handed to [`crate::http::App`], until the connection
//! ends, is cut for idleness ([`crate::http::activity`]), its address is
//! banned meanwhile, or the gateway shuts down. Until its first bytes arrive,
//! and while an HTTP/1.1 connection is parked between requests, it holds no
//! HTTP state at all ([`crate::transport::protocol`],
//! [`crate::transport::serving`]).
//! A refusal hyper or h2 makes on its own (a head too large, a flood of
//! resets) gets its one line here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::denial::{Denial, Reason};
use crate::http::ConnectionInfo;
use crate::http::activity::{Activity, IdleVerdict};
use crate::transport::protocol::{FirstBytes, Protocol, read_first_bytes};
use crate::transport::replayed::Replayed;
use crate::transport::serving::{PARK_AFTER, Parked, RequestService, Serving};
use crate::transport::shared::Shared;

/// How long a connection cut for idleness gets to close gracefully (HTTP/2
/// GOAWAY) before its socket is dropped.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(1);

/// Serves the connection's requests until it ends; `agreed` is the version
/// ALPN chose, if any.
pub(crate) async fn serve_requests<S>(
    stream: S,
    agreed: Option<Protocol>,
    info: ConnectionInfo,
    shared: &Shared,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut stream = Replayed::new(stream, Bytes::new());
    let mut service = RequestService::new(Arc::clone(&shared.app), info.clone());
    let mut known = agreed;
    loop {
        // Bytes hyper had read of a next head, given back when it was parked:
        // served at once, and not parked again before a request has ended
        // (else a client stalled mid-head would go in and out of hyper).
        let replaying = stream.has_prefix();
        let protocol = match (replaying, known) {
            (true, Some(protocol)) => protocol,
            _ => {
                let waiting = await_first_bytes(&mut stream, known, &info, shared, &shutdown);
                let Some(first) = Box::pin(waiting).await else {
                    return;
                };
                stream = stream.give_back(first.bytes);
                first.protocol
            }
        };
        known = Some(protocol);
        let flushed = stream.flushed();
        let connection = shared.http.serve(stream, protocol, service);
        let served = serve_until_idle(connection, &flushed, !replaying, &info, shared, &shutdown);
        match Box::pin(served).await {
            Some(parked) => (stream, service) = (parked.stream, parked.service),
            None => return,
        }
    }
}

/// Serves requests in hyper until the connection ends (`None`) or, being
/// HTTP/1.1 and quiet for [`PARK_AFTER`], is taken out of hyper. `may_park`
/// false: not before a request has ended.
async fn serve_until_idle<S>(
    mut connection: Serving<S>,
    flushed: &AtomicBool,
    may_park: bool,
    info: &ConnectionInfo,
    shared: &Shared,
    shutdown: &CancellationToken,
) -> Option<Parked<S>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let listen = &shared.config.listen;
    let (client_ip, client_id) = (info.client_ip, info.identity.id());
    let activity = &info.activity;
    let (first_request, idle) = (listen.first_request_timeout, listen.idle_timeout);
    // Set once a graceful close has started: past it, the socket is dropped.
    let mut hard_close: Option<Instant> = None;
    // Set once this loop has cut the connection and logged why: hyper's own
    // deadline may end it with an error at the same moment, and a refusal
    // gets one line, not two.
    let mut cut_logged = false;
    // The earliest the connection may be parked (`None`: not before a
    // request has ended; never for HTTP/2): not within `PARK_AFTER` of hyper
    // being built either, so that bytes of a head still coming are not
    // parked at once.
    let parkable = connection.is_http1();
    let mut park_not_before = (may_park && parkable).then(|| Instant::now() + PARK_AFTER);
    loop {
        let now = Instant::now();
        let (check_at, park_at) = match (hard_close, activity.verdict(now, first_request, idle)) {
            (Some(at), _) => (at, None),
            (None, IdleVerdict::Cut(denial)) => {
                shared.seclog.deny(&denial, client_ip, Some(client_id));
                cut_logged = true;
                connection.graceful_shutdown();
                hard_close = Some(now + GRACEFUL_CLOSE);
                continue;
            }
            (
                None,
                IdleVerdict::WaitUntil {
                    deadline,
                    idle_after_request_since,
                },
            ) => {
                let park_at = park_not_before.zip(idle_after_request_since);
                (
                    deadline,
                    park_at.map(|(not_before, since)| (since + PARK_AFTER).max(not_before)),
                )
            }
            (None, IdleVerdict::Busy) => (now + idle, None),
        };
        if park_at.is_some_and(|at| at <= now) {
            if flushed.load(Ordering::Relaxed) {
                match connection.park() {
                    Ok(parked) => return Some(parked),
                    Err(http2) => connection = http2,
                }
            }
            // Not yet (an answer still being flushed): look again later.
            park_not_before = Some(now + PARK_AFTER);
        }
        let wake_at = park_at.map_or(check_at, |at| at.min(check_at));
        tokio::select! {
            result = std::future::poll_fn(|cx| connection.poll_serve(cx)) => {
                if let Err(e) = result {
                    match protocol_refusal(&e, activity) {
                        Some(denial) if !cut_logged => shared.seclog.deny(&denial, client_ip, Some(client_id)),
                        _ => tracing::debug!(ip = %client_ip, error = %e, "connection ended with an error"),
                    }
                }
                return None;
            }
            () = shutdown.cancelled(), if hard_close.is_none() => {
                connection.graceful_shutdown();
                hard_close = Some(Instant::now() + listen.drain_timeout);
            }
            // A request ended (the idle deadline moves: look again), or
            // banned while open: the request that found out was refused and
            // logged, and the connection ends like an idle one (GOAWAY on
            // HTTP/2).
            () = activity.changed(), if hard_close.is_none() => {
                if parkable {
                    park_not_before.get_or_insert(Instant::now());
                }
                if activity.is_closing() {
                    connection.graceful_shutdown();
                    hard_close = Some(Instant::now() + GRACEFUL_CLOSE);
                }
            }
            () = tokio::time::sleep_until(wake_at) => {
                if hard_close.is_some_and(|at| at <= Instant::now()) {
                    // A peer that ignores the graceful close: drop the socket.
                    return None;
                }
            }
        }
    }
}

/// Waits, out of hyper, for the connection's first bytes (and learns its
/// HTTP version) or, once parked, for its next request's, under the same
/// deadlines as in hyper: no first request within
/// `listen.first_request_timeout`, or nothing for `listen.idle_timeout`, is
/// cut with its line; the gateway shutting down, the address banned
/// meanwhile (logged by whoever banned it) or the client closing end it
/// quietly. `None`: the connection is over.
async fn await_first_bytes<S>(
    stream: &mut S,
    known: Option<Protocol>,
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
        let reading = read_first_bytes(&mut *stream, known);
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
                IdleVerdict::WaitUntil { deadline, .. } => deadline,
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
