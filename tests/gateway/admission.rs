//! The address checks at accept, over real connections from several loopback
//! source addresses: allowlist, PROXY protocol (trusted and not), IPv6,
//! IPv4-mapped IPv6, and GeoIP in both database layouts. Each case checks the
//! outcome and the exact security log line.

use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;

use mmdb_writer::Writer;
use ppp::v2::{Builder, Command, Protocol, Version};

use crate::common::{Setup, TestGateway};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Connects from `source` (sending `preamble` first), runs an initialize, and
/// returns the HTTP status or `None` when the connection was refused.
async fn attempt(gw: &TestGateway, source: &str, preamble: &[u8]) -> Option<u16> {
    let cert = gw.client_cert("agent-a");
    let mut tls = gw
        .tls_connect_from(Some(ip(source)), preamble, &cert, b"http/1.1")
        .await
        .ok()?;
    TestGateway::raw_initialize(&mut tls, &gw.pki.token("agent-a"))
        .await
        .ok()
}

fn v1(source: &str) -> Vec<u8> {
    format!("PROXY TCP4 {source} 127.0.0.1 40000 443\r\n").into_bytes()
}

fn v2_v6(source: Ipv6Addr) -> Vec<u8> {
    let addresses = ppp::v2::IPv6::new(source, Ipv6Addr::LOCALHOST, 40000, 443);
    Builder::with_addresses(Version::Two | Command::Proxy, Protocol::Stream, addresses)
        .build()
        .unwrap()
}

fn allowlist(setup: &mut Setup) {
    setup.network = r#"allow = ["127.0.0.1", "127.0.0.3", "::1"]"#.into();
}

#[tokio::test]
async fn allowlist_admits_listed_addresses_and_refuses_others_before_tls() {
    let gw = TestGateway::start_custom(|_, _, s| allowlist(s)).await;
    assert_eq!(attempt(&gw, "127.0.0.3", b"").await, Some(200));
    gw.expect_security_line("ALLOW stage=tls ip=127.0.0.3 client=agent-a")
        .await;
    assert_eq!(attempt(&gw, "127.0.0.2", b"").await, None);
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.2 client=-")
        .await;
    // Refused before TLS: no TLS line was written for that address.
    assert!(
        !gw.security_lines()
            .iter()
            .any(|l| l.contains("stage=tls") && l.contains("ip=127.0.0.2"))
    );
}

#[tokio::test]
async fn ipv6_clients_are_checked_too() {
    let allowed = TestGateway::start_custom(|_, _, s| {
        s.address = "[::1]:0".into();
        allowlist(s);
    })
    .await;
    assert_eq!(attempt(&allowed, "::1", b"").await, Some(200));
    allowed
        .expect_security_line("ALLOW stage=tls ip=::1 client=agent-a")
        .await;
    let refused = TestGateway::start_custom(|_, _, s| {
        s.address = "[::1]:0".into();
        s.network = r#"allow = ["127.0.0.0/8"]"#.into();
    })
    .await;
    assert_eq!(attempt(&refused, "::1", b"").await, None);
    refused
        .expect_security_line("DENY stage=ip reason=ip_not_allowed ip=::1 client=-")
        .await;
}

fn behind_proxy(setup: &mut Setup) {
    allowlist(setup);
    setup.tables = "[listen.proxy_protocol]\ntrusted = [\"127.0.0.5\"]\n".into();
}

#[tokio::test]
async fn proxy_headers_from_a_trusted_balancer_carry_the_client_address() {
    let gw = TestGateway::start_custom(|_, _, s| behind_proxy(s)).await;
    // v1 header with an allowed client (the balancer itself is not on the allowlist).
    assert_eq!(attempt(&gw, "127.0.0.5", &v1("127.0.0.3")).await, Some(200));
    gw.expect_security_line("ALLOW stage=tls ip=127.0.0.3 client=agent-a")
        .await;
    // v1 header with a refused client.
    assert_eq!(attempt(&gw, "127.0.0.5", &v1("127.0.0.2")).await, None);
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.2 client=-")
        .await;
    // v2 header with IPv4-mapped IPv6 addresses: normalised before any check.
    assert_eq!(
        attempt(
            &gw,
            "127.0.0.5",
            &v2_v6("::ffff:127.0.0.3".parse().unwrap())
        )
        .await,
        Some(200)
    );
    assert_eq!(
        attempt(
            &gw,
            "127.0.0.5",
            &v2_v6("::ffff:127.0.0.9".parse().unwrap())
        )
        .await,
        None
    );
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.9 client=-")
        .await;
    // The trusted balancer must send a header.
    assert_eq!(attempt(&gw, "127.0.0.5", b"").await, None);
    gw.expect_security_line(
        "REFUSE stage=proxy reason=missing_proxy_header peer=127.0.0.5 client=-",
    )
    .await;
}

#[tokio::test]
async fn proxy_headers_from_anyone_else_are_refused() {
    let gw = TestGateway::start_custom(|_, _, s| behind_proxy(s)).await;
    // 127.0.0.3 is an allowed client, but it is not a trusted balancer.
    assert_eq!(attempt(&gw, "127.0.0.3", &v1("127.0.0.1")).await, None);
    gw.expect_security_line("DENY stage=proxy reason=untrusted_proxy_header ip=127.0.0.3 client=-")
        .await;
    assert_eq!(
        attempt(&gw, "127.0.0.3", b"").await,
        Some(200),
        "a direct client is still served"
    );
}

#[tokio::test]
async fn without_the_option_a_proxy_header_is_never_parsed() {
    let gw = TestGateway::start_custom(|_, _, s| allowlist(s)).await;
    // The header bytes reach the TLS parser, which refuses them; the logged
    // address is the socket peer, not the address the header claims.
    assert_eq!(attempt(&gw, "127.0.0.3", &v1("127.0.0.1")).await, None);
    gw.expect_security_line_starting(
        "DENY stage=tls reason=handshake_failed ip=127.0.0.3 client=- detail=",
    )
    .await;
}

/// A GeoIP database in either real layout mapping loopback addresses to countries.
fn write_geo_db(path: &Path, flat_layout: bool) {
    let mut writer = Writer::new(if flat_layout {
        "ip-location-db country"
    } else {
        "GeoLite2-Country"
    });
    for (network, country) in [
        ("127.0.0.2/32", "KP"),
        ("127.0.0.3/32", "DE"),
        ("127.0.0.6/32", "KP"),
        ("::1/128", "US"),
    ] {
        let network: ipnet::IpNet = network.parse().unwrap();
        if flat_layout {
            writer
                .insert(network, &serde_json::json!({ "country_code": country }))
                .unwrap();
        } else {
            writer.insert(network, &serde_json::json!({ "country": { "iso_code": country, "names": { "en": country } } })).unwrap();
        }
    }
    std::fs::write(path, writer.to_bytes().unwrap()).unwrap();
}

async fn country_matrix(flat_layout: bool) {
    let gw = TestGateway::start_custom(|dir, _, s| {
        write_geo_db(&dir.join("country.mmdb"), flat_layout);
        s.tables = "[geoip]\ndatabase = \"country.mmdb\"\nallow_countries = [\"DE\", \"US\"]\nexempt = [\"127.0.0.6\"]\n".into();
    })
    .await;
    assert_eq!(
        attempt(&gw, "127.0.0.3", b"").await,
        Some(200),
        "DE is allowed"
    );
    assert_eq!(attempt(&gw, "127.0.0.2", b"").await, None, "KP is not");
    gw.expect_security_line(
        "DENY stage=geo reason=country_blocked ip=127.0.0.2 client=- country=KP",
    )
    .await;
    assert_eq!(
        attempt(&gw, "127.0.0.4", b"").await,
        None,
        "no country: denied by default"
    );
    gw.expect_security_line("DENY stage=geo reason=country_unknown ip=127.0.0.4 client=-")
        .await;
    assert_eq!(
        attempt(&gw, "127.0.0.6", b"").await,
        Some(200),
        "exempt ranges skip the lookup"
    );
}

#[tokio::test]
async fn geoip_with_a_geolite2_layout_database() {
    country_matrix(false).await;
}

#[tokio::test]
async fn geoip_with_a_flat_country_code_database() {
    country_matrix(true).await;
}

#[tokio::test]
async fn a_corrupt_geoip_database_stops_the_start() {
    let dir = tempfile::TempDir::new().unwrap();
    crate::common::write_pki(dir.path());
    std::fs::write(dir.path().join("country.mmdb"), b"this is not a MaxMind DB").unwrap();
    let setup = Setup {
        tables: "[geoip]\ndatabase = \"country.mmdb\"\ndeny_countries = [\"KP\"]\n".into(),
        ..Setup::default()
    };
    let config =
        mcp_gateway::config::Config::parse(&crate::common::render(&setup), dir.path()).unwrap();
    let err = mcp_gateway::gateway::server::start(config)
        .await
        .err()
        .expect("a corrupt database must not start");
    assert!(
        err.to_string()
            .starts_with("geoip.database: cannot read GeoIP database"),
        "{err}"
    );
}

#[tokio::test]
async fn geoip_deny_list_and_unknown_allowed() {
    let gw = TestGateway::start_custom(|dir, _, s| {
        write_geo_db(&dir.join("country.mmdb"), false);
        s.tables = "[geoip]\ndatabase = \"country.mmdb\"\ndeny_countries = [\"KP\"]\nunknown = \"allow\"\n".into();
    })
    .await;
    assert_eq!(
        attempt(&gw, "127.0.0.3", b"").await,
        Some(200),
        "DE is not on the deny list"
    );
    assert_eq!(
        attempt(&gw, "127.0.0.4", b"").await,
        Some(200),
        "no country, and unknown = \"allow\""
    );
    assert_eq!(attempt(&gw, "127.0.0.2", b"").await, None, "KP is denied");
    gw.expect_security_line(
        "DENY stage=geo reason=country_blocked ip=127.0.0.2 client=- country=KP",
    )
    .await;
}

#[tokio::test]
async fn allow_any_admits_every_address() {
    let gw = TestGateway::start_custom(|_, _, s| s.network = "allow_any = true".into()).await;
    assert_eq!(attempt(&gw, "127.0.0.77", b"").await, Some(200));
}
