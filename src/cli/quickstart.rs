//! `mcp-gateway quickstart`: everything a newcomer needs in one folder — a CA,
//! server and client certificates, a config — then serve. Existing files are
//! reused, so running it again keeps the same certificates.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use std::time::Duration;

use crate::cli::keys::{generate_ed25519_pem, jwks, load_signing_key};
use crate::cli::pki::{Authority, Issued};
use crate::cli::token::{TokenRequest, claims, sign};

/// Identity of the demo client certificate.
pub const DEMO_CLIENT: &str = "demo-client";

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

fn config_text(listen: SocketAddr) -> String {
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
"#
    )
}

/// Creates what is missing in `dir` and returns the config path.
pub fn prepare(dir: &Path, listen: SocketAddr) -> anyhow::Result<std::path::PathBuf> {
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
    if !config.exists() {
        write_file(&config, &config_text(listen), false)?;
    }
    // A fresh token on every run: the last one may have expired.
    let loaded = crate::config::Config::load(&config)
        .map_err(|p| anyhow::anyhow!("{}: {p}", config.display()))?;
    let request = TokenRequest {
        bind_cert_pem: Some(fs::read_to_string(dir.join("client.pem"))?),
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
    Ok(config)
}

/// How to connect, printed after `prepare`.
pub fn instructions(dir: &Path, listen: SocketAddr) -> String {
    let d = dir.display();
    let url = format!("https://{}/mcp", listen_url_host(listen));
    format!(
        r#"mcp-gateway quickstart: files in {d}/
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
