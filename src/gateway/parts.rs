//! The parts [`crate::gateway::server::start`] builds from the
//! configuration, one function each: the backend, the logs, the HTTP
//! application around the MCP service, the metrics listener and its access
//! rules. Each fails with the setting it could not use.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::calendar::caldav::CalDavAccounts;
use crate::calendar::embedded::EmbeddedStore;
use crate::calendar::google::GoogleAccounts;
use crate::calendar::{CalendarAccounts, SharedBackend};
use crate::config::{Backend, Config, Problems};
use crate::gateway::upkeep::IdleSessions;
use crate::http::{App, RequestLimits};
use crate::mcp;
use crate::mcp::session::{SessionLimits, SessionOwners};
use crate::observe::audit::AuditLog;
use crate::observe::seclog::SecurityLog;
use crate::policy::bans::Bans;
use crate::policy::snapshot::Snapshot;
use crate::transport::tls;

/// Opens the embedded store, or prepares the Google or CalDAV accounts.
pub(super) async fn open_backend(backend: &Backend) -> anyhow::Result<Arc<dyn CalendarAccounts>> {
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
        Backend::CalDav(caldav) => Arc::new(CalDavAccounts::new(caldav)?),
    })
}

/// The in-process bans shared through a folder, with the table they feed.
pub(super) type SharedBanFolder = (Arc<crate::gateway::shared_bans::SharedBans>, Arc<Bans>);

/// The security log (`log.security_log`, else stderr), feeding the ban
/// table when `[bans]` is on; and the ban folder when the replicas share it.
pub(super) fn open_security_log(
    config: &Config,
) -> anyhow::Result<(Arc<SecurityLog>, Option<SharedBanFolder>)> {
    let bans = config.bans.clone().map(|rule| Arc::new(Bans::new(rule)));
    let shared_bans = bans.as_ref().and_then(|bans| {
        let dir = config.bans.as_ref()?.shared_dir.clone()?;
        Some((
            Arc::new(crate::gateway::shared_bans::SharedBans::new(dir)),
            Arc::clone(bans),
        ))
    });
    let seclog = match &config.network.security_log {
        Some(path) => SecurityLog::open(path).map_err(|e| {
            anyhow::anyhow!("log.security_log: cannot open {}: {e}", path.display())
        })?,
        None => SecurityLog::stderr(),
    };
    let seclog = match bans {
        Some(bans) => seclog.with_bans(bans),
        None => seclog,
    };
    Ok((Arc::new(seclog), shared_bans))
}

/// The audit log (`log.audit_log`, else stderr).
pub(super) fn open_audit_log(config: &Config) -> anyhow::Result<Arc<AuditLog>> {
    let format = config.network.audit_format;
    Ok(Arc::new(match &config.network.audit_log {
        Some(path) => AuditLog::open(path, format)
            .map_err(|e| anyhow::anyhow!("log.audit_log: cannot open {}: {e}", path.display()))?,
        None => AuditLog::stderr(format),
    }))
}

/// The MCP service and the HTTP application around it, with the session
/// table the idle-session upkeep sweeps.
pub(super) fn build_app(
    config: &Config,
    deps: mcp::ToolDeps,
    live: Arc<ArcSwap<Snapshot>>,
    shutdown: &CancellationToken,
) -> (Arc<App>, IdleSessions) {
    let seclog = Arc::clone(&deps.seclog);
    let audit = Arc::clone(&deps.audit);
    let rate = Arc::clone(&deps.rate);
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
        live,
        seclog,
        audit,
        rate,
    ));
    (app, IdleSessions { sessions, manager })
}

/// The metrics listener, when `metrics.enabled`.
pub(super) async fn bind_metrics(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    if !config.metrics.enabled {
        return Ok(None);
    }
    let listener = TcpListener::bind(config.metrics.listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!("metrics.listen: cannot bind {}: {e}", config.metrics.listen)
        })?;
    Ok(Some(listener))
}

/// Who may reach `/metrics` and `/ready`, and their TLS when
/// `[metrics.tls]` is set.
pub(super) fn metrics_access(
    config: &Config,
) -> anyhow::Result<crate::gateway::metrics_server::MetricsAccess> {
    let tls = match &config.metrics.tls {
        Some(settings) => Some(TlsAcceptor::from(
            tls::metrics_config(settings).map_err(Problems)?,
        )),
        None => None,
    };
    Ok(crate::gateway::metrics_server::MetricsAccess {
        allow: config.metrics.allow.clone(),
        max_connections: config.metrics.max_connections,
        tls,
    })
}
