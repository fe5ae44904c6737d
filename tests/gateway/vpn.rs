//! A VPN-only deployment, end to end, as docs/VPN.md describes it
//! (`vpn_setup`): gateway, client machine and a second peer in network
//! namespaces joined by WireGuard (`wireguard-go`, userspace). The real
//! Python MCP SDK runs the full tool flow over the tunnel; over the bare veth
//! the client is refused before TLS with one `DENY stage=ip` line, or, with
//! `listen.interface` or the tunnel's own address, not even accepted; the
//! client's certificate, key and token copied to the second peer are refused
//! there (`ip_not_in_token`), and with in-process bans on, that peer's tunnel
//! address is banned while the client machine is still served.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::netns::{Process, in_namespace};
use crate::vpn_setup::{CLIENT_LINK, GATEWAY, THIEF_TUNNEL_ADDRESS, deploy, gateway_config};

const GATEWAY_TUNNEL_URL: &str = "https://10.8.0.1:8443/mcp";
const GATEWAY_VETH_URL: &str = "https://192.168.77.1:8443/mcp";

/// Starts the gateway in `namespace` and waits until it listens.
fn start_gateway(namespace: &str, folder: &Path) -> Process {
    let log = folder.join("gateway.stderr");
    let config = folder.join("gateway.toml");
    let mut gateway = Process::start(
        namespace,
        Path::new(GATEWAY),
        &["serve", "--config", config.to_str().unwrap()],
        &log,
    );
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("mcp-gateway listening") {
            return gateway;
        }
        assert!(
            gateway.exited().is_none() && started.elapsed() < Duration::from_secs(30),
            "the gateway did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// curl from `namespace` with the client's certificate, key and token: its
/// exit code and the HTTP status it printed.
fn curl_from(namespace: &str, folder: &Path, url: &str) -> (i32, String) {
    let token = std::fs::read_to_string(folder.join("client.token")).unwrap();
    let file = |name: &str| folder.join(name).to_str().unwrap().to_owned();
    let output = in_namespace(namespace)
        .args(["curl", "-sS", "--max-time", "10"])
        .args(["-o", "/dev/null", "-w", "%{http_code}"])
        .args(["--cacert", &file("ca.pem"), "--cert", &file("client.pem")])
        .args(["--key", &file("client.key")])
        .args(["-H", &format!("authorization: Bearer {}", token.trim())])
        .args(["-H", "content-type: application/json"])
        .args(["-H", "accept: application/json, text/event-stream"])
        .args(["-d", r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, url])
        .output()
        .expect("curl (scripts/test-all.sh installs it)");
    let code = output.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The real Python MCP SDK's full tool flow from `namespace` over the tunnel.
fn python_flow_from(namespace: &str, folder: &Path) {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/python_client.py");
    assert!(
        Path::new(python).exists(),
        "{python} is missing: scripts/test-all.sh makes it with the MCP SDK"
    );
    let output = in_namespace(namespace)
        .args([python, script])
        .arg(folder)
        .arg(GATEWAY_TUNNEL_URL)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the Python MCP SDK over the tunnel:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The security log's lines after the first `from` bytes that name `ip`.
fn lines_naming(folder: &Path, from: usize, ip: &str) -> Vec<String> {
    let log = std::fs::read_to_string(folder.join("security.log")).unwrap_or_default();
    log[from.min(log.len())..]
        .lines()
        .filter(|l| l.contains(&format!(" ip={ip} ")) || l.ends_with(&format!(" ip={ip}")))
        .map(str::to_owned)
        .collect()
}

fn log_length(folder: &Path) -> usize {
    std::fs::metadata(folder.join("security.log")).map_or(0, |m| m.len() as usize)
}

/// Waits up to 5 s for a line naming `ip`, then a moment more for any
/// further one (a cut connection's line is written just after the cut).
fn settled_lines_naming(folder: &Path, from: usize, ip: &str) -> Vec<String> {
    let started = Instant::now();
    while lines_naming(folder, from, ip).is_empty() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    lines_naming(folder, from, ip)
}

#[test]
fn a_vpn_only_deployment_as_docs_vpn_describes_it() {
    let vpn = deploy();
    let (host, client, thief) = (&vpn.host, &vpn.client, &vpn.thief);
    let folder = vpn.folder.path();
    let client_link = CLIENT_LINK.1.split('/').next().unwrap();

    // 1. On every interface, the allowlist alone: the tunnel serves, the bare
    // veth is refused before TLS with one line, the copied token is refused
    // from the other peer.
    gateway_config(folder, &vpn.tunnel, |config| {
        config["listen"].as_table_mut().unwrap().remove("interface");
    });
    let from = log_length(folder);
    let gateway = start_gateway(host, folder);
    python_flow_from(client, folder);
    let (code, status) = curl_from(client, folder, GATEWAY_VETH_URL);
    assert!(
        code != 0 && code != 7 && status == "000",
        "over the veth: curl {code}, {status}"
    );
    let lines = settled_lines_naming(folder, from, client_link);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("DENY stage=ip "), "{lines:?}");
    let from_thief = log_length(folder);
    assert_eq!(
        curl_from(thief, folder, GATEWAY_TUNNEL_URL),
        (0, "401".to_owned())
    );
    let lines = settled_lines_naming(folder, from_thief, THIEF_TUNNEL_ADDRESS);
    let denials: Vec<_> = lines.iter().filter(|l| l.contains("DENY")).collect();
    assert_eq!(denials.len(), 1, "{lines:?}");
    assert!(
        denials[0].contains("stage=jwt reason=ip_not_in_token "),
        "{lines:?}"
    );
    drop(gateway);

    // 2. The page's settings as written (listen.interface), and 3. the
    // listener on the tunnel's own address: the tunnel serves; over the veth
    // nothing even accepts the connection, so nothing is written.
    let variants: [Variant; 2] = [
        ("listen.interface", as_written),
        ("the tunnel's address", on_the_tunnel_address),
    ];
    for (variant, adjust) in variants {
        gateway_config(folder, &vpn.tunnel, adjust);
        let from = log_length(folder);
        let gateway = start_gateway(host, folder);
        python_flow_from(client, folder);
        let (code, _) = curl_from(client, folder, GATEWAY_VETH_URL);
        assert_eq!(
            code, 7,
            "{variant}: a connection over the veth was accepted"
        );
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            lines_naming(folder, from, client_link),
            Vec::<String>::new(),
            "{variant}"
        );
        assert_eq!(
            curl_from(thief, folder, GATEWAY_TUNNEL_URL),
            (0, "401".to_owned()),
            "{variant}"
        );
        drop(gateway);
    }

    // 4. With in-process bans on, the second peer's refusals ban its tunnel
    // address: its next connection is dropped before TLS, while the client
    // machine is still served.
    gateway_config(folder, &vpn.tunnel, with_bans);
    let from = log_length(folder);
    let gateway = start_gateway(host, folder);
    for _ in 0..5 {
        assert_eq!(
            curl_from(thief, folder, GATEWAY_TUNNEL_URL),
            (0, "401".to_owned())
        );
    }
    let (code, status) = curl_from(thief, folder, GATEWAY_TUNNEL_URL);
    assert!(
        code != 0 && status == "000",
        "a banned peer: curl {code}, {status}"
    );
    let lines = settled_lines_naming(folder, from, THIEF_TUNNEL_ADDRESS);
    assert!(lines.iter().any(|l| l.contains(" BAN ")), "{lines:?}");
    assert!(
        lines
            .last()
            .unwrap()
            .contains("DENY stage=ban reason=banned "),
        "{lines:?}"
    );
    let (code, status) = curl_from(client, folder, GATEWAY_TUNNEL_URL);
    assert!(
        code == 0 && status != "401" && status != "000",
        "the client machine: curl {code}, {status}"
    );
    drop(gateway);
    crate::sweep::keep(folder, None, &[]);
}

/// A way to listen: its name and how it changes the config.
type Variant = (&'static str, fn(&mut toml::Table));

/// The page's settings unchanged.
fn as_written(_: &mut toml::Table) {}

/// The page's settings with in-process bans after five refusals.
fn with_bans(config: &mut toml::Table) {
    let mut bans = toml::Table::new();
    bans.insert("enabled".into(), true.into());
    bans.insert("after".into(), 5.into());
    config.insert("bans".into(), bans.into());
}

/// The page's alternative: no interface, the tunnel's own address.
fn on_the_tunnel_address(config: &mut toml::Table) {
    let listen = config["listen"].as_table_mut().unwrap();
    listen.remove("interface");
    listen.insert("address".into(), "10.8.0.1:8443".into());
}
