//! The gateway binary on top of an [`crate::acme_lab::AcmeLab`]: its folder,
//! config, stderr log and metrics, clients that reach it by the name its ACME
//! certificate is for, and a probe of the certificate a new handshake is served.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::acme_lab::NAME;
use crate::common::{Pki, Setup, free_port, render, wait_for_port, write_pki};

/// A gateway binary serving on `port` with `[tls.acme]`, its folder, and its stderr log.
pub struct AcmeGateway {
    /// The gateway's folder (config, PKI, state).
    pub dir: PathBuf,
    /// Its test PKI (client certificates and tokens).
    pub pki: Pki,
    /// `serve`, running.
    pub child: Child,
    /// The MCP port.
    pub port: u16,
    /// The metrics port.
    pub metrics_port: u16,
}

impl AcmeGateway {
    /// Writes the config (the `[tls.acme]` table `acme`) into `dir` and starts `serve`.
    pub async fn start(dir: &Path, port: u16, acme: &str) -> AcmeGateway {
        AcmeGateway::start_with(dir, port, |setup| {
            setup.tls_files = String::new();
            setup.tables = acme.to_owned();
        })
        .await
    }

    /// Starts `serve` on `port` in `dir`, with `adjust` applied to the setup
    /// (which answers to `gw.acme.test`).
    pub async fn start_with(dir: &Path, port: u16, adjust: impl FnOnce(&mut Setup)) -> AcmeGateway {
        let pki = write_pki(dir);
        let metrics_port = free_port();
        let mut setup = Setup {
            address: format!("127.0.0.1:{port}"),
            allowed_hosts: format!("\"{NAME}\", \"127.0.0.1\""),
            metrics_listen: format!("127.0.0.1:{metrics_port}"),
            ..Setup::default()
        };
        adjust(&mut setup);
        let text = render(&setup);
        std::fs::write(dir.join("gateway.toml"), text).unwrap();
        let child = spawn_gateway(dir);
        wait_for_port(metrics_port).await;
        AcmeGateway {
            dir: dir.to_owned(),
            pki,
            child,
            port,
            metrics_port,
        }
    }

    /// Starts `serve` again on the same folder (what the state folder holds stays).
    pub async fn restart(&mut self) {
        let _ = self.child.kill().await;
        self.child = spawn_gateway(&self.dir);
        wait_for_port(self.metrics_port).await;
    }

    /// What the gateway logged on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gateway.stderr")).unwrap_or_default()
    }

    /// Waits (up to 30 s) until the log holds `needle` `times` times; the log.
    pub async fn log_with(&self, needle: &str, times: usize) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log();
            if log.matches(needle).count() >= times {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{needle:?} not {times} times in:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET /ready` on the metrics listener: status and body.
    pub async fn ready(&self) -> (u16, String) {
        let answer = reqwest::get(format!("http://127.0.0.1:{}/ready", self.metrics_port))
            .await
            .unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// One series of the gateway's own metrics (0 when absent).
    pub async fn metric(&self, series: &str) -> f64 {
        crate::common::metric(([127, 0, 0, 1], self.metrics_port).into(), series).await
    }

    /// Waits (up to `within`) until the stored certificate changes from `than`; the new one.
    pub async fn stored_certificate_other_than(&self, than: &str, within: Duration) -> String {
        let path = self.dir.join("acme-state/certificate.pem");
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let now = std::fs::read_to_string(&path).unwrap_or_default();
            if !now.is_empty() && now != than {
                return now;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new certificate in {within:?}; gateway log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A client of `gw.acme.test` (resolved to 127.0.0.1) trusting `root`,
    /// presenting a certificate for `identity` and its token.
    pub fn client(&self, root: &str, identity: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(root.as_bytes()).unwrap()])
            .identity(
                reqwest::Identity::from_pem(
                    {
                        let cert = self.pki.ca.issue_client(identity).unwrap();
                        format!("{}{}", cert.cert_pem, cert.key_pem)
                    }
                    .as_bytes(),
                )
                .unwrap(),
            )
            .resolve(NAME, ([127, 0, 0, 1], self.port).into())
            .default_headers({
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", self.pki.token(identity))
                        .parse()
                        .unwrap(),
                );
                headers
            })
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    }

    /// The MCP URL by name.
    pub fn url(&self) -> String {
        format!("https://{NAME}:{}/mcp", self.port)
    }
}

fn spawn_gateway(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(dir.join("gateway.toml"))
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("gateway.stderr"))
                .unwrap(),
        )
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// The first certificate in a PEM chain, DER.
pub fn leaf_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// The leaf the gateway serves to a new handshake for `gw.acme.test`, and
/// the handshake's outcome for a client with or without a certificate.
pub async fn served_leaf(
    port: u16,
    root: &str,
    client: Option<&mcp_gateway::cli::pki::Issued>,
    alpn: &[&[u8]],
) -> std::io::Result<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::AsyncReadExt;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(CertificateDer::pem_slice_iter(root.as_bytes()).flatten());
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let mut config = match client {
        Some(cert) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
                    .flatten()
                    .collect(),
                PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from(NAME).unwrap(), tcp)
        .await?;
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    // Under TLS 1.3 a refused client certificate arrives after the client's
    // handshake: read once to learn the server's verdict. A client with a
    // certificate hears nothing (the server waits for a request), so a short
    // wait means admitted; one without must hear its refusal, however loaded
    // the machine, so it waits long enough that silence is the server's answer.
    let verdict_within = match client {
        Some(_) => Duration::from_millis(300),
        None => Duration::from_secs(5),
    };
    let mut byte = [0u8; 1];
    match tokio::time::timeout(verdict_within, tls.read(&mut byte)).await {
        Ok(Err(e)) => Err(e),
        Ok(Ok(0)) if client.is_none() => Err(std::io::Error::other("closed")),
        _ => Ok(leaf),
    }
}
