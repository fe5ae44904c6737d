//! The VPN test's deployment, made by following docs/VPN.md: its WireGuard
//! configs, its gateway settings and its token command are read from the
//! page itself, only keys, the endpoint and interface names filled in. Three
//! network namespaces: the gateway host (the hub), a client machine (peer
//! 10.8.0.7) and a second peer (10.8.0.9) that will hold a copy of the
//! client's certificate, key and token; veth pairs carry the WireGuard
//! packets.

use std::path::Path;
use std::process::Command;

use crate::netns::{KeyPair, Lab, run};

const DOC: &str = include_str!("../../../docs/VPN.md");
/// The gateway binary under test.
pub const GATEWAY: &str = env!("CARGO_BIN_EXE_mcp-gateway");
/// The underlay: the client machine's and the second peer's links to the
/// gateway host (host end, peer end). Private, and only inside the test's
/// namespaces.
pub const CLIENT_LINK: (&str, &str) = ("192.168.77.1/24", "192.168.77.2/24");
const THIEF_LINK: (&str, &str) = ("192.168.78.1/24", "192.168.78.2/24");
/// The second peer's tunnel address: not the one the token names.
pub const THIEF_TUNNEL_ADDRESS: &str = "10.8.0.9";
/// The gateway's tunnel address, as the page's server certificate names it.
const GATEWAY_TUNNEL_ADDRESS: &str = "10.8.0.1";

/// The page's fenced code blocks of `kind` (`ini`, `toml`, `sh`), in order.
fn code_blocks(kind: &str) -> Vec<String> {
    let fence = format!("```{kind}");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in DOC.lines() {
        let trimmed = line.trim();
        match current.as_mut() {
            None if trimmed == fence => current = Some(String::new()),
            Some(_) if trimmed == "```" => blocks.push(current.take().unwrap()),
            Some(block) => {
                block.push_str(trimmed);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The value of `key = value` in an ini block (the first one).
fn ini_value<'a>(block: &'a str, key: &str) -> &'a str {
    block
        .lines()
        .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == key))
        .unwrap_or_else(|| panic!("docs/VPN.md: no {key} in\n{block}"))
        .1
        .trim()
}

/// The value of `--flag value` in the page's `token issue` command.
fn token_flag(flag: &str) -> String {
    let command = code_blocks("sh")
        .into_iter()
        .find(|b| b.contains("token issue"))
        .expect("docs/VPN.md shows `mcp-gateway token issue`");
    let words: Vec<&str> = command.split_whitespace().collect();
    let at = words.iter().position(|w| *w == flag).unwrap();
    words[at + 1].to_owned()
}

/// The gateway's config: the quickstart's, with the page's settings laid
/// over it (the interface renamed), then `adjust`ed; `check-config` finds
/// nothing to warn about.
pub fn gateway_config(folder: &Path, interface: &str, adjust: impl FnOnce(&mut toml::Table)) {
    let settings = &code_blocks("toml")[0];
    let settings: toml::Table = settings
        .replace("\"wg0\"", &format!("\"{interface}\""))
        .parse()
        .unwrap();
    let path = folder.join("gateway.toml");
    let mut config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    for (table, values) in settings {
        let target = config
            .entry(table)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        for (key, value) in values.as_table().unwrap() {
            target
                .as_table_mut()
                .unwrap()
                .insert(key.clone(), value.clone());
        }
    }
    adjust(&mut config);
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let checked = Command::new(GATEWAY)
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(checked.status.success(), "{checked:?}");
    assert!(
        checked.stderr.is_empty(),
        "the VPN settings draw a warning: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// Runs `mcp-gateway` with `args` split at whitespace (no path here has any).
fn gateway_cli(args: &str) -> String {
    run(GATEWAY, &args.split_whitespace().collect::<Vec<_>>())
}

/// The namespaces, the tunnel and the gateway's folder, ready to serve.
pub struct Deployment {
    /// Held for its drop, which comes before the folder's: it removes the
    /// namespaces and stops WireGuard.
    _lab: Lab,
    /// The gateway's folder: quickstart files, config, logs.
    pub folder: tempfile::TempDir,
    /// Namespaces: the gateway host, the client machine, the second peer.
    pub host: String,
    pub client: String,
    pub thief: String,
    /// The gateway host's WireGuard interface.
    pub tunnel: String,
}

/// Follows docs/VPN.md: WireGuard between the hub and two client machines,
/// then the gateway's files, server certificate, settings and the client's
/// token pinned to its tunnel address and bound to its certificate.
pub fn deploy() -> Deployment {
    let mut lab = Lab::new();
    let (host, client, thief) = (lab.name("h"), lab.name("c"), lab.name("t"));
    for namespace in [&host, &client, &thief] {
        lab.namespace(namespace);
    }
    lab.veth(
        &lab.name("vc"),
        (&host, CLIENT_LINK.0),
        (&client, CLIENT_LINK.1),
    );
    lab.veth(
        &lab.name("vt"),
        (&host, THIEF_LINK.0),
        (&thief, THIEF_LINK.1),
    );
    let folder = tempfile::TempDir::new().unwrap();
    let dir = folder.path();

    let ini = code_blocks("ini");
    let (hub, machine) = (&ini[0], &ini[1]);
    let client_address = ini_value(machine, "Address");
    assert_eq!(
        ini_value(hub, "AllowedIPs"),
        client_address,
        "docs/VPN.md: the hub's peer is the client machine"
    );
    assert_eq!(
        token_flag("--allowed-ips"),
        client_address,
        "docs/VPN.md: the token is pinned to the peer"
    );
    let keys: Vec<KeyPair> = (0..3).map(|_| KeyPair::generate()).collect();
    for (name, pair) in ["hub", "client", "thief"].iter().zip(&keys) {
        std::fs::write(dir.join(format!("wg-{name}.key")), &pair.private).unwrap();
    }
    let (hub_keys, client_keys, thief_keys) = (&keys[0], &keys[1], &keys[2]);
    // One [Peer] per client machine: the second one appended.
    let hub_config = format!(
        "{}\n[Peer]\nPublicKey = {}\nAllowedIPs = {THIEF_TUNNEL_ADDRESS}/32\n",
        hub.replace("<gateway private key>", &hub_keys.private)
            .replace("<agent machine public key>", &client_keys.public),
        thief_keys.public
    );
    let machine_config = |keys: &KeyPair, address: &str, link: &str| {
        machine
            .replace("<agent machine private key>", &keys.private)
            .replace("<gateway public key>", &hub_keys.public)
            .replace("gateway.example", link.split('/').next().unwrap())
            .replace(
                &format!("Address = {client_address}"),
                &format!("Address = {address}"),
            )
    };
    let tunnel = lab.name("wg");
    lab.wireguard(&host, &tunnel, &hub_config, dir);
    let config = machine_config(client_keys, client_address, CLIENT_LINK.0);
    lab.wireguard(&client, &lab.name("wc"), &config, dir);
    let config = machine_config(
        thief_keys,
        &format!("{THIEF_TUNNEL_ADDRESS}/32"),
        THIEF_LINK.0,
    );
    lab.wireguard(&thief, &lab.name("wt"), &config, dir);

    let path = dir.to_str().unwrap();
    gateway_cli(&format!(
        "quickstart --no-serve --dir {path} --listen 0.0.0.0:8443"
    ));
    for stale in ["server.pem", "server.key"] {
        std::fs::remove_file(dir.join(stale)).unwrap();
    }
    gateway_cli(&format!(
        "certs issue-server --dir {path} --names {GATEWAY_TUNNEL_ADDRESS} --out {path}/server"
    ));
    gateway_config(dir, &tunnel, |_| {});
    let token = gateway_cli(&format!(
        "token issue --config {path}/gateway.toml --client demo-client \
         --permissions readCalendars,createEvents,updateEvents,deleteEvents --calendars * \
         --allowed-ips {} --bind-cert {path}/client.pem",
        token_flag("--allowed-ips")
    ));
    std::fs::write(dir.join("client.token"), token.trim()).unwrap();
    Deployment {
        _lab: lab,
        folder,
        host,
        client,
        thief,
        tunnel,
    }
}
