//! The client-address allowlist: a pure check of one address against CIDRs.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::denial::{Denial, Reason};

/// Which client addresses may connect at all.
#[derive(Debug, Clone)]
pub enum IpPolicy {
    /// Only addresses inside these networks.
    Allow(Vec<IpNet>),
    /// Any address (`network.allow_any = true`): the risk is in the config key's name.
    AllowAny,
}

/// The canonical form of an address: IPv4-mapped IPv6 (`::ffff:a.b.c.d`)
/// becomes plain IPv4 so one rule covers both spellings.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether any network in `networks` contains `ip` (compared canonically).
pub fn contains(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    networks.iter().any(|net| net.contains(&ip))
}

impl IpPolicy {
    /// Admits or refuses `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Denial> {
        match self {
            IpPolicy::AllowAny => Ok(()),
            IpPolicy::Allow(networks) if contains(networks, ip) => Ok(()),
            IpPolicy::Allow(_) => Err(Denial::new(Reason::IpNotAllowed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Denial, IpAddr, IpNet, IpPolicy, Reason, contains};
    use proptest::prelude::{any, proptest};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn mapped_ipv6_matches_ipv4_rules() {
        let policy = IpPolicy::Allow(nets(&["127.0.0.0/8", "2001:db8::/32"]));
        assert!(policy.check("::ffff:127.0.0.9".parse().unwrap()).is_ok());
        assert!(policy.check("2001:db8::1".parse().unwrap()).is_ok());
        assert_eq!(
            policy.check("10.0.0.1".parse().unwrap()),
            Err(Denial::new(Reason::IpNotAllowed))
        );
        assert!(policy.check("::1".parse().unwrap()).is_err());
    }

    proptest! {
        #[test]
        fn v4_prefix_match_agrees_with_bit_arithmetic(addr in any::<u32>(), net in any::<u32>(), len in 0u8..=32) {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let network: IpNet = format!("{}/{len}", Ipv4Addr::from(net & mask)).parse().unwrap();
            let expected = addr & mask == net & mask;
            assert_eq!(contains(&[network], IpAddr::V4(Ipv4Addr::from(addr))), expected);
            // The IPv4-mapped spelling of the same address gets the same answer.
            let mapped = IpAddr::V6(Ipv4Addr::from(addr).to_ipv6_mapped());
            assert_eq!(contains(&[network], mapped), expected);
        }

        #[test]
        fn v6_prefix_match_agrees_with_bit_arithmetic(addr in any::<u128>(), net in any::<u128>(), len in 0u8..=128) {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
            let network: IpNet = format!("{}/{len}", Ipv6Addr::from(net & mask)).parse().unwrap();
            let ip = Ipv6Addr::from(addr);
            // Mapped addresses are compared as IPv4; leave them to the other test.
            if ip.to_ipv4_mapped().is_none() {
                assert_eq!(contains(&[network], IpAddr::V6(ip)), addr & mask == net & mask);
            }
        }
    }
}
