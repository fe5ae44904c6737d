//! The GeoIP country check, on a MaxMind DB file read once at start. Both real
//! layouts are understood: GeoIP2/GeoLite2 (`country.iso_code`) and the flat
//! `country_code` of DB-IP / ip-location-db files.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use maxminddb::{PathElement, Reader};

use crate::denial::{Denial, Reason};
use crate::policy::address::ip::{canonical, contains};

/// Which countries may connect.
#[derive(Debug, Clone)]
pub enum CountryRule {
    /// Only these ISO codes.
    Allow(HashSet<String>),
    /// Every country but these.
    Deny(HashSet<String>),
}

/// The GeoIP policy with its database.
pub struct GeoPolicy {
    /// The country database, loaded in memory.
    reader: Reader<Vec<u8>>,
    /// Allow or deny list.
    rule: CountryRule,
    /// Networks that skip the lookup (VPN, private ranges).
    exempt: Vec<IpNet>,
    /// Whether an address with no country is let through.
    allow_unknown: bool,
}

impl GeoPolicy {
    /// Loads the database at `path`; a missing or corrupt file is an error, never a silent allow.
    pub fn load(
        path: &Path,
        rule: CountryRule,
        exempt: Vec<IpNet>,
        allow_unknown: bool,
    ) -> Result<GeoPolicy, String> {
        let reader = Reader::open_readfile(path)
            .map_err(|e| format!("cannot read GeoIP database {}: {e}", path.display()))?;
        Ok(GeoPolicy {
            reader,
            rule,
            exempt,
            allow_unknown,
        })
    }

    /// The ISO country code of `ip`, if the database has one.
    pub fn country(&self, ip: IpAddr) -> Option<String> {
        let found = self.reader.lookup(canonical(ip)).ok()?;
        let nested: Option<String> = found
            .decode_path(&[PathElement::Key("country"), PathElement::Key("iso_code")])
            .ok()
            .flatten();
        nested
            .or_else(|| {
                found
                    .decode_path(&[PathElement::Key("country_code")])
                    .ok()
                    .flatten()
            })
            .map(|code| code.to_ascii_uppercase())
            .filter(|code| !code.is_empty())
    }

    /// Admits or refuses `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Denial> {
        if contains(&self.exempt, ip) {
            return Ok(());
        }
        let Some(country) = self.country(ip) else {
            return if self.allow_unknown {
                Ok(())
            } else {
                Err(Denial::new(Reason::CountryUnknown))
            };
        };
        let allowed = match &self.rule {
            CountryRule::Allow(set) => set.contains(&country),
            CountryRule::Deny(set) => !set.contains(&country),
        };
        if allowed {
            Ok(())
        } else {
            Err(Denial::new(Reason::CountryBlocked).with_country(country))
        }
    }
}
