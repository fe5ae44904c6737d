//! `listen.interface`: the listener bound to one network interface (Linux
//! `SO_BINDTODEVICE`) serves what arrives on it; an interface that does not
//! exist, or a name that cannot be one, stops the start with the key named;
//! and a gateway on every interface whose allowlist admits public address
//! space is warned about; binding needs no capability (Linux 5.7 and later).
//! (That a connection arriving on another interface is not even accepted
//! needs a second interface: the VPN test's namespaces.)

use mcp_gateway::config::Config;
use serde_json::json;

use crate::common::{
    Setup, TestGateway, call_stateless, http_client_with_token, render, write_pki,
};

#[tokio::test]
async fn a_listener_bound_to_loopback_serves_what_arrives_on_it() {
    let gw = TestGateway::start_custom(|_, _, s| s.listen = "interface = \"lo\"".into()).await;
    let client = http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-i")),
        Some(&gw.pki.token("agent-i")),
    );
    let (status, _) = call_stateless(&client, &gw.url(), "get_current_time", json!({})).await;
    assert_eq!(status, 200);
}

/// `setup` parsed in a fresh folder with its PKI (kept as long as the config).
fn parse(setup: Setup) -> (tempfile::TempDir, Result<Config, String>) {
    let dir = tempfile::TempDir::new().unwrap();
    write_pki(dir.path());
    let config = Config::parse(&render(&setup), dir.path()).map_err(|p| p.to_string());
    (dir, config)
}

#[tokio::test]
async fn an_interface_that_is_missing_or_cannot_exist_is_named() {
    let (_dir, missing) = parse(Setup {
        listen: "interface = \"nosuchif0\"".into(),
        ..Setup::default()
    });
    let error = mcp_gateway::gateway::server::start(missing.unwrap())
        .await
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        error,
        "listen.interface: there is no network interface `nosuchif0` (is the tunnel up? start the gateway after it, or let systemd restart it)"
    );
    for bad in ["", "wg/0", "a name", "sixteen-chars-xx"] {
        let problems = parse(Setup {
            listen: format!("interface = {}", serde_json::to_string(bad).unwrap()),
            ..Setup::default()
        })
        .1
        .err()
        .unwrap_or_else(|| panic!("{bad:?} was taken"));
        assert!(
            problems.contains(&format!(
                "listen.interface: `{bad}` is not a network interface name"
            )),
            "{problems}"
        );
    }
}

#[test]
fn every_interface_with_a_public_allowlist_is_warned_about() {
    let on_all = |allow: &str, listen: &str| {
        parse(Setup {
            address: "0.0.0.0:0".into(),
            network: format!("allow = [{allow}]"),
            listen: listen.into(),
            ..Setup::default()
        })
        .1
        .unwrap()
        .warnings
    };
    assert_eq!(
        on_all(r#""10.8.0.0/24", "203.0.113.0/24""#, ""),
        [
            "listen.address: listens on every interface (0.0.0.0:0) while network.allow admits public addresses (203.0.113.0/24): bind to the VPN (listen.interface, or the tunnel's address) or narrow the allowlist"
        ]
    );
    assert!(on_all(r#""10.8.0.0/24", "100.64.0.0/10""#, "").is_empty());
    assert!(on_all(r#""203.0.113.0/24""#, "interface = \"lo\"").is_empty());
}

/// Linux 5.7 and later let a process without capabilities bind its own
/// socket to an interface: the quickstart's gateway, run as `nobody` with
/// `listen.interface = "lo"`, listens and accepts.
#[test]
fn an_unprivileged_gateway_binds_to_an_interface() {
    use std::process::{Command, Stdio};
    let dir = tempfile::TempDir::new().unwrap();
    let port = crate::common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let gateway = env!("CARGO_BIN_EXE_mcp-gateway");
    let made = Command::new(gateway)
        .args(["quickstart", "--no-serve", "--listen", &listen, "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let config = dir.path().join("gateway.toml");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("address = \"{listen}\""),
        &format!("address = \"{listen}\"\ninterface = \"lo\""),
    );
    std::fs::write(&config, text).unwrap();
    // `nobody` owns the folder: it writes the logs and the store.
    crate::nobody::give_to_nobody(dir.path());
    let mut child = crate::nobody::as_nobody(std::path::Path::new(gateway))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("gateway.stderr")).unwrap())
        .spawn()
        .expect("setpriv (util-linux) runs the gateway as nobody; the suite runs as root");
    let started = std::time::Instant::now();
    let stderr = loop {
        let stderr = std::fs::read_to_string(dir.path().join("gateway.stderr")).unwrap_or_default();
        if stderr.contains("mcp-gateway listening")
            || child.try_wait().unwrap().is_some()
            || started.elapsed() > std::time::Duration::from_secs(20)
        {
            break stderr;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let accepted = std::net::TcpStream::connect(&listen).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    assert!(stderr.contains("mcp-gateway listening"), "{stderr}");
    assert!(accepted, "{stderr}");
}
