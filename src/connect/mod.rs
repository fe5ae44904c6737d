//! `mcp-gateway connect`: a local stdio MCP server for clients that cannot
//! present a certificate (desktop assistants, coding agents). The client
//! launches it; it carries every message to the gateway over mutual TLS
//! with the bearer token, and every answer back. Certificate, key and token
//! stay on this machine.
//!
//! In the order a session runs:
//! - [`options`]: the command line; [`credentials`]: the certificate and
//!   key (PEM, encrypted PKCS#8, PKCS#12), refused when others may read
//!   the key, and the TLS client configuration;
//! - [`token_file`]: the token, re-read whenever the file changes;
//! - [`upstream`] over [`connector`]: the HTTPS client (a refused
//!   certificate told apart from a lost connection), one POST per message, answers read as
//!   JSON or as an event stream;
//! - [`lifecycle`]: the generation agreed with the gateway (2026-07-28
//!   stateless, else a 2025-11-25 session) and each message prepared for it;
//! - [`bridge`]: stdin to the gateway and back to stdout;
//! - [`renewal`]: expiry notices on stderr and renewal of a renewable token;
//! - [`failure`]: every failure as a JSON-RPC error that says what to do;
//! - [`check`]: `--check`, step by step; [`snippets`]: `--print-config`.
//!
//! Stdout carries JSON-RPC only; diagnostics go to stderr.

pub mod bridge;
pub mod check;
pub mod clock;
pub mod connector;
pub mod credentials;
pub mod failure;
pub mod lifecycle;
pub mod options;
pub mod renewal;
pub mod snippets;
pub mod token_file;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::connect::failure::Setting;
use crate::connect::options::{Options, ProtocolChoice};
use crate::connect::token_file::TokenFile;
use crate::connect::upstream::Upstream;

/// Lines waiting for stdout.
const OUT_QUEUE: usize = 256;

/// What `run` needs, checked: everything a bad option could break is found
/// here, before the client's first message.
pub struct Prepared {
    /// The gateway client.
    pub upstream: Arc<Upstream>,
    /// The token file (read once: a missing or unreadable file fails now).
    pub token: Arc<TokenFile>,
    /// `--gateway-protocol`.
    pub choice: ProtocolChoice,
    /// What messages refer to.
    pub setting: Setting,
}

/// A required path option, or the error naming it.
fn required<'a>(value: &'a Option<PathBuf>, flag: &str) -> Result<&'a Path, String> {
    value
        .as_deref()
        .ok_or_else(|| format!("{flag} is required"))
}

/// Checks the options and loads the credentials and the token.
pub fn prepare(options: &Options) -> Result<Prepared, String> {
    let cert = required(&options.cert, "--cert")?;
    let token_path = required(&options.token_file, "--token-file")?;
    let passphrase = options.passphrase();
    let choice = ProtocolChoice::parse(&options.gateway_protocol)?;
    let credentials = credentials::load(cert, options.key.as_deref(), &passphrase)?;
    let tls = credentials::client_config(credentials, options.ca.as_deref())?;
    let upstream = Arc::new(Upstream::new(&options.url, tls)?);
    let token = Arc::new(TokenFile::new(token_path.to_owned()));
    token.current()?;
    Ok(Prepared {
        upstream,
        token,
        choice,
        setting: Setting {
            url: options.url.clone(),
            token_file: token_path.to_owned(),
            cert: cert.to_owned(),
        },
    })
}

/// Serves stdin until it closes: the bridge, the stdout writer and the
/// token's care, together.
pub async fn run(prepared: Prepared) {
    let (out, lines) = tokio::sync::mpsc::channel(OUT_QUEUE);
    let writer = tokio::spawn(bridge::write_stdout(lines));
    let care = tokio::spawn(renewal::look_after(
        Arc::clone(&prepared.token),
        Arc::clone(&prepared.upstream),
        prepared.setting.clone(),
    ));
    let bridge = Arc::new(bridge::Bridge::new(
        prepared.upstream,
        prepared.token,
        prepared.choice,
        prepared.setting,
        out,
    ));
    bridge::serve_stdin(bridge).await;
    care.abort();
    let _ = writer.await;
}
