//! The command line of `mcp-gateway connect`, as clap reads it.

use std::path::PathBuf;

use crate::connect::credentials::Passphrase;

/// `mcp-gateway connect URL --cert C --key K [--ca CA] --token-file T`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The gateway's MCP endpoint, e.g. https://calendar-gw.vpn.example:8443/mcp.
    pub url: String,
    /// This machine's client certificate: a PEM file (with its chain), or a
    /// PKCS#12 bundle (.p12 / .pfx) holding the key too.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM, PKCS#8, optionally encrypted);
    /// not with a PKCS#12 bundle. Must not be readable by group or others.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// CA certificates (PEM) that sign the gateway's certificate [default:
    /// the system's trust store].
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// File holding the bearer token; re-read whenever it changes, and
    /// rewritten (atomically, mode 0600) when the token is renewed.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// File holding the passphrase of an encrypted key or of a PKCS#12 bundle.
    #[arg(long, conflicts_with = "passphrase_env")]
    pub passphrase_file: Option<PathBuf>,
    /// Environment variable holding that passphrase instead.
    #[arg(long)]
    pub passphrase_env: Option<String>,
    /// The protocol generation to speak to the gateway: `auto` (2026-07-28
    /// stateless when the gateway serves it, else 2025-11-25 sessions), or
    /// one of those two, pinned.
    #[arg(long, default_value = "auto")]
    pub gateway_protocol: String,
    /// Check, step by step, that this machine can reach the gateway (DNS,
    /// TCP, TLS, the token, one call), print each step and exit.
    #[arg(long)]
    pub check: bool,
    /// Print the configuration snippet for an MCP client (claude-desktop,
    /// claude-code, cursor, vscode, zed, generic) with these paths, and exit.
    #[arg(long, value_name = "CLIENT")]
    pub print_config: Option<String>,
    /// The server's name in a printed snippet.
    #[arg(long, default_value = "calendar")]
    pub name: String,
}

impl Options {
    /// Where the passphrase comes from (`--passphrase-file`, `--passphrase-env`).
    pub fn passphrase(&self) -> Passphrase {
        match (&self.passphrase_file, &self.passphrase_env) {
            (Some(file), _) => Passphrase::File(file.clone()),
            (None, Some(name)) => Passphrase::Env(name.clone()),
            (None, None) => Passphrase::None,
        }
    }
}

/// The protocol generation asked for with `--gateway-protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// The newest both sides speak.
    Auto,
    /// 2026-07-28, stateless, only.
    Stateless,
    /// 2025-11-25 (or older) with a session, only.
    Sessions,
}

impl ProtocolChoice {
    /// Reads `--gateway-protocol`.
    pub fn parse(text: &str) -> Result<ProtocolChoice, String> {
        match text {
            "auto" => Ok(ProtocolChoice::Auto),
            "2026-07-28" | "stateless" => Ok(ProtocolChoice::Stateless),
            "2025-11-25" | "sessions" => Ok(ProtocolChoice::Sessions),
            other => Err(format!(
                "--gateway-protocol: `{other}` is not auto, 2026-07-28 or 2025-11-25"
            )),
        }
    }
}
