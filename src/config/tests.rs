//! Tests of configuration parsing and validation.

use std::path::Path;

use crate::config::Config;

#[test]
fn reference_config_has_only_valid_keys() {
    let text = include_str!("../../config/gateway.toml");
    let problems = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .0;
    // Only the files are missing here; every key and value is valid.
    assert!(
        problems
            .iter()
            .all(|p| p.problem.starts_with("file not found")),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 4, "{problems:?}");
}

#[test]
fn hs256_needs_a_listed_algorithm_and_a_long_secret() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("short.secret"), "only-20-bytes-long!!").unwrap();
    let text = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow_any=true\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\nalgorithms=['HS256']\nhs256_secret_file='short.secret'\n";
    let err = Config::parse(text, dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("jwt.hs256_secret_file: the secret must be at least 32 bytes"),
        "{err}"
    );
    let text = text.replace(
        "algorithms=['HS256']\nhs256_secret_file='short.secret'\n",
        "algorithms=['HS256']\n",
    );
    let err = Config::parse(&text, dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(
            "jwt.hs256_secret_file: HS256 is listed in jwt.algorithms but no secret is configured"
        ),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_errors() {
    let err = Config::parse(
        "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\nbogus=1\n",
        Path::new("/nonexistent"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("bogus"), "{err}");
}

#[test]
fn every_problem_names_its_key() {
    let text = "[listen]\naddress='nowhere'\nhandshake_timeout='soon'\n[tls]\ncertificate='a.pem'\nprivate_key='b'\nclient_ca='c'\nmin_version='1.1'\n[backend.embedded]\ntime_zone='Moon/Base'\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\nalgorithms=['none']\n";
    let err = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    for key in [
        "listen.address:",
        "listen.handshake_timeout:",
        "tls.certificate: file not found: /nonexistent/a.pem",
        "tls.client_ca:",
        "tls.min_version:",
        "backend.embedded.time_zone:",
        "jwt.jwks: file not found",
        "jwt.algorithms[0]: `none` is not supported",
        "network.allow: is empty",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }
}

#[test]
fn network_and_geoip_settings_are_checked() {
    let base = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let both = format!(
        "{base}[network]\nallow=['10.0.0.0/8']\nallow_any=true\n[geoip]\ndatabase='missing.mmdb'\nallow_countries=['DE']\ndeny_countries=['KP']\n"
    );
    let err = Config::parse(&both, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    for expected in [
        "network.allow_any: cannot be combined with a network.allow list",
        "geoip.database: file not found: /nonexistent/missing.mmdb",
        "geoip.allow_countries: set either allow_countries or deny_countries, not both",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let bad = format!(
        "{base}[network]\nallow=['10.0.0.0/33', 'vpn']\n[geoip]\nallow_countries=['de', 'DE']\n"
    );
    let err = Config::parse(&bad, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    for expected in [
        "network.allow[0]: `10.0.0.0/33` is not an IP address or CIDR",
        "network.allow[1]: `vpn` is not an IP address or CIDR",
        "geoip.allow_countries[0]: `de` is not a two-letter upper-case ISO country code",
        "geoip.database: country lists are set but no database is configured",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn networks_with_host_bits_are_refused_showing_the_intended_network() {
    let text = "[listen.proxy_protocol]\ntrusted=['10.1.2.3/16']\n[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow=['10.8.0.7/8', '2001:db8::1/32', '10.9.0.0/16', '10.9.9.9']\n[geoip]\nexempt=['192.168.1.1/24']\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let err = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    for expected in [
        "network.allow[0]: `10.8.0.7/8` has host bits set: write 10.0.0.0/8 for the network, or 10.8.0.7/32 for the one address",
        "network.allow[1]: `2001:db8::1/32` has host bits set: write 2001:db8::/32",
        "listen.proxy_protocol.trusted[0]: `10.1.2.3/16` has host bits set: write 10.1.0.0/16",
        "geoip.exempt[0]: `192.168.1.1/24` has host bits set: write 192.168.1.0/24",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(
        !err.contains("network.allow[2]") && !err.contains("network.allow[3]"),
        "{err}"
    );
}

#[test]
fn every_duration_follows_one_rule() {
    let text = "[listen]\nidle_timeout='0s'\n[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow_any=true\n[mcp]\nsession_idle_timeout='soon'\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\nmax_lifetime='0s'\nleeway='0s'\n";
    let err = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    for expected in [
        "listen.idle_timeout: `0s` must be longer than zero",
        "jwt.max_lifetime: `0s` must be longer than zero",
        "jwt.leeway: `0s` must be longer than zero",
        "mcp.session_idle_timeout: `soon` is not a duration",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn drain_delay_may_be_zero_and_a_shared_ban_folder_must_exist() {
    let text = "[listen]\ndrain_delay='soon'\n[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow_any=true\n[bans]\nenabled=true\nshared_dir='no-such-folder'\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let err = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    for expected in [
        "listen.drain_delay: `soon` is not a duration",
        "bans.shared_dir: /nonexistent/no-such-folder is not a folder",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let zero = text.replace("drain_delay='soon'", "drain_delay='0s'");
    let err = Config::parse(&zero, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    assert!(!err.contains("listen.drain_delay"), "{err}");
}

/// A misspelled table header is one problem at its line, and its keys are
/// not reported as unknown keys of the table above it.
#[test]
fn a_misspelled_table_is_named_once_and_blamed_on_nothing_else() {
    let text = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[log]\nsecurity_log='s.log'\n[jwtt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n[network]\nallow_any=true\n";
    let problems = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .0;
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"jwtt"), "{problems:?}");
    assert!(
        !keys.iter().any(|k| k.starts_with("log.")),
        "keys of [jwtt] blamed on [log]: {problems:?}"
    );
    // What the misspelling leaves missing is said too, as missing.
    assert!(
        problems
            .iter()
            .any(|p| p.problem.contains("missing field `jwt`")),
        "{problems:?}"
    );
}

/// The keys this round added are checked like every other, by name.
#[test]
fn new_keys_are_checked_by_name() {
    let text = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow_any=true\n[log]\naudit_format='xml'\n[metrics]\nmax_connections=0\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let problems = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    assert!(
        problems.contains("log.audit_format: `xml` is neither \"text\" nor \"json\""),
        "{problems}"
    );
    assert!(
        problems.contains("metrics.max_connections: must be at least 1"),
        "{problems}"
    );
}

/// Renewal signs tokens: on without a signing key is a problem named by its
/// key; a misspelt key of `[jwt.renewal]` is named too; `max_renewable`
/// follows the duration rule.
#[test]
fn renewal_needs_a_signing_key_and_its_table_is_read_strictly() {
    let base = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\n[network]\nallow_any=true\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let err = Config::parse(
        &format!("{base}max_renewable='soon'\n[jwt.renewal]\nenabled=true\n"),
        Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    for expected in [
        "jwt.renewal.enabled: renewal signs fresh tokens: set jwt.signing_key",
        "jwt.max_renewable: `soon` is not a duration",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let err = Config::parse(
        &format!("{base}[jwt.renewal]\nenable=true\n"),
        Path::new("/nonexistent"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("enable"), "{err}");
}

#[test]
fn acme_settings_are_checked_key_by_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::TempDir::new().unwrap();
    for file in ["c", "k.json"] {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    let key = dir.path().join("update.key");
    std::fs::write(&key, "key \"u\" { algorithm hmac-md5; secret \"YQ==\"; };").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let open = dir.path().join("eab.key");
    std::fs::write(&open, "c2VjcmV0").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let base = "[network]\nallow=['10.0.0.0/8']\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let text = format!(
        "[tls]\ncertificate='a.pem'\nclient_ca='c'\n[tls.acme]\ndirectory='http://ca.test/dir'\ncontact=['ops@example.org']\nnames=['gw.example.org', '10.0.0.1', '*.other.org']\nstate_dir='acme'\nchallenge='dns-01'\neab_key_id='kid'\neab_hmac_key_file='eab.key'\ndirectory_ca='missing.pem'\n[tls.acme.dns_update]\nserver='ns.example.org'\nzone='example.org'\ntsig_key_file='update.key'\nttl=0\n{base}"
    );
    let err = Config::parse(&text, dir.path()).unwrap_err().to_string();
    for key in [
        "tls.certificate: is set by [tls.acme]",
        "tls.acme.directory: `http://ca.test/dir` must be the CA's https:// directory URL",
        "tls.acme.contact[0]: `ops@example.org` must be one mailto: address",
        "tls.acme.names[1]: `10.0.0.1` is not a DNS name",
        "tls.acme.names[2]: `*.other.org` is not inside tls.acme.dns_update.zone `example.org`",
        "tls.acme.eab_hmac_key_file:",
        "has mode 0644",
        "tls.acme.directory_ca: file not found",
        "tls.acme.dns_update.server: `ns.example.org` must be the primary server's IP address",
        "tls.acme.dns_update.ttl: 0 must be 1 to 86400 seconds",
        "tls.acme.dns_update.tsig_key_file:",
        "algorithm `hmac-md5` is not supported",
    ] {
        assert!(err.contains(key), "missing {key} in:\n{err}");
    }
    // Each of the remaining rules, one at a time.
    let acme = |table: &str| {
        let text = format!(
            "[tls]\nclient_ca='c'\n[tls.acme]\ndirectory='https://ca.test/dir'\nnames=['gw.example.org']\nstate_dir='acme'\n{table}\n{base}"
        );
        Config::parse(&text, dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(
        acme("challenge='http-01'")
            .contains("tls.acme.challenge: `http-01` is not one of dns-01, tls-alpn-01")
    );
    assert!(
        acme("challenge='dns-01'")
            .contains("tls.acme.dns_update: is required with challenge = \"dns-01\"")
    );
    assert!(
        acme("challenge='tls-alpn-01'\neab_key_id='k'")
            .contains("tls.acme.eab_hmac_key_file: is required with eab_key_id")
    );
    assert!(acme("challenge='tls-alpn-01'\nbogus=1").contains("bogus"));
    let wildcard = acme("challenge='tls-alpn-01'").replace("gw.example.org", "x");
    assert!(wildcard.is_empty(), "{wildcard}");
    let text = format!(
        "[tls]\nclient_ca='c'\n[tls.acme]\ndirectory='https://ca.test/dir'\nnames=['*.example.org']\nstate_dir='acme'\nchallenge='tls-alpn-01'\n{base}"
    );
    let err = Config::parse(&text, dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(
            "tls.acme.names[0]: `*.example.org`: a wildcard can only be validated with dns-01"
        ),
        "{err}"
    );
    let valid = Config::parse(
        &format!("[tls]\nclient_ca='c'\n[tls.acme]\ndirectory='https://ca.test/dir'\nnames=['gw.example.org']\nstate_dir='acme'\nchallenge='tls-alpn-01'\n{base}"),
        dir.path(),
    )
    .unwrap();
    let tls = valid.tls;
    assert_eq!(tls.certificate, dir.path().join("acme/certificate.pem"));
    assert_eq!(tls.server_names, ["gw.example.org"]);
}

#[test]
fn server_names_must_be_names() {
    let text = "[tls]\ncertificate='a'\nprivate_key='b'\nclient_ca='c'\nserver_names=['gw.example.org', '10.0.0.1', 'not a name']\n[network]\nallow=['10.0.0.0/8']\n[jwt]\njwks='k.json'\nissuer='i'\naudience='https://gw/mcp'\n";
    let err = Config::parse(text, Path::new("/nonexistent"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tls.server_names[2]: `not a name` is not a DNS name or IP address"),
        "{err}"
    );
    assert!(
        !err.contains("tls.server_names[0]") && !err.contains("tls.server_names[1]"),
        "{err}"
    );
}
