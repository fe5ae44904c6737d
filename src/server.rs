//! The listener: accept TCP, cap concurrent connections, run the address checks
//! ([`crate::admission`]) and the TLS handshake under a deadline, log every
//! refusal to the security log, read the client identity, then serve HTTP/1.1 or HTTP/2 on
//! the connection until it ends or the server shuts down gracefully.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::convert::Infallible;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::NetworkAdmission;
use crate::admission::ip::canonical;
use crate::admission::jwt::TokenVerifier;
use crate::audit::AuditLog;

use crate::calendar::embedded::EmbeddedStore;
use crate::calendar::google::GoogleAccounts;
use crate::calendar::{CalendarAccounts, SharedBackend};
use crate::config::{Backend, Config, Problems};
use crate::connection::{Activity, IdleVerdict, Tracked};
use crate::denial::{Denial, Reason, Stage};
use crate::http::{App, ConnectionInfo, RequestLimits};
use crate::identity::identify;
use crate::limits::AddressSlots;
use crate::mcp::session::{SessionLimits, SessionOwners};
use crate::resource::ProtectedResource;
use crate::seclog::SecurityLog;
use crate::{admission, mcp, tls};

/// How long in-flight requests get to finish after shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection cut for idleness gets to close gracefully (HTTP/2
/// GOAWAY) before its socket is dropped.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(1);

/// A running gateway: where it listens and how to stop it.
pub struct Gateway {
    /// The bound address (useful when the config asked for port 0).
    pub local_addr: SocketAddr,
    /// Cancel to stop accepting and drain.
    pub shutdown: CancellationToken,
    /// Finishes once every connection has drained.
    pub task: JoinHandle<()>,
}

/// Everything a connection task needs, shared.
struct Shared {
    acceptor: TlsAcceptor,
    app: Arc<App>,
    config: Config,
    admission: NetworkAdmission,
    /// HTTP/1.1 + HTTP/2 connection settings, built once.
    http: auto::Builder<TokioExecutor>,
    seclog: Arc<SecurityLog>,
    /// Open connections per client address.
    address_slots: Arc<AddressSlots>,
}

/// Opens the embedded store, or prepares the Google accounts.
async fn open_backend(backend: &Backend) -> anyhow::Result<Arc<dyn CalendarAccounts>> {
    Ok(match backend {
        Backend::Embedded(embedded) => {
            let store =
                EmbeddedStore::open(&embedded.path, &embedded.time_zone, &embedded.calendars)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "backend.embedded.path: cannot open {}: {e}",
                            embedded.path.display()
                        )
                    })?;
            Arc::new(SharedBackend(Arc::new(store)))
        }
        Backend::Google(google) => Arc::new(GoogleAccounts::new(google).await?),
    })
}

/// Opens the backend, builds TLS and binds the listener; the gateway then runs in the background.
pub async fn start(config: Config) -> anyhow::Result<Gateway> {
    let server_tls = tls::server_config(&config.tls).map_err(Problems)?;
    let admission = admission::from_config(&config.network).map_err(|p| Problems(vec![p]))?;
    let seclog = Arc::new(match &config.network.security_log {
        Some(path) => SecurityLog::open(path).map_err(|e| {
            anyhow::anyhow!("log.security_log: cannot open {}: {e}", path.display())
        })?,
        None => SecurityLog::stderr(),
    });
    let verifier = TokenVerifier::from_config(&config.jwt).map_err(|p| Problems(vec![p]))?;
    let shutdown = CancellationToken::new();
    let revocations = verifier.revocations();
    let resource = ProtectedResource::new(&config.mcp, verifier);
    let accounts = open_backend(&config.backend).await?;
    let audit = Arc::new(match &config.network.audit_log {
        Some(path) => AuditLog::open(path)
            .map_err(|e| anyhow::anyhow!("log.audit_log: cannot open {}: {e}", path.display()))?,
        None => AuditLog::stderr(),
    });
    let (service, manager) = mcp::http_service(
        accounts,
        Arc::clone(&seclog),
        audit,
        &config.mcp.allowed_hosts,
        config.listen.max_request_body_bytes,
        config.mcp.session_idle_timeout,
        shutdown.child_token(),
    );
    let sessions = Arc::new(SessionOwners::new(SessionLimits {
        max_total: config.mcp.max_sessions,
        max_per_client: config.mcp.max_sessions_per_client,
        idle: config.mcp.session_idle_timeout,
    }));
    let limits = RequestLimits {
        mcp_path: config.mcp.path.clone(),
        allowed_hosts: config.mcp.allowed_hosts.clone(),
        max_body: config.listen.max_request_body_bytes,
        body_timeout: config.listen.body_read_timeout,
    };
    let app = Arc::new(App::new(
        limits,
        service,
        Arc::clone(&sessions),
        resource,
        Arc::clone(&seclog),
    ));
    let listener = TcpListener::bind(config.listen.address)
        .await
        .map_err(|e| {
            anyhow::anyhow!("listen.address: cannot bind {}: {e}", config.listen.address)
        })?;
    let local_addr = listener.local_addr()?;
    // Background upkeep, started once nothing can fail any more; each stops
    // with the gateway.
    if let Some(revocations) = revocations {
        tokio::spawn(revocations.watch(shutdown.clone()));
    }
    tokio::spawn(close_idle_sessions(
        Arc::clone(&sessions),
        manager,
        config.mcp.session_idle_timeout,
        shutdown.clone(),
    ));
    let http = http_builder(&config.listen);
    let shared = Arc::new(Shared {
        acceptor: TlsAcceptor::from(server_tls),
        app,
        address_slots: AddressSlots::new(config.listen.max_connections_per_address),
        config,
        admission,
        seclog,
        http,
    });
    let task = tokio::spawn(accept_loop(listener, shared, shutdown.clone()));
    tracing::info!(%local_addr, "mcp-gateway listening");
    Ok(Gateway {
        local_addr,
        shutdown,
        task,
    })
}

/// Closes, in rmcp too, the sessions idle for longer than `idle`: the table
/// entry and the session's task go, and with them its memory.
async fn close_idle_sessions(
    sessions: Arc<SessionOwners>,
    manager: Arc<LocalSessionManager>,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let period = (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = shutdown.cancelled() => return,
        }
        for id in sessions.take_expired() {
            let id: rmcp::transport::common::server_side_http::SessionId = id.into();
            if let Err(e) = manager.close_session(&id).await {
                tracing::debug!(error = %e, "closing an idle session");
            }
        }
    }
}

/// The HTTP settings every connection is served with.
fn http_builder(listen: &crate::config::Listen) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(listen.header_read_timeout)
        .max_buf_size(listen.max_header_list_bytes as usize);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(listen.max_concurrent_streams)
        .max_header_list_size(listen.max_header_list_bytes)
        .max_pending_accept_reset_streams(Some(32))
        .max_local_error_reset_streams(Some(32))
        // PINGs detect dead peers; they never count as activity (see crate::connection).
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let limit = Arc::new(Semaphore::new(shared.config.listen.max_connections));
    let tasks = TaskTracker::new();
    loop {
        // Take a connection slot before accepting, so excess clients wait in the
        // kernel backlog instead of costing a task and a handshake each.
        let permit = tokio::select! {
            permit = Arc::clone(&limit).acquire_owned() => permit.expect("semaphore is never closed"),
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let shared = Arc::clone(&shared);
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            serve_connection(stream, peer, shared, shutdown).await;
            drop(permit);
        });
    }
    drop(listener);
    tasks.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}

/// Accepts one connection and sets its socket options. `TCP_NODELAY`: without
/// it the last small chunk of an answer waits for the client's delayed ACK
/// (~40 ms added to every tool call).
async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    let (stream, peer) = listener.accept().await?;
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
    }
    Ok((stream, peer))
}

async fn serve_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    let listen = &shared.config.listen;
    // Address checks first: a refused address never costs a TLS handshake.
    let admitted = tokio::time::timeout(
        listen.handshake_timeout,
        shared.admission.admit(&mut stream, peer),
    )
    .await;
    let client_ip = match admitted {
        Ok(Ok(ip)) => ip,
        Ok(Err(refusal)) => return shared.seclog.deny(&refusal.denial, refusal.ip, None),
        Err(_) => {
            // Silent: a trusted balancer that never sent its header, or a client
            // that never started TLS.
            let reason = if shared.admission.is_trusted_proxy(peer.ip()) {
                Reason::MissingProxyHeader
            } else {
                Reason::HandshakeTimeout
            };
            return shared
                .seclog
                .deny(&Denial::new(reason), canonical(peer.ip()), None);
        }
    };
    // Held until the connection ends: one address cannot take every slot.
    let _address_slot = match shared.address_slots.take(client_ip) {
        Ok(slot) => slot,
        Err(denial) => return shared.seclog.deny(&denial, client_ip, None),
    };
    let tls_stream = match tokio::time::timeout(
        listen.handshake_timeout,
        shared.acceptor.accept(stream),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return shared
                .seclog
                .deny(&tls::handshake_denial(&e), client_ip, None);
        }
        Err(_) => {
            return shared
                .seclog
                .deny(&Denial::new(Reason::HandshakeTimeout), client_ip, None);
        }
    };
    let Some(cert) = tls_stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .cloned()
    else {
        return shared
            .seclog
            .deny(&Denial::new(Reason::NoCertificate), client_ip, None);
    };
    let identity = match identify(&cert, shared.config.tls.identity) {
        Ok(identity) => identity,
        Err(e) => {
            return shared.seclog.deny(
                &Denial::new(Reason::NoIdentity).with_detail(e.to_string()),
                client_ip,
                None,
            );
        }
    };
    shared.seclog.allow(Stage::Tls, client_ip, &identity.id);
    let client_id = identity.id.clone();
    let info = ConnectionInfo {
        peer,
        client_ip,
        identity,
    };
    let activity = Activity::new();
    let app = Arc::clone(&shared.app);
    let tracked = Arc::clone(&activity);
    let service = service_fn(move |request| {
        let in_flight = tracked.begin();
        let response = Arc::clone(&app).handle(request, info.clone());
        async move {
            let response = response.await?;
            Ok::<_, Infallible>(response.map(|body| Tracked::boxed(body, in_flight)))
        }
    });
    let connection = shared
        .http
        .serve_connection(TokioIo::new(tls_stream), service);
    let mut connection = std::pin::pin!(connection);
    let (first_request, idle) = (listen.first_request_timeout, listen.idle_timeout);
    // Set once a graceful close has started: past it, the socket is dropped.
    let mut hard_close: Option<Instant> = None;
    loop {
        let check_at = match (
            hard_close,
            activity.verdict(Instant::now(), first_request, idle),
        ) {
            (Some(at), _) => at,
            (None, IdleVerdict::Cut(denial)) => {
                shared.seclog.deny(&denial, client_ip, Some(&client_id));
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
                    tracing::debug!(ip = %client_ip, error = %e, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if hard_close.is_none() => {
                connection.as_mut().graceful_shutdown();
                hard_close = Some(Instant::now() + DRAIN_TIMEOUT);
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
