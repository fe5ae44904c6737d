//! The gateway as a whole: [`start`] opens the backend, builds TLS, the token
//! verifier, the MCP service and the HTTP settings, binds the listener and
//! starts the background upkeep (revocation list, idle sessions); the accept
//! loop caps concurrent connections and hands each to [`crate::connection`];
//! shutdown stops accepting and drains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admission::jwt::TokenVerifier;
use crate::audit::AuditLog;
use crate::bans::Bans;
use crate::calendar::embedded::EmbeddedStore;
use crate::calendar::google::GoogleAccounts;
use crate::calendar::{CalendarAccounts, SharedBackend};
use crate::config::{Backend, Config, Problems};
use crate::connection::{accept, serve_connection};
use crate::http::{App, RequestLimits};
use crate::limits::AddressSlots;
use crate::mcp::session::{SessionLimits, SessionOwners};
use crate::rate::RateLimits;
use crate::readiness::Readiness;
use crate::reload::Reloader;
use crate::resource::ProtectedResource;
use crate::seclog::SecurityLog;
use crate::snapshot::Snapshot;
use crate::{admission, mcp, telemetry, tls};

/// A running gateway: where it listens and how to stop it.
pub struct Gateway {
    /// The bound address (useful when the config asked for port 0).
    pub local_addr: SocketAddr,
    /// Cancel to stop accepting and drain.
    pub shutdown: CancellationToken,
    /// Finishes once every connection has drained.
    pub task: JoinHandle<()>,
    /// Where Prometheus scrapes (`None` with `metrics.enabled = false`).
    pub metrics_addr: Option<SocketAddr>,
    /// The security log, reopened on SIGHUP.
    seclog: Arc<SecurityLog>,
    /// The audit log, reopened on SIGHUP.
    audit: Arc<AuditLog>,
    /// Reloads the configuration on SIGHUP.
    reloader: Arc<Reloader>,
    /// What `/ready` answers; draining on SIGTERM.
    readiness: Arc<Readiness>,
}

impl Gateway {
    /// Reopens the log files (after logrotate moved them): the next line of
    /// each goes to a file at the configured path.
    pub fn reopen_logs(&self) {
        self.seclog.reopen();
        self.audit.reopen();
    }

    /// Reloads on its own whenever the config at `path`, or a file it names,
    /// changes (see [`crate::reload::Reloader::watch`]).
    pub fn watch_config(&self, path: &std::path::Path) {
        tokio::spawn(Arc::clone(&self.reloader).watch(path.to_owned()));
    }

    /// Says "not ready" at `/ready` from now on, while still serving: the
    /// first step of a shutdown behind a load balancer.
    pub fn begin_drain(&self) {
        self.readiness.drain();
    }

    /// Reloads what can change live from the config at `path` (see
    /// [`crate::reload`]): notes on what needs a restart, or the problems.
    pub fn reload(&self, path: &std::path::Path) -> Result<Vec<String>, Problems> {
        self.reloader.reload(path)
    }
}

/// Everything a connection task needs, shared.
pub(crate) struct Shared {
    /// What a reload replaces, swapped at once: a new connection's TLS and
    /// address checks, every request's token and revocation checks.
    pub(crate) live: Arc<ArcSwap<Snapshot>>,
    /// The HTTP application.
    pub(crate) app: Arc<App>,
    /// The configuration the gateway started with (listener settings).
    pub(crate) config: Config,
    /// HTTP/1.1 + HTTP/2 connection settings, built once.
    pub(crate) http: auto::Builder<TokioExecutor>,
    pub(crate) seclog: Arc<SecurityLog>,
    /// Open connections per client address.
    pub(crate) address_slots: Arc<AddressSlots>,
    /// Connections per trusted balancer still waiting for their PROXY header.
    pub(crate) header_waits: Arc<AddressSlots>,
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
    // The recorder first, so that nothing recorded from here on is lost.
    let _ = telemetry::handle();
    let server_tls = tls::server_config(&config.tls).map_err(Problems)?;
    let admission = admission::from_config(&config.network).map_err(|p| Problems(vec![p]))?;
    let bans = config.bans.clone().map(|rule| Arc::new(Bans::new(rule)));
    let shared_bans = bans.as_ref().and_then(|bans| {
        let dir = config.bans.as_ref()?.shared_dir.clone()?;
        Some((
            Arc::new(crate::shared_bans::SharedBans::new(dir)),
            Arc::clone(bans),
        ))
    });
    let seclog = match &config.network.security_log {
        Some(path) => SecurityLog::open(path).map_err(|e| {
            anyhow::anyhow!("log.security_log: cannot open {}: {e}", path.display())
        })?,
        None => SecurityLog::stderr(),
    };
    let seclog = Arc::new(match bans {
        Some(bans) => seclog.with_bans(bans),
        None => seclog,
    });
    let rate = Arc::new(RateLimits::new(config.rate_limits));
    let verifier = TokenVerifier::from_config(&config.jwt).map_err(|p| Problems(vec![p]))?;
    let shutdown = CancellationToken::new();
    let revocations = verifier.revocations();
    let live = Arc::new(ArcSwap::from_pointee(Snapshot {
        acceptor: TlsAcceptor::from(server_tls),
        admission,
        resource: ProtectedResource::new(&config.mcp, verifier),
        revoked: crate::crl::revoked(&config.tls),
    }));
    let accounts = open_backend(&config.backend).await?;
    let audit = Arc::new(match &config.network.audit_log {
        Some(path) => AuditLog::open(path, config.network.audit_format)
            .map_err(|e| anyhow::anyhow!("log.audit_log: cannot open {}: {e}", path.display()))?,
        None => AuditLog::stderr(config.network.audit_format),
    });
    let deps = mcp::ToolDeps {
        accounts,
        seclog: Arc::clone(&seclog),
        audit: Arc::clone(&audit),
        rate: Arc::clone(&rate),
    };
    let mcp_service = mcp::http_service(
        deps,
        &config.mcp.allowed_hosts,
        config.listen.max_request_body_bytes,
        config.mcp.session_idle_timeout,
        shutdown.child_token(),
    );
    let manager = Arc::clone(&mcp_service.sessions);
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
        max_header_list: config.listen.max_header_list_bytes as usize,
    };
    let app = Arc::new(App::new(
        limits,
        mcp_service,
        Arc::clone(&sessions),
        Arc::clone(&live),
        Arc::clone(&seclog),
        Arc::clone(&audit),
        Arc::clone(&rate),
    ));
    let listener =
        crate::listener::bind(config.listen.address, config.listen.interface.as_deref())?;
    let local_addr = listener.local_addr()?;
    let metrics_listener = match config.metrics.enabled {
        true => Some(
            TcpListener::bind(config.metrics.listen)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("metrics.listen: cannot bind {}: {e}", config.metrics.listen)
                })?,
        ),
        false => None,
    };
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    record_expiries(&config.tls);
    if let Some(written) = config
        .jwt
        .signing_key
        .as_ref()
        .and_then(|key| std::fs::metadata(key).ok()?.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    {
        telemetry::signing_key_created(written.as_secs() as i64);
    }
    let metrics_tls = match &config.metrics.tls {
        Some(settings) => Some(TlsAcceptor::from(
            tls::metrics_config(settings).map_err(Problems)?,
        )),
        None => None,
    };
    let readiness = Arc::new(Readiness::new(Arc::clone(&seclog), Arc::clone(&audit)));
    if let Some(metrics_listener) = metrics_listener {
        let access = crate::metrics_server::MetricsAccess {
            allow: config.metrics.allow.clone(),
            max_connections: config.metrics.max_connections,
            tls: metrics_tls,
        };
        tokio::spawn(crate::metrics_server::serve(
            metrics_listener,
            access,
            Arc::clone(&seclog),
            Arc::clone(&readiness),
            shutdown.clone(),
        ));
    }
    // Background upkeep, started once nothing can fail any more; each stops
    // with the gateway.
    let revocation_watch = shutdown.child_token();
    if let Some(revocations) = revocations {
        tokio::spawn(revocations.watch(revocation_watch.clone()));
    }
    tokio::spawn(Arc::clone(&rate).upkeep(shutdown.clone()));
    if let Some((shared, bans)) = shared_bans {
        crate::shared_bans::take_in_before_serving(&shared, &bans, &seclog).await;
        tokio::spawn(crate::shared_bans::share(
            shared,
            bans,
            Arc::clone(&seclog),
            shutdown.clone(),
        ));
    }
    tokio::spawn(close_idle_sessions(
        Arc::clone(&sessions),
        manager,
        config.mcp.session_idle_timeout,
        shutdown.clone(),
    ));
    let http = http_builder(&config.listen);
    let shared = Arc::new(Shared {
        live,
        app: Arc::clone(&app),
        address_slots: AddressSlots::new(config.listen.max_connections_per_address),
        header_waits: AddressSlots::new(config.listen.max_connections_per_address),
        config: config.clone(),
        seclog: Arc::clone(&seclog),
        http,
    });
    let reloader = Arc::new(Reloader::new(
        Arc::clone(&shared),
        config,
        revocation_watch,
        shutdown.clone(),
        Arc::clone(&rate),
    ));
    let task = tokio::spawn(accept_loop(listener, shared, shutdown.clone()));
    tracing::info!(%local_addr, "mcp-gateway listening");
    Ok(Gateway {
        local_addr,
        shutdown,
        task,
        metrics_addr,
        seclog,
        audit,
        reloader,
        readiness,
    })
}

/// Sets the expiry gauges an alert watches: server certificate, client CA, CRLs.
pub(crate) fn record_expiries(tls: &crate::config::Tls) {
    if let Some(at) = tls::earliest_expiry(&tls.certificate) {
        telemetry::certificate_expiry("server", at);
    }
    if let Some(at) = tls::earliest_expiry(&tls.client_ca) {
        telemetry::certificate_expiry("client_ca", at);
    }
    for crl in crate::crl::validity(tls) {
        if let Some(next) = crl.next_update {
            telemetry::crl_next_update(crl.key, next.timestamp());
        }
    }
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
        // h2 refuses a larger list itself, with a 431 the gateway never hears
        // of; up to twice the limit the request reaches crate::http, which
        // refuses it with its line.
        .max_header_list_size(listen.max_header_list_bytes.saturating_mul(2))
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
    if tokio::time::timeout(shared.config.listen.drain_timeout, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout; closing them");
    }
}
