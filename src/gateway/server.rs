//! The gateway as a whole: [`start`] builds the policy in force (TLS, the
//! address checks, the token verifier), the logs, the backend and the HTTP
//! application (the parts are in `gateway::parts`), binds the listeners and
//! starts the background upkeep (revocation list, shared bans, idle
//! sessions); the serving threads (`gateway::serving_threads`) accept under
//! the connection cap and run each connection; shutdown stops accepting and
//! drains.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::acme::AcmeClient;
use crate::config::{Backend, Config, Problems};
use crate::gateway::parts::{
    bind_metrics, build_app, metrics_access, open_audit_log, open_backend, open_security_log,
};
use crate::gateway::reload::Reloader;
use crate::gateway::upkeep::{close_idle_sessions, record_expiries, record_signing_key_age};
use crate::observe::audit::AuditLog;
use crate::observe::readiness::Readiness;
use crate::observe::seclog::SecurityLog;
use crate::policy::address;
use crate::policy::rate::RateLimits;
use crate::policy::resource::ProtectedResource;
use crate::policy::snapshot::Snapshot;
use crate::policy::token::jwt::TokenVerifier;
use crate::policy::token::renewal::Renewer;
use crate::transport::certificate::{self, ServerCertificate, Source};
use crate::transport::known_identities::KnownIdentities;
use crate::transport::limits::AddressSlots;
use crate::transport::protocol::HttpBuilders;
use crate::transport::shared::Shared;
use crate::transport::tls;
use crate::{mcp, telemetry};

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
    /// changes (see [`crate::gateway::reload::Reloader::watch`]).
    pub fn watch_config(&self, path: &std::path::Path) {
        tokio::spawn(Arc::clone(&self.reloader).watch(path.to_owned()));
    }

    /// Says "not ready" at `/ready` from now on, while still serving: the
    /// first step of a shutdown behind a load balancer.
    pub fn begin_drain(&self) {
        self.readiness.drain();
    }

    /// Reloads what can change live from the config at `path` (see
    /// [`crate::gateway::reload`]): notes on what needs a restart, or the problems.
    pub fn reload(&self, path: &std::path::Path) -> Result<Vec<String>, Problems> {
        self.reloader.reload(path)
    }
}

/// Opens the backend, builds TLS and binds the listener; the gateway then
/// runs in the background. In stages, each failing with the setting it
/// could not use: the policy in force (TLS, addresses, tokens), the logs,
/// the backend, the HTTP application, the listeners; then the background
/// tasks, started once nothing can fail any more.
pub async fn start(config: Config) -> anyhow::Result<Gateway> {
    // The recorder first, so that nothing recorded from here on is lost.
    let _ = telemetry::handle();
    let certificate = ServerCertificate::empty();
    let initial = certificate::initial(&config.tls).map_err(|p| Problems(vec![p]))?;
    if initial.is_none() {
        tracing::warn!(
            file = %config.tls.certificate.display(),
            "no usable stored ACME certificate; handshakes fail until the first one is issued"
        );
    }
    if let Some(pair) = initial {
        let source = match config.tls.acme {
            Some(_) => Source::Acme,
            None => Source::Files,
        };
        certificate.put_in_force(&pair, source);
    }
    let identities = Arc::new(KnownIdentities::new(config.tls.identity));
    let server_tls = tls::server_config(
        &config.tls,
        Arc::clone(&certificate),
        Arc::clone(&identities),
    )
    .map_err(Problems)?;
    let admission = address::from_config(&config.network).map_err(|p| Problems(vec![p]))?;
    let (seclog, shared_bans) = open_security_log(&config)?;
    let rate = Arc::new(RateLimits::new(config.rate_limits));
    let verifier = TokenVerifier::from_config(&config.jwt).map_err(|p| Problems(vec![p]))?;
    let revocations = verifier.revocations();
    let renewer = Renewer::from_config(&config.jwt).map_err(|p| Problems(vec![p]))?;
    let live = Arc::new(ArcSwap::from_pointee(Snapshot {
        acceptor: TlsAcceptor::from(server_tls),
        admission,
        resource: ProtectedResource::new(&config.mcp, verifier).with_renewer(renewer),
        revoked: crate::transport::crl::revoked(&config.tls),
    }));
    let accounts = open_backend(&config.backend).await?;
    let audit = open_audit_log(&config)?;
    let shutdown = CancellationToken::new();
    let deps = mcp::ToolDeps {
        accounts: Arc::clone(&accounts),
        seclog: Arc::clone(&seclog),
        audit: Arc::clone(&audit),
        rate: Arc::clone(&rate),
    };
    let (app, sessions) = build_app(&config, deps, Arc::clone(&live), &shutdown);
    let listener = crate::transport::listener::bind(
        config.listen.address,
        config.listen.interface.as_deref(),
    )?;
    let local_addr = listener.local_addr()?;
    let metrics_listener = bind_metrics(&config).await?;
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    record_expiries(&config.tls);
    record_signing_key_age(&config.jwt);
    let metrics_access = metrics_access(&config)?;
    let readiness = Arc::new(Readiness::new(Arc::clone(&seclog), Arc::clone(&audit)));
    if matches!(&config.backend, Backend::CalDav(caldav) if caldav.ready_follows_backend) {
        tokio::spawn(crate::gateway::upkeep::follow_backend(
            accounts,
            Arc::clone(&readiness),
            crate::gateway::upkeep::BACKEND_PROBE_PERIOD,
            shutdown.clone(),
        ));
    }
    if let Some(listener) = metrics_listener {
        tokio::spawn(crate::gateway::metrics_server::serve(
            listener,
            metrics_access,
            Arc::clone(&seclog),
            Arc::clone(&readiness),
            shutdown.clone(),
        ));
    }
    readiness.server_certificate(certificate.is_serving());
    if let Some(acme) = &config.tls.acme {
        let client = AcmeClient::new(acme, Arc::clone(&certificate), Arc::clone(&readiness))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        tokio::spawn(client.run(shutdown.clone()));
    }
    let revocation_watch = shutdown.child_token();
    if let Some(revocations) = revocations {
        tokio::spawn(revocations.watch(revocation_watch.clone()));
    }
    tokio::spawn(Arc::clone(&rate).upkeep(shutdown.clone()));
    if let Some((folder, bans)) = shared_bans {
        crate::gateway::shared_bans::take_in_before_serving(&folder, &bans, &seclog).await;
        tokio::spawn(crate::gateway::shared_bans::share(
            folder,
            bans,
            Arc::clone(&seclog),
            shutdown.clone(),
        ));
    }
    tokio::spawn(close_idle_sessions(
        sessions,
        config.mcp.session_idle_timeout,
        shutdown.clone(),
    ));
    let shared = Arc::new(Shared {
        live,
        certificate,
        app,
        address_slots: AddressSlots::new(config.listen.max_connections_per_address),
        header_waits: AddressSlots::new(config.listen.max_connections_per_address),
        http: HttpBuilders::new(&config.listen),
        identities,
        config: config.clone(),
        seclog: Arc::clone(&seclog),
    });
    let reloader = Arc::new(Reloader::new(
        Arc::clone(&shared),
        config,
        revocation_watch,
        shutdown.clone(),
        rate,
    ));
    let task = crate::gateway::serving_threads::start(listener, shared, shutdown.clone()).await?;
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
