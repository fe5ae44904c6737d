//! The checks that need only the client's address ([`NetworkAdmission`]),
//! which [`crate::transport::arrival`] runs at TCP accept before any TLS
//! work, so that a refused address costs almost nothing:
//!
//! 1. [`proxy`]: the real client address ([`ClientIp`]) — from a PROXY
//!    header when the peer is a trusted load balancer, else the socket peer.
//!    Runs first because every later check needs the real address.
//! 2. [`ip`]: the address allowlist. Cheapest decisive check, so it runs before
//!    the database lookup.
//! 3. [`geo`]: the GeoIP country, for addresses not exempt.
//!
//! The token and scope checks that follow per request are in
//! [`crate::policy::token`] and [`crate::policy::scope`].

pub mod geo;
pub mod ip;
pub mod proxy;

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use tokio::net::TcpStream;

use crate::denial::Denial;
use crate::policy::address::geo::GeoPolicy;
use crate::policy::address::ip::{IpPolicy, canonical};
pub use proxy::Arrival;

/// The connection-level policy, built once from the config.
pub struct NetworkAdmission {
    /// Load balancers allowed to send PROXY headers; `None` when the protocol is off.
    pub proxy_trusted: Option<Vec<IpNet>>,
    /// The address allowlist.
    pub ip: IpPolicy,
    /// The country policy, when a database is configured.
    pub geo: Option<GeoPolicy>,
}

/// The real client address of a connection: the socket peer, or the
/// address a trusted balancer's PROXY header names, always in canonical form
/// (an IPv4-mapped IPv6 address as IPv4). A type of its own so that the
/// socket peer (a `SocketAddr`, the balancer's when the PROXY protocol is in
/// use) cannot stand in for it where the allowlist, a token's `allowedIPs`
/// or a rate limit is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// `ip`, in canonical form, as a client address.
    pub fn canonical(ip: IpAddr) -> ClientIp {
        ClientIp(canonical(ip))
    }

    /// The address.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

impl From<ClientIp> for IpAddr {
    fn from(client: ClientIp) -> IpAddr {
        client.0
    }
}

impl std::fmt::Display for ClientIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A refused connection: why, and the address the refusal is about (the real
/// client when known, else the socket peer) for the security log.
#[derive(Debug)]
pub struct Refusal {
    /// Why.
    pub denial: Denial,
    /// Who.
    pub ip: IpAddr,
}

impl NetworkAdmission {
    /// Runs the address checks on a fresh connection; returns the client address.
    pub async fn admit(
        &self,
        stream: &mut TcpStream,
        peer: SocketAddr,
    ) -> Result<Arrival, Refusal> {
        let peer_ip = canonical(peer.ip());
        let trusted = self.is_trusted_proxy(peer_ip);
        if !trusted {
            // Not a balancer: the peer is the client. Refuse it now, before
            // waiting for a byte to look for a stray PROXY header.
            self.check_address(ClientIp::canonical(peer_ip))
                .map_err(|denial| Refusal {
                    denial,
                    ip: peer_ip,
                })?;
        }
        let arrival = proxy::client_address(stream, peer, self.proxy_trusted.as_deref())
            .await
            .map_err(|denial| Refusal {
                denial,
                ip: peer_ip,
            })?;
        match arrival {
            Arrival::Client(ip) => {
                let client = ClientIp::canonical(ip);
                if trusted {
                    self.check_address(client).map_err(|denial| Refusal {
                        denial,
                        ip: client.ip(),
                    })?;
                }
                Ok(Arrival::Client(client.ip()))
            }
            Arrival::Balancer(_) => {
                self.check_address(ClientIp::canonical(peer_ip))
                    .map_err(|denial| Refusal {
                        denial: denial.by_balancer(true),
                        ip: peer_ip,
                    })?;
                Ok(Arrival::Balancer(peer_ip))
            }
            Arrival::Probe(_) => Ok(Arrival::Probe(peer_ip)),
        }
    }

    /// Whether `peer` is a load balancer allowed to send PROXY headers.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.proxy_trusted
            .as_deref()
            .is_some_and(|trusted| ip::contains(trusted, peer))
    }

    /// The allowlist, then the country.
    pub fn check_address(&self, client: ClientIp) -> Result<(), Denial> {
        self.ip.check(client.ip())?;
        if let Some(geo) = &self.geo {
            geo.check(client.ip())?;
        }
        Ok(())
    }
}

/// Builds the connection-level policy from the config; loading the GeoIP
/// database here makes a missing or corrupt file a startup error.
pub fn from_config(
    network: &crate::config::Network,
) -> Result<NetworkAdmission, crate::config::Problem> {
    let ip = match &network.allow {
        crate::config::AllowedNetworks::Any => IpPolicy::AllowAny,
        crate::config::AllowedNetworks::Only(list) => IpPolicy::Allow(list.clone()),
    };
    let geo = match &network.geo {
        None => None,
        Some(settings) => {
            let rule = match &settings.countries {
                crate::config::CountryList::Allow(set) => geo::CountryRule::Allow(set.clone()),
                crate::config::CountryList::Deny(set) => geo::CountryRule::Deny(set.clone()),
            };
            let policy = GeoPolicy::load(
                &settings.database,
                rule,
                settings.exempt.clone(),
                settings.allow_unknown,
            )
            .map_err(|e| crate::config::Problem::new("geoip.database", e))?;
            Some(policy)
        }
    };
    Ok(NetworkAdmission {
        proxy_trusted: network.proxy_trusted.clone(),
        ip,
        geo,
    })
}

#[cfg(test)]
mod tests {
    use super::ClientIp;
    use std::net::IpAddr;

    /// However a client address is spelled, it is one address: the
    /// allowlist, a token's `allowedIPs`, the rate limit and the bans all see
    /// the IPv4 form of an IPv4-mapped IPv6 address.
    #[test]
    fn a_client_address_is_always_canonical() {
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        let plain: IpAddr = "10.0.0.7".parse().unwrap();
        assert_eq!(ClientIp::canonical(mapped), ClientIp::canonical(plain));
        assert_eq!(ClientIp::canonical(mapped).ip(), plain);
        assert_eq!(ClientIp::canonical(mapped).to_string(), "10.0.0.7");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(IpAddr::from(ClientIp::canonical(v6)), v6);
    }
}
