//! `mcp-gateway quickstart`: everything a newcomer needs in one folder — a CA,
//! server and client certificates, a config — then serve. Existing files are
//! reused, so running it again keeps the same certificates.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use std::time::Duration;

use crate::cli::pki::{Authority, Issued};
use crate::cli::token::{TokenRequest, claims, sign};
use crate::policy::token::keys::{generate_ed25519_pem, jwks, load_signing_key};

/// Identity of the demo client certificate.
pub const DEMO_CLIENT: &str = "demo-client";

/// The MCP and metrics addresses when neither the command line nor an
/// existing config says.
const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
const DEFAULT_METRICS: &str = "127.0.0.1:9464";

/// Where the quickstart gateway listens: asked for on the command line
/// (`None`: keep what the folder's config says, or the default).
#[derive(Debug, Clone, Copy)]
pub struct Addresses<A = Option<SocketAddr>> {
    /// The MCP listener.
    pub listen: A,
    /// The metrics and `/ready` listener.
    pub metrics: A,
}

/// The addresses in force once `prepare` has run.
pub type Chosen = Addresses<SocketAddr>;

/// Writes `contents` to `path`, readable only by the owner when `secret`.
fn write_file(path: &Path, contents: &str, secret: bool) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options
        .write(true)
        .create_new(true)
        .mode(if secret { 0o600 } else { 0o644 });
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn write_pair(dir: &Path, stem: &str, issued: &Issued) -> anyhow::Result<()> {
    write_file(&dir.join(format!("{stem}.key")), &issued.key_pem, true)?;
    write_file(&dir.join(format!("{stem}.pem")), &issued.cert_pem, false)
}

fn config_text(listen: SocketAddr, metrics: SocketAddr) -> String {
    let audience = format!("https://{}/mcp", listen_url_host(listen));
    format!(
        r#"# Written by `mcp-gateway quickstart` for local development.
# The reference with every key explained is config/gateway.toml in the repository.
# Relative paths are resolved against this file's folder.

[listen]
address = "{listen}"

[tls]
certificate = "server.pem"
private_key = "server.key"
client_ca = "ca.pem"
# The quickstart client certificate carries its identity in the subject CN.
identity = "subject_cn"

[mcp]
path = "/mcp"
allowed_hosts = ["localhost", "127.0.0.1", "::1"]

[network]
# Only this machine may connect.
allow = ["127.0.0.0/8", "::1"]

[log]
# One line per refused connection or request, for fail2ban.
security_log = "security.log"
# One line per tool call: who did what to which calendar.
audit_log = "audit.log"

[jwt]
# Every request needs a token signed by a key in this JWKS.
jwks = "jwks.json"
# The key `mcp-gateway token issue` signs with.
signing_key = "signing.key"
issuer = "mcp-gateway-quickstart"
audience = "{audience}"
# Every token must name the client certificate it is for (cnf.x5t#S256): a
# stolen token is then useless without that certificate's private key.
require_cert_binding = true

[backend]
kind = "embedded"

[backend.embedded]
path = "calendar.db"
time_zone = "UTC"

[metrics]
# Prometheus metrics and GET /ready, from this machine only.
listen = "{metrics}"
"#
    )
}

/// Puts `to` into the quickstart config at `path` where it names `from`
/// (the token audience follows the MCP address), rewritten whole and renamed
/// into place; what changed, one line each. A config edited so that its lines
/// are not found is refused, never silently kept with the old addresses.
fn readdress(path: &Path, text: &str, from: Chosen, to: Chosen) -> anyhow::Result<Vec<String>> {
    let line = |key: &str, at: SocketAddr| format!("\n{key} = \"{at}\"\n");
    let audience = |at: SocketAddr| format!("audience = \"https://{}/mcp\"", listen_url_host(at));
    let mut swaps = vec![
        (
            "listen.address",
            line("address", from.listen),
            line("address", to.listen),
        ),
        ("jwt.audience", audience(from.listen), audience(to.listen)),
    ];
    let mut text = text.to_owned();
    let mut changes = Vec::new();
    if from.metrics != to.metrics {
        if text.contains("\n[metrics]\n") {
            swaps.push((
                "metrics.listen",
                line("listen", from.metrics),
                line("listen", to.metrics),
            ));
        } else {
            text.push_str(&format!("\n[metrics]\nlisten = \"{}\"\n", to.metrics));
            changes.push(format!(
                "metrics.listen: {} -> {}",
                from.metrics, to.metrics
            ));
        }
    }
    for (key, old, new) in swaps {
        if old == new {
            continue;
        }
        if text.matches(&old).count() != 1 {
            anyhow::bail!(
                "{}: {key} is not the line the quickstart wrote, so it is not changed to what was asked; change it there (or remove the file to have it written again)",
                path.display()
            );
        }
        text = text.replace(&old, &new);
        changes.push(format!("{key}: {} -> {}", old.trim(), new.trim()));
    }
    if !changes.is_empty() {
        crate::cli::files::replace(path, &text, 0o644)?;
    }
    Ok(changes)
}

/// Creates what is missing in `dir` and returns the config path and the
/// addresses it serves on.
pub fn prepare(dir: &Path, wanted: Addresses) -> anyhow::Result<(std::path::PathBuf, Chosen)> {
    fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let (ca_pem, ca_key) = (dir.join("ca.pem"), dir.join("ca.key"));
    let authority = if ca_pem.exists() && ca_key.exists() {
        Authority::load(&fs::read_to_string(&ca_pem)?, &fs::read_to_string(&ca_key)?)?
    } else {
        let authority = Authority::generate("mcp-gateway quickstart CA")?;
        write_pair(dir, "ca", &authority.issued)?;
        authority
    };
    if !dir.join("server.pem").exists() {
        write_pair(
            dir,
            "server",
            &authority.issue_server(&["localhost", "127.0.0.1", "::1"])?,
        )?;
    }
    if !dir.join("client.pem").exists() {
        write_pair(dir, "client", &authority.issue_client(DEMO_CLIENT)?)?;
    }
    if !dir.join("signing.key").exists() {
        write_file(&dir.join("signing.key"), &generate_ed25519_pem()?, true)?;
    }
    let key = load_signing_key(&fs::read_to_string(dir.join("signing.key"))?)?;
    if !dir.join("jwks.json").exists() {
        write_file(
            &dir.join("jwks.json"),
            &serde_json::to_string_pretty(&jwks(&[&key]))?,
            false,
        )?;
    }
    let config = dir.join("gateway.toml");
    let default = |text: &str| text.parse::<SocketAddr>().expect("a valid default address");
    if !config.exists() {
        let listen = wanted.listen.unwrap_or_else(|| default(DEFAULT_LISTEN));
        let metrics = wanted.metrics.unwrap_or_else(|| default(DEFAULT_METRICS));
        write_file(&config, &config_text(listen, metrics), false)?;
    }
    let existing = crate::config::Config::load(&config)
        .map_err(|p| anyhow::anyhow!("{}: {p}", config.display()))?;
    let from = Chosen {
        listen: existing.listen.address,
        metrics: existing.metrics.listen,
    };
    let to = Chosen {
        listen: wanted.listen.unwrap_or(from.listen),
        metrics: wanted.metrics.unwrap_or(from.metrics),
    };
    let text = fs::read_to_string(&config)?;
    for change in readdress(&config, &text, from, to)? {
        println!("{}: {change}", config.display());
    }
    // A fresh token on every run: the last one may have expired.
    let loaded = crate::config::Config::load(&config)
        .map_err(|p| anyhow::anyhow!("{}: {p}", config.display()))?;
    let request = TokenRequest {
        bind_cert_pem: Some(fs::read_to_string(dir.join("client.pem"))?),
        renewable_for: None,
        ..TokenRequest::full_access(
            DEMO_CLIENT,
            &["127.0.0.0/8", "::1"],
            Duration::from_secs(24 * 3600),
        )
    };
    let token = sign(
        &claims(&request, &loaded.jwt.issuer, &loaded.jwt.audience)?,
        &key,
    )?;
    let token_path = dir.join("client.token");
    let _ = fs::remove_file(&token_path);
    write_file(&token_path, &token, true)?;
    Ok((config, to))
}

/// How to connect, printed after `prepare`.
pub fn instructions(dir: &Path, addresses: &Chosen) -> String {
    let d = dir.display();
    let url = format!("https://{}/mcp", listen_url_host(addresses.listen));
    let metrics = listen_url_host(addresses.metrics);
    format!(
        r#"mcp-gateway quickstart: files in {d}/
  MCP endpoint {url}; metrics http://{metrics}/metrics and readiness http://{metrics}/ready
  CA ca.pem, server server.pem/.key, client client.pem/.key (identity "{DEMO_CLIENT}"), config gateway.toml
  token signing key signing.key + jwks.json; client.token: a 24h token for {DEMO_CLIENT}, all permissions,
  every calendar, from 127.0.0.0/8 and ::1, bound to client.pem (re-issued on every quickstart run)

Try it with curl (initialize, then list tools with the Mcp-Session-Id it returns):
  curl --cacert {d}/ca.pem --cert {d}/client.pem --key {d}/client.key \
    -H "Authorization: Bearer $(cat {d}/client.token)" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -i \
    -d '{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"curl","version":"1"}}}}}}' \
    {url}

Or from Python (pip install mcp; the 2.x SDK uses httpx2):
  import asyncio, ssl, httpx2
  from mcp import ClientSession
  from mcp.client.streamable_http import streamable_http_client
  ctx = ssl.create_default_context(cafile="{d}/ca.pem")
  ctx.load_cert_chain("{d}/client.pem", "{d}/client.key")
  token = open("{d}/client.token").read().strip()
  async def main():
      async with httpx2.AsyncClient(verify=ctx, headers={{"Authorization": f"Bearer {{token}}"}}) as http:
          async with streamable_http_client("{url}", http_client=http) as (read, write, *_):
              async with ClientSession(read, write) as session:
                  await session.initialize()
                  print([t.name for t in (await session.list_tools()).tools])
  asyncio.run(main())
"#
    )
}

fn listen_url_host(listen: SocketAddr) -> String {
    match listen {
        SocketAddr::V4(v4) => v4.to_string(),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}
