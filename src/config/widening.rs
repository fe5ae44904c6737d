//! What a reload must not do silently.
//!
//! A file watcher once read a config caught mid-write: the keys not yet
//! written fell back to their defaults, and `jwt.require_cert_binding`
//! became `false` for that window. Two guards follow:
//! - [`written_keys`]: the dotted keys a file spells out. A reload whose
//!   file lacks a key the configuration in force was read with is refused
//!   (it may be half written); removing a key takes a restart.
//! - [`widened`]: what a new configuration admits that the one in force
//!   did not. A reload that widens access is applied (an operator may mean
//!   it) but writes one security-log line naming every widened setting.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::config::Config;
use crate::config::network::{AllowedNetworks, CountryList};

/// Every key `text` writes, as dotted paths (`jwt.require_cert_binding`);
/// entries of an array of tables are written `name[].key`. Empty when the
/// text is not TOML (the parse then reports it).
pub fn written_keys(text: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    if let Ok(table) = text.parse::<toml::Table>() {
        collect(&table, "", &mut keys);
    }
    keys
}

fn collect(table: &toml::Table, prefix: &str, keys: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => collect(inner, &format!("{path}."), keys),
            toml::Value::Array(items) if items.iter().all(toml::Value::is_table) => {
                for item in items.iter().filter_map(toml::Value::as_table) {
                    collect(item, &format!("{path}[]."), keys);
                }
            }
            _ => {}
        }
        keys.insert(path);
    }
}

/// The settings `next` admits more with than `running` does, by key.
pub fn widened(running: &Config, next: &Config) -> Vec<&'static str> {
    let mut wider = Vec::new();
    let mut note = |key: &'static str, widens: bool| {
        if widens {
            wider.push(key);
        }
    };
    note(
        "network.allow",
        match (&running.network.allow, &next.network.allow) {
            (AllowedNetworks::Any, _) => false,
            (AllowedNetworks::Only(_), AllowedNetworks::Any) => true,
            (AllowedNetworks::Only(old), AllowedNetworks::Only(new)) => !covered(new, old),
        },
    );
    note(
        "listen.proxy_protocol.trusted",
        match (&running.network.proxy_trusted, &next.network.proxy_trusted) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(old), Some(new)) => !covered(new, old),
        },
    );
    match (&running.network.geo, &next.network.geo) {
        (Some(_), None) => note("geoip", true),
        (Some(old), Some(new)) => {
            note(
                "geoip.countries",
                match (&old.countries, &new.countries) {
                    (CountryList::Allow(old), CountryList::Allow(new)) => !new.is_subset(old),
                    (CountryList::Deny(old), CountryList::Deny(new)) => !old.is_subset(new),
                    (CountryList::Deny(_), CountryList::Allow(_)) => false,
                    (CountryList::Allow(_), CountryList::Deny(_)) => true,
                },
            );
            note("geoip.exempt", !covered(&new.exempt, &old.exempt));
            note("geoip.unknown", new.allow_unknown && !old.allow_unknown);
        }
        (None, _) => {}
    }
    let (old, new) = (&running.jwt, &next.jwt);
    note(
        "jwt.require_cert_binding",
        old.require_cert_binding && !new.require_cert_binding,
    );
    note(
        "jwt.algorithms",
        new.algorithms.iter().any(|a| !old.algorithms.contains(a)),
    );
    note("jwt.max_lifetime", new.max_lifetime > old.max_lifetime);
    note("jwt.leeway", new.leeway > old.leeway);
    note("jwt.renewal", new.renewal && !old.renewal);
    note("jwt.max_renewable", new.max_renewable > old.max_renewable);
    note(
        "jwt.revocations",
        old.revocations.is_some() && new.revocations.is_none(),
    );
    note("tls.crls", old_crls_dropped(running, next));
    wider
}

/// Whether a CRL in force is no longer read.
fn old_crls_dropped(running: &Config, next: &Config) -> bool {
    running
        .tls
        .crls
        .iter()
        .any(|crl| !next.tls.crls.contains(crl))
}

/// Whether every network of `new` lies inside one of `old`.
fn covered(new: &[IpNet], old: &[IpNet]) -> bool {
    new.iter().all(|n| old.iter().any(|o| o.contains(n)))
}

#[cfg(test)]
mod tests {
    use super::{widened, written_keys};
    use crate::config::Config;

    const BASE: &str = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow=['10.8.0.0/24']\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\nrequire_cert_binding=true\nalgorithms=['EdDSA']\n[geoip]\ndatabase='g.mmdb'\nallow_countries=['DE','FR']\n";

    fn parse(text: &str, dir: &std::path::Path) -> Config {
        Config::parse(text, dir).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_keys_a_file_writes_are_listed_with_their_tables() {
        let keys = written_keys("[jwt]\nrequire_cert_binding=true\n[[a.b]]\nc=1\n[[a.b]]\nd=2\n");
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "a",
                "a.b",
                "a.b[].c",
                "a.b[].d",
                "jwt",
                "jwt.require_cert_binding"
            ]
        );
        assert!(written_keys("[jwt\nbroken").is_empty());
    }

    #[test]
    fn every_widening_is_named_and_narrowing_is_not() {
        let dir = tempfile::TempDir::new().unwrap();
        for file in ["a", "b", "c", "k.json", "g.mmdb"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let running = parse(BASE, dir.path());
        let case = |from: &str, to: &str| {
            let next = parse(&BASE.replace(from, to), dir.path());
            widened(&running, &next)
        };
        assert!(widened(&running, &running).is_empty());
        assert_eq!(
            case("require_cert_binding=true", "require_cert_binding=false"),
            ["jwt.require_cert_binding"]
        );
        assert_eq!(case("10.8.0.0/24", "10.8.0.0/16"), ["network.allow"]);
        assert_eq!(
            case("allow=['10.8.0.0/24']", "allow_any=true"),
            ["network.allow"]
        );
        assert!(case("10.8.0.0/24", "10.8.0.0/25").is_empty());
        assert_eq!(case("['DE','FR']", "['DE','FR','US']"), ["geoip.countries"]);
        assert!(case("['DE','FR']", "['DE']").is_empty());
        assert_eq!(
            case("allow_countries", "deny_countries"),
            ["geoip.countries"]
        );
        assert_eq!(
            case("algorithms=['EdDSA']", "algorithms=['EdDSA','ES256']"),
            ["jwt.algorithms"]
        );
        assert_eq!(
            case(
                "allow_countries=['DE','FR']\n",
                "allow_countries=['DE','FR']\nunknown='allow'\n"
            ),
            ["geoip.unknown"]
        );
    }
}
