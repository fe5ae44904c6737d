//! What every connection task reads: the policy in force, the HTTP
//! application, the listener settings, the security log and the caps per
//! address. [`crate::gateway::server`] builds it once; a reload swaps only
//! the snapshot inside.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::http::App;
use crate::observe::seclog::SecurityLog;
use crate::policy::snapshot::Snapshot;
use crate::transport::certificate::ServerCertificate;
use crate::transport::known_identities::KnownIdentities;
use crate::transport::limits::AddressSlots;
use crate::transport::protocol::HttpBuilders;

/// Everything a connection task needs, shared.
pub(crate) struct Shared {
    /// What a reload replaces, swapped at once: a new connection's TLS and
    /// address checks, every request's token and revocation checks.
    pub(crate) live: Arc<ArcSwap<Snapshot>>,
    /// The server certificate, apart from the snapshot: every acceptor
    /// resolves through it, so a renewal swaps it alone, and TLS-ALPN-01
    /// challenges are looked up in it.
    pub(crate) certificate: Arc<ServerCertificate>,
    /// The HTTP application.
    pub(crate) app: Arc<App>,
    /// The configuration the gateway started with (listener settings).
    pub(crate) config: Config,
    /// HTTP/1.1 + HTTP/2 connection settings, built once.
    pub(crate) http: HttpBuilders,
    pub(crate) seclog: Arc<SecurityLog>,
    /// Open connections per client address.
    pub(crate) address_slots: Arc<AddressSlots>,
    /// Connections per trusted balancer still waiting for their PROXY header.
    pub(crate) header_waits: Arc<AddressSlots>,
    /// Client identities by certificate, read once per certificate.
    pub(crate) identities: Arc<KnownIdentities>,
}
