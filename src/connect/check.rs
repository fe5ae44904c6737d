//! `connect --check`: whether this machine can reach the gateway, one step
//! at a time, each printed with what it found — the certificate, the token
//! (its claims and expiry, and whether it is bound to this certificate),
//! DNS, TCP, TLS with the certificate, then one `get_access_info` call —
//! stopping at the first step that fails, which it names.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use serde_json::json;

use crate::connect::clock::describe;
use crate::connect::credentials;
use crate::connect::failure::{Failure, Setting};
use crate::connect::lifecycle::{self, LocalClient};
use crate::connect::options::{Options, ProtocolChoice};
use crate::connect::token_file::TokenFile;
use crate::connect::upstream::Upstream;

/// Time for each network step.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// One step's outcome: what it found, or why it failed.
type Step = Result<String, String>;

/// Runs the steps, printing each; whether all passed.
pub async fn check(options: &Options) -> bool {
    let mut report = Report::default();
    report.run(options).await;
    report.passed
}

struct Report {
    passed: bool,
}

impl Default for Report {
    fn default() -> Self {
        Report { passed: true }
    }
}

impl Report {
    /// Prints `step`; false (and the report failed) when it failed.
    fn print(&mut self, name: &str, step: Step) -> Option<String> {
        match step {
            Ok(found) => {
                println!("ok    {name:<12} {found}");
                Some(found)
            }
            Err(why) => {
                println!("FAIL  {name:<12} {why}");
                self.passed = false;
                None
            }
        }
    }

    async fn run(&mut self, options: &Options) {
        let passphrase = options.passphrase();
        let Some(cert_path) = options.cert.as_deref() else {
            self.print("certificate", Err("--cert is required".into()));
            return;
        };
        let loaded = match credentials::load(cert_path, options.key.as_deref(), &passphrase) {
            Ok(loaded) => loaded,
            Err(why) => {
                self.print("certificate", Err(why));
                return;
            }
        };
        let leaf = loaded.chain[0].clone();
        if self
            .print("certificate", describe_certificate(&leaf))
            .is_none()
        {
            return;
        }
        let Some(token_path) = options.token_file.clone() else {
            self.print("token", Err("--token-file is required".into()));
            return;
        };
        let token = Arc::new(TokenFile::new(token_path.clone()));
        if self.print("token", describe_token(&token, &leaf)).is_none() {
            return;
        }
        let Ok(url) = options.url.parse::<http::Uri>() else {
            self.print("url", Err(format!("`{}` is not a URL", options.url)));
            return;
        };
        let host = url
            .host()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_owned();
        let port = url.port_u16().unwrap_or(443);
        let Some(addresses) = self.print("dns", resolve(&host, port).await) else {
            return;
        };
        let first = addresses
            .split(", ")
            .next()
            .unwrap_or_default()
            .parse()
            .ok();
        let Some(address) = first else { return };
        let Some(_) = self.print(
            "tcp",
            connect(address)
                .await
                .map(|_| format!("{address} accepts connections")),
        ) else {
            return;
        };
        let tls = match credentials::client_config(loaded, options.ca.as_deref()) {
            Ok(tls) => tls,
            Err(why) => {
                self.print("tls", Err(why));
                return;
            }
        };
        if self
            .print("tls", handshake(address, &host, Arc::clone(&tls)).await)
            .is_none()
        {
            return;
        }
        let setting = Setting {
            url: options.url.clone(),
            token_file: token_path,
            cert: cert_path.to_owned(),
        };
        let choice =
            ProtocolChoice::parse(&options.gateway_protocol).unwrap_or(ProtocolChoice::Auto);
        let call = one_call(&options.url, tls, &token, choice)
            .await
            .map_err(|f| f.describe(&setting));
        self.print("call", call);
    }
}

fn describe_certificate(leaf: &rustls::pki_types::CertificateDer<'_>) -> Step {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf).map_err(|e| format!("not X.509: {e}"))?;
    let until = cert.validity().not_after.timestamp();
    if until < crate::connect::clock::now() {
        return Err(format!("{} expired {}", cert.subject(), describe(until)));
    }
    Ok(format!(
        "{}, valid until {}",
        cert.subject(),
        describe(until)
    ))
}

fn describe_token(token: &TokenFile, leaf: &rustls::pki_types::CertificateDer<'_>) -> Step {
    let held = token.current()?;
    let claims = &held.claims;
    let thumbprint = {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf.as_ref());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
    };
    let binding = match claims.cnf.as_ref().and_then(|c| c["x5t#S256"].as_str()) {
        Some(bound) if bound == thumbprint => "bound to this certificate",
        Some(_) => return Err("the token is bound to another certificate than --cert".into()),
        None => "not bound to a certificate",
    };
    if claims.exp <= crate::connect::clock::now() {
        return Err(format!("expired {}", describe(claims.exp)));
    }
    let renewal = match claims.renewable_until {
        Some(until) => format!("renewable until {}", describe(until)),
        None => "not renewable".into(),
    };
    Ok(format!(
        "clientId {}, permissions [{}], calendars [{}], allowedIPs [{}], {binding}, expires {}, {renewal}",
        claims.client_id.as_deref().unwrap_or("(none)"),
        claims.permissions.join(", "),
        claims.calendars.join(", "),
        claims.allowed_ips.join(", "),
        describe(claims.exp)
    ))
}

async fn resolve(host: &str, port: u16) -> Step {
    let found = tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| format!("no answer for {host} within {}s", STEP_TIMEOUT.as_secs()))?
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let addresses: Vec<String> = found.map(|a| a.to_string()).collect();
    if addresses.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(addresses.join(", "))
}

async fn connect(address: std::net::SocketAddr) -> Result<tokio::net::TcpStream, String> {
    tokio::time::timeout(STEP_TIMEOUT, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| {
            format!(
                "{address}: no answer within {}s (a firewall, or not on the VPN?)",
                STEP_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{address}: {e} (is the gateway running?)"))
}

async fn handshake(
    address: std::net::SocketAddr,
    host: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Step {
    let stream = connect(address).await?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("`{host}`: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(tls);
    let stream = tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, stream))
        .await
        .map_err(|_| format!("no TLS handshake within {}s", STEP_TIMEOUT.as_secs()))?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                "the gateway closed the connection before TLS: it does not admit this address (allowlist, country or ban)".to_owned()
            }
            _ => format!("{e}"),
        })?;
    let (_, session) = stream.get_ref();
    let version = session
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let alpn = session
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| "none".into());
    Ok(format!(
        "{version}, ALPN {alpn}, the gateway's certificate is valid for {host} (the gateway checks this machine's at the first request)"
    ))
}

async fn one_call(
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    token: &TokenFile,
    choice: ProtocolChoice,
) -> Result<String, Failure> {
    let upstream = Upstream::new(url, tls).map_err(Failure::Garbled)?;
    let held = token.current().map_err(Failure::Token)?;
    let local = LocalClient::default();
    let agreed = lifecycle::agree(&upstream, &held.token, choice, &local).await?;
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "get_access_info", "arguments": {} },
    });
    let (body, headers) = lifecycle::prepare(
        &call,
        bytes::Bytes::from(call.to_string()),
        &agreed.generation,
        &local,
    );
    let answer = upstream.post(body, &held.token, &headers).await?;
    let message = lifecycle::one_message(answer).await?;
    if let Some(error) = message.get("error") {
        return Err(Failure::Garbled(format!("get_access_info: {error}")));
    }
    let access = &message["result"]["structuredContent"];
    let generation = match agreed.generation {
        lifecycle::Generation::Stateless => lifecycle::STATELESS.to_owned(),
        lifecycle::Generation::Session { version, .. } => format!("{version} (session)"),
    };
    Ok(format!(
        "get_access_info answered over {generation}: {access}"
    ))
}
