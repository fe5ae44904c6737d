//! What the gateway keeps doing while it serves: gauges an alert watches
//! (certificate, CRL and signing-key ages), closing idle sessions, and, where
//! readiness follows the backend, probing the calendar server.

use std::sync::Arc;
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

use crate::mcp::session::SessionOwners;
use crate::telemetry;
use crate::telemetry::WatchedCertificate;
use crate::transport::tls;

/// Sets the gauge of when the signing key was written, for a rotation alert.
pub(super) fn record_signing_key_age(jwt: &crate::config::Jwt) {
    if let Some(written) = jwt
        .signing_key
        .as_ref()
        .and_then(|key| std::fs::metadata(key).ok()?.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    {
        telemetry::signing_key_created(written.as_secs() as i64);
    }
}

/// Sets the expiry gauges an alert watches: client CA, CRLs (the server
/// certificate's is set whenever one is put in force).
pub(crate) fn record_expiries(tls: &crate::config::Tls) {
    if let Some(at) = tls::earliest_expiry(&tls.client_ca) {
        telemetry::certificate_expiry(WatchedCertificate::ClientCa, at);
    }
    for crl in crate::transport::crl::validity(tls) {
        if let Some(next) = crl.next_update {
            telemetry::crl_next_update(crl.key, next.timestamp());
        }
    }
}

/// The gateway's session table and rmcp's, swept together.
pub(super) struct IdleSessions {
    pub(super) sessions: Arc<SessionOwners>,
    pub(super) manager: Arc<LocalSessionManager>,
}

/// Closes, in rmcp too, the sessions idle for longer than `idle`: the table
/// entry and the session's task go, and with them its memory.
pub(super) async fn close_idle_sessions(
    idle_sessions: IdleSessions,
    idle: Duration,
    shutdown: CancellationToken,
) {
    let IdleSessions { sessions, manager } = idle_sessions;
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

/// How often the calendar server is probed when readiness follows it.
pub(super) const BACKEND_PROBE_PERIOD: Duration = Duration::from_secs(5);

/// Probes the calendar server every `period` and keeps `readiness` in step:
/// a change either way is one log line.
pub(super) async fn follow_backend(
    accounts: Arc<dyn crate::calendar::CalendarAccounts>,
    readiness: Arc<crate::observe::readiness::Readiness>,
    period: Duration,
    shutdown: CancellationToken,
) {
    let mut reachable = true;
    loop {
        let now = tokio::select! {
            outcome = accounts.probe() => outcome,
            () = shutdown.cancelled() => return,
        };
        match (&now, reachable) {
            (Err(why), true) => {
                tracing::warn!("not ready: the calendar server cannot be reached ({why})")
            }
            (Ok(()), false) => tracing::info!("ready again: the calendar server answers"),
            _ => {}
        }
        reachable = now.is_ok();
        readiness.backend_reachable(reachable);
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = shutdown.cancelled() => return,
        }
    }
}
