//! What a reload replaces, as one immutable value swapped at once (as rustls
//! swaps a `ServerConfig`): the TLS acceptor (certificate, client CA, CRLs),
//! the address policy, the token verifier with the metadata document, and
//! the certificates the CRLs revoke. A new connection takes the snapshot in
//! force for its TLS and address checks; every request reads the one in
//! force for its token and revocation checks. No request ever sees parts of
//! two configurations.

use std::collections::HashSet;

use tokio_rustls::TlsAcceptor;

use crate::policy::address::NetworkAdmission;
use crate::policy::resource::ProtectedResource;

/// Everything a reload replaces.
pub struct Snapshot {
    /// Server certificate, client CA and CRLs.
    pub acceptor: TlsAcceptor,
    /// Allowlist, PROXY peers and GeoIP.
    pub admission: NetworkAdmission,
    /// `Origin` and token checks, and the RFC 9728 metadata document.
    pub resource: ProtectedResource,
    /// The [`crate::identity::revocation_key`]s the CRLs in force revoke: a
    /// connection opened before a CRL revoked its certificate is refused at
    /// its next request.
    pub revoked: HashSet<[u8; 32]>,
}
