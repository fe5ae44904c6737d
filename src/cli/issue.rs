//! The `token issue` command: reads the configured signing key and prints a
//! token, refusing lifetimes the gateway itself would refuse.

use std::path::PathBuf;

use crate::cli::token::{TokenRequest, claims, sign};
use crate::config::Config;
use crate::policy::token::keys::load_signing_key;

/// The command-line arguments of `token issue`.
#[derive(Debug, clap::Args)]
pub struct Request {
    /// The client's certificate identity (`clientId`).
    #[arg(long)]
    pub client: String,
    /// Permissions, comma-separated: readCalendars,createEvents,updateEvents,deleteEvents.
    #[arg(long, value_delimiter = ',', required = true)]
    pub permissions: Vec<String>,
    /// Calendar ids, comma-separated; `*` for all.
    #[arg(long, value_delimiter = ',', required = true)]
    pub calendars: Vec<String>,
    /// Client networks the token may be used from, comma-separated CIDRs.
    #[arg(long, value_delimiter = ',', required = true)]
    pub allowed_ips: Vec<String>,
    /// Lifetime, e.g. 1h (at most jwt.max_lifetime).
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// Bind the token to this client certificate (PEM): useless without its key.
    #[arg(long)]
    pub bind_cert: Option<PathBuf>,
    /// Let the client renew the token (with `[jwt.renewal]` on) until this
    /// long from now, e.g. 30d (at most jwt.max_renewable); needs --bind-cert.
    #[arg(long)]
    pub renewable_until: Option<String>,
}

/// Signs a token for `request` with the key `config` names.
pub fn issue(config: &Config, request: Request) -> anyhow::Result<String> {
    let path = config
        .jwt
        .signing_key
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("jwt.signing_key is not set in the config"))?;
    let pem = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("jwt.signing_key: cannot read {}: {e}", path.display()))?;
    let key = load_signing_key(&pem).map_err(|e| anyhow::anyhow!("jwt.signing_key: {e}"))?;
    let ttl = crate::config::parse_duration(&request.ttl)
        .map_err(|why| anyhow::anyhow!("--ttl: {why}"))?;
    if ttl > config.jwt.max_lifetime {
        anyhow::bail!(
            "--ttl: {} is longer than jwt.max_lifetime; the gateway would refuse the token",
            request.ttl
        );
    }
    let bind_cert_pem = request
        .bind_cert
        .as_ref()
        .map(|p| {
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("--bind-cert: cannot read {}: {e}", p.display()))
        })
        .transpose()?;
    if let Some(pem) = &bind_cert_pem {
        check_bound_identity(pem, &request.client, config.tls.identity)?;
    }
    let unbound = bind_cert_pem.is_none();
    let renewable_for = request
        .renewable_until
        .as_deref()
        .map(|text| renewal_limit(config, text, unbound))
        .transpose()?;
    let token_request = TokenRequest {
        client_id: request.client,
        permissions: request.permissions,
        calendars: request.calendars,
        allowed_ips: request.allowed_ips,
        ttl,
        bind_cert_pem,
        renewable_for,
    };
    let claims = claims(&token_request, &config.jwt.issuer, &config.jwt.audience)?;
    if unbound && config.jwt.require_cert_binding {
        anyhow::bail!(
            "--bind-cert: required, because jwt.require_cert_binding = true in the config; the gateway would refuse an unbound token (cert_binding_missing)"
        );
    }
    sign(&claims, &key)
}

/// The `--renewable-until` span: within `jwt.max_renewable`, longer than
/// the token's own life is not required (a limit shorter than `--ttl` only
/// shortens the last renewal), and only for a token bound to its certificate.
fn renewal_limit(
    config: &Config,
    text: &str,
    unbound: bool,
) -> anyhow::Result<std::time::Duration> {
    let span = crate::config::parse_duration(text)
        .map_err(|why| anyhow::anyhow!("--renewable-until: {why}"))?;
    if span > config.jwt.max_renewable {
        anyhow::bail!(
            "--renewable-until: {text} is longer than jwt.max_renewable ({})",
            humantime::format_duration(config.jwt.max_renewable)
        );
    }
    if unbound {
        anyhow::bail!(
            "--renewable-until: needs --bind-cert; only a token bound to its certificate is renewed (a stolen unbound token could be renewed by anyone)"
        );
    }
    if !config.jwt.renewal {
        eprintln!(
            "warning: [jwt.renewal] is not enabled in the config: this gateway will not renew the token until it is"
        );
    }
    Ok(span)
}

/// `--bind-cert` must be the certificate of `--client`: a token bound to
/// another identity's certificate could never be used.
fn check_bound_identity(
    pem: &str,
    client: &str,
    source: crate::config::IdentitySource,
) -> anyhow::Result<()> {
    use rustls::pki_types::pem::PemObject;
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("--bind-cert: not a PEM certificate: {e}"))?;
    let identity = crate::identity::identify(&cert, source)
        .map_err(|e| anyhow::anyhow!("--bind-cert: {e} (tls.identity decides where it is read)"))?;
    if identity.id() != client {
        anyhow::bail!(
            "--bind-cert: the certificate's identity is `{}`, not --client `{client}` (read by tls.identity)",
            identity.id()
        );
    }
    Ok(())
}
