//! Whether this replica should get traffic: the question a load balancer
//! asks at `GET /ready` on the metrics listener. Not ready while draining
//! (from SIGTERM until it stops accepting, `listen.drain_delay` later), nor
//! while a log cannot be written, when it would refuse every request anyway;
//! nor while it has no server certificate to serve (`[tls.acme]` before its
//! first issuance: every handshake would be refused); and, only where the
//! operator asked for it (`backend.caldav.ready_follows_backend`), not while
//! the calendar server cannot be reached.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::observe::audit::AuditLog;
use crate::observe::seclog::SecurityLog;

/// The replica's readiness, shared by the gateway and the metrics listener.
pub struct Readiness {
    /// Set on SIGTERM: the balancer should stop sending new connections.
    draining: AtomicBool,
    /// Checked for writability (see [`crate::observe::logsink::LogSink::writable`]).
    seclog: Arc<SecurityLog>,
    /// Checked for writability too.
    audit: Arc<AuditLog>,
    /// Set while the calendar server cannot be reached (only where readiness
    /// follows the backend).
    backend_unreachable: AtomicBool,
    /// Set while no server certificate is in force.
    no_server_certificate: AtomicBool,
}

impl Readiness {
    /// Ready, watching these logs.
    pub fn new(seclog: Arc<SecurityLog>, audit: Arc<AuditLog>) -> Readiness {
        Readiness {
            draining: AtomicBool::new(false),
            seclog,
            audit,
            backend_unreachable: AtomicBool::new(false),
            no_server_certificate: AtomicBool::new(false),
        }
    }

    /// Records whether a server certificate is in force.
    pub fn server_certificate(&self, in_force: bool) {
        self.no_server_certificate
            .store(!in_force, Ordering::Relaxed);
    }

    /// Records whether the calendar server answered the last probe.
    pub fn backend_reachable(&self, reachable: bool) {
        self.backend_unreachable
            .store(!reachable, Ordering::Relaxed);
    }

    /// From now on, not ready: the replica is going away.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// `Ok` when the replica should get traffic, else why not.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.draining.load(Ordering::Relaxed) {
            Err("draining")
        } else if !self.seclog.writable() {
            Err("the security log cannot be written")
        } else if !self.audit.writable() {
            Err("the audit log cannot be written")
        } else if self.no_server_certificate.load(Ordering::Relaxed) {
            Err("no server certificate yet: the ACME order has not succeeded")
        } else if self.backend_unreachable.load(Ordering::Relaxed) {
            Err("the calendar server cannot be reached")
        } else {
            Ok(())
        }
    }
}
