//! From TCP accept to the address a TLS handshake will serve, in order, each
//! step before anything that makes the gateway wait on the client:
//!
//! - A peer that is not a trusted balancer is the client: its allowlist and
//!   country, its ban and its per-address connection cap are all decided on
//!   its address at once. Only then does the gateway wait for its first byte
//!   (with the PROXY protocol on, to refuse a stray header), holding one of
//!   that address's places, so a silent client cannot hold more than its cap.
//! - A trusted balancer's connection takes one of the balancer's places for
//!   connections still waiting for their PROXY header (as many as one
//!   address may hold), then the header is read; the address it names is
//!   checked, banned or capped the moment it is known.
//!
//! One deadline (`listen.handshake_timeout`, from accept) covers the wait
//! for the header and the TLS handshake after it.

use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::denial::{Denial, Reason};
use crate::policy::address::ip::canonical;
use crate::policy::address::{Arrival, ClientIp};
use crate::policy::snapshot::Snapshot;
use crate::telemetry;
use crate::transport::limits::AddressSlot;
use crate::transport::shared::Shared;

/// A connection whose address passed, holding its place.
pub(crate) struct Arrived {
    /// The real client address (the balancer's own, for its LOCAL health checks).
    pub(crate) client_ip: ClientIp,
    /// A trusted balancer's own connection (its refusals are never ban-worthy).
    pub(crate) by_balancer: bool,
    /// The place the address holds until the connection ends.
    pub(crate) slot: AddressSlot,
}

/// Runs the address checks on a new connection before `deadline`; `None`
/// when it ends here (its one line written, or a probe counted).
pub(crate) async fn arrive(
    stream: &mut TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    live: &Snapshot,
    deadline: Instant,
) -> Option<Arrived> {
    let peer_ip = canonical(peer.ip());
    let admission = &live.admission;
    let refuse = |denial: Denial, ip: IpAddr| {
        shared.seclog.deny(&denial, ip, None);
        None
    };
    if !admission.is_trusted_proxy(peer_ip) {
        // Not a balancer: the peer is the client.
        let client_ip = ClientIp::canonical(peer_ip);
        if let Err(denial) = admission.check_address(client_ip) {
            return refuse(denial, peer_ip);
        }
        let slot = match hold(shared, client_ip, false) {
            Ok(slot) => slot,
            Err(denial) => return refuse(denial, peer_ip),
        };
        let trusted = admission.proxy_trusted.as_deref();
        return match tokio::time::timeout_at(
            deadline,
            crate::policy::address::proxy::client_address(stream, peer, trusted),
        )
        .await
        {
            Ok(Ok(_)) => Some(Arrived {
                client_ip,
                by_balancer: false,
                slot,
            }),
            Ok(Err(denial)) => refuse(denial, peer_ip),
            // Silent from the start: the TLS handshake it owed never began.
            Err(_) => refuse(Denial::new(Reason::HandshakeTimeout), peer_ip),
        };
    }
    let waiting = match shared.header_waits.take(peer_ip) {
        Ok(waiting) => waiting,
        Err(denial) => {
            let denial = denial
                .with_detail("connections waiting for their PROXY header")
                .by_balancer(true);
            return refuse(denial, peer_ip);
        }
    };
    let arrival = tokio::time::timeout_at(deadline, admission.admit(stream, peer)).await;
    drop(waiting);
    let (client_ip, by_balancer) = match arrival {
        Ok(Ok(Arrival::Client(ip))) => (ClientIp::canonical(ip), false),
        Ok(Ok(Arrival::Balancer(ip))) => (ClientIp::canonical(ip), true),
        Ok(Ok(Arrival::Probe(_))) => {
            telemetry::balancer_check();
            return None;
        }
        Ok(Err(refusal)) => return refuse(refusal.denial, refusal.ip),
        Err(_) => return refuse(Denial::new(Reason::MissingProxyHeader), peer_ip),
    };
    match hold(shared, client_ip, by_balancer) {
        Ok(slot) => Some(Arrived {
            client_ip,
            by_balancer,
            slot,
        }),
        Err(denial) => refuse(denial, client_ip.ip()),
    }
}

/// A banned address goes no further; any other takes one of its places.
fn hold(shared: &Shared, client_ip: ClientIp, by_balancer: bool) -> Result<AddressSlot, Denial> {
    if shared.seclog.is_banned(client_ip.ip()) {
        return Err(Denial::new(Reason::Banned).by_balancer(by_balancer));
    }
    shared
        .address_slots
        .take(client_ip.ip())
        .map_err(|denial| denial.by_balancer(by_balancer))
}
