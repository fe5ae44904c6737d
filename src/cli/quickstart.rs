//! `mcp-gateway quickstart`: everything a newcomer needs in one folder — a CA,
//! server and client certificates, a config — then serve. Existing files are
//! reused, so running it again keeps the same certificates.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::cli::pki::{Authority, Issued};

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
    let config = dir.join("gateway.toml");
    if !config.exists() {
        write_file(&config, &config_text(listen), false)?;
    }
    Ok(config)
}

/// How to connect, printed after `prepare`.
pub fn instructions(dir: &Path, listen: SocketAddr) -> String {
    let d = dir.display();
    let url = format!("https://{}/mcp", listen_url_host(listen));
    format!(
        r#"mcp-gateway quickstart: files in {d}/
  CA ca.pem, server server.pem/.key, client client.pem/.key (identity "{DEMO_CLIENT}"), config gateway.toml

Try it with curl (initialize, then list tools with the Mcp-Session-Id it returns):
  curl --cacert {d}/ca.pem --cert {d}/client.pem --key {d}/client.key \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -i \
    -d '{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"curl","version":"1"}}}}}}' \
    {url}

Or from Python (pip install mcp; the 2.x SDK uses httpx2):
  import asyncio, ssl, httpx2
  from mcp import ClientSession
  from mcp.client.streamable_http import streamable_http_client
  ctx = ssl.create_default_context(cafile="{d}/ca.pem")
  ctx.load_cert_chain("{d}/client.pem", "{d}/client.key")
  async def main():
      async with httpx2.AsyncClient(verify=ctx) as http:
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
