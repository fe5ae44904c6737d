//! A private ACME world on loopback: BIND 9 (`named`) authoritative for
//! `acme.test` on a free port, taking RFC 2136 updates signed with a TSIG
//! key, and Pebble (Let's Encrypt's RFC 8555 test CA) resolving through it,
//! validating TLS-ALPN-01 on `tls_port` and HTTP-01 on `http_port`. Both are
//! Debian's packages, installed by scripts/test-all.sh. A gateway binary is
//! started on top with [`AcmeLab::gateway`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mcp_gateway::cli::pki::{Authority, Issued};
use tempfile::TempDir;
use tokio::process::{Child, Command};

use crate::common::{Pki, Setup, free_port, render, wait_for_port, write_pki};

/// The name the gateway's certificate is ordered for; `A 127.0.0.1` in the zone.
pub const NAME: &str = "gw.acme.test";
/// The TSIG key's name.
pub const KEY_NAME: &str = "acme-update";
/// Its secret (base64), shared by named and the gateway.
pub const KEY_SECRET: &str = "c2VjcmV0LWZvci10aGUtYWNtZS10ZXN0LXpvbmUtMDEyMzQ1Njc4OQ==";

/// How Pebble is set up.
pub struct LabOptions {
    /// Where Pebble validates TLS-ALPN-01 (the gateway's port).
    pub tls_port: u16,
    /// Where Pebble validates HTTP-01 (certbot's standalone port).
    pub http_port: u16,
    /// Lifetime of the certificates Pebble issues, seconds.
    pub validity_seconds: u64,
    /// Pebble's longest random wait before validating (0: none).
    pub va_sleep_seconds: u64,
    /// External Account Binding required, with this key id and HMAC key (base64url).
    pub eab: Option<(&'static str, &'static str)>,
}

/// BIND and Pebble, running.
pub struct AcmeLab {
    dir: TempDir,
    named: Child,
    pebble: Option<Child>,
    options: LabOptions,
    /// named's port (UDP and TCP).
    pub dns_port: u16,
    /// Pebble's ACME port.
    pub acme_port: u16,
    /// Pebble's management port (its roots).
    pub management_port: u16,
    /// The CA of Pebble's own HTTPS certificate (PEM).
    pub https_ca: String,
}

impl AcmeLab {
    /// Starts named and Pebble.
    pub async fn start(options: LabOptions) -> AcmeLab {
        let dir = TempDir::new().unwrap();
        let dns_port = free_port();
        let authority = Authority::generate("Pebble HTTPS test CA").unwrap();
        let https: Issued = authority.issue_server(&["127.0.0.1", "localhost"]).unwrap();
        std::fs::write(dir.path().join("pebble.pem"), &https.cert_pem).unwrap();
        std::fs::write(dir.path().join("pebble.key"), &https.key_pem).unwrap();
        let named = start_named(dir.path(), dns_port).await;
        let mut lab = AcmeLab {
            named,
            pebble: None,
            dns_port,
            acme_port: free_port(),
            management_port: free_port(),
            https_ca: authority.issued.cert_pem.clone(),
            options,
            dir,
        };
        lab.start_pebble().await;
        lab
    }

    /// Where Pebble validates HTTP-01.
    pub fn http_port(&self) -> u16 {
        self.options.http_port
    }

    /// The directory URL.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// Starts Pebble (again, on the same ports; a new root each time).
    pub async fn start_pebble(&mut self) {
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{}", self.acme_port),
            "managementListenAddress": format!("127.0.0.1:{}", self.management_port),
            "certificate": self.dir.path().join("pebble.pem"),
            "privateKey": self.dir.path().join("pebble.key"),
            "httpPort": self.options.http_port,
            "tlsPort": self.options.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": self.options.eab.is_some(),
            "externalAccountMACKeys": self.options.eab.map(|(kid, key)| serde_json::json!({ kid: key })),
            "certificateValidityPeriod": self.options.validity_seconds,
        }});
        let path = self.dir.path().join("pebble.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("pebble.log"))
            .unwrap();
        let mut command = Command::new("pebble");
        command
            .arg("-config")
            .arg(&path)
            .arg("-dnsserver")
            .arg(format!("127.0.0.1:{}", self.dns_port))
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        if self.options.va_sleep_seconds == 0 {
            command.env("PEBBLE_VA_NOSLEEP", "1");
        } else {
            command.env(
                "PEBBLE_VA_SLEEPTIME",
                self.options.va_sleep_seconds.to_string(),
            );
        }
        self.pebble = Some(
            command
                .spawn()
                .expect("pebble must be installed (scripts/test-all.sh installs it)"),
        );
        wait_for_port(self.acme_port).await;
        wait_for_port(self.management_port).await;
    }

    /// Stops Pebble: the CA is unreachable until [`Self::start_pebble`].
    pub async fn stop_pebble(&mut self) {
        if let Some(mut pebble) = self.pebble.take() {
            let _ = pebble.kill().await;
        }
    }

    /// The root Pebble issues from now (PEM), from its management port.
    pub async fn issuing_root(&self) -> String {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.https_ca.as_bytes()).unwrap()])
            .build()
            .unwrap();
        client
            .get(format!(
                "https://127.0.0.1:{}/roots/0",
                self.management_port
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The TXT values at `name` now, asked of named with `dig`.
    pub async fn txt(&self, name: &str) -> Vec<String> {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.dns_port.to_string(),
                "+short",
                name,
                "TXT",
            ])
            .output()
            .await
            .expect("dig must be installed (bind9-dnsutils, scripts/test-all.sh)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_matches('"').to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// The `[tls.acme]` table for `challenge`, with files written into `dir`:
    /// Pebble's HTTPS CA and the TSIG key (0600; `secret` replaces the right one).
    pub fn acme_table(&self, dir: &Path, challenge: &str, secret: &str) -> String {
        std::fs::write(dir.join("pebble-https.pem"), &self.https_ca).unwrap();
        let key = dir.join("acme-update.key");
        std::fs::write(&key, tsig_key_text(secret)).unwrap();
        set_mode(&key, 0o600);
        let dns = if challenge == "dns-01" {
            format!(
                "[tls.acme.dns_update]\nserver = \"127.0.0.1:{}\"\nzone = \"acme.test\"\ntsig_key_file = \"acme-update.key\"\n",
                self.dns_port
            )
        } else {
            String::new()
        };
        format!(
            "[tls.acme]\ndirectory = \"{}\"\ncontact = [\"mailto:ops@acme.test\"]\nnames = [\"{NAME}\"]\nstate_dir = \"acme-state\"\nchallenge = \"{challenge}\"\ndirectory_ca = \"pebble-https.pem\"\n{dns}",
            self.directory()
        )
    }
}

impl Drop for AcmeLab {
    fn drop(&mut self) {
        let _ = self.named.start_kill();
        if let Some(pebble) = self.pebble.as_mut() {
            let _ = pebble.start_kill();
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A key file as `tsig-keygen` writes it.
pub fn tsig_key_text(secret: &str) -> String {
    format!("key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n")
}

async fn start_named(dir: &Path, port: u16) -> Child {
    let d = dir.display();
    std::fs::write(dir.join("update.key"), tsig_key_text(KEY_SECRET)).unwrap();
    std::fs::write(
        dir.join("acme.test.zone"),
        format!(
            "$TTL 60\n@ IN SOA ns.acme.test. admin.acme.test. 1 60 60 600 60\n@ IN NS ns.acme.test.\nns IN A 127.0.0.1\n{} IN A 127.0.0.1\n",
            NAME.trim_end_matches(".acme.test")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            "options {{ directory \"{d}\"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; pid-file \"{d}/named.pid\"; session-keyfile \"{d}/session.key\"; managed-keys-directory \"{d}\"; dnssec-validation no; }};\ninclude \"{d}/update.key\";\nzone \"acme.test\" {{ type primary; file \"{d}/acme.test.zone\"; update-policy {{ grant {KEY_NAME} zonesub TXT; }}; }};\ncontrols {{ }};\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("named.log")).unwrap();
    // Debian puts named in /usr/sbin, which a non-login PATH may lack.
    let program = if Path::new("/usr/sbin/named").exists() {
        "/usr/sbin/named"
    } else {
        "named"
    };
    let named = Command::new(program)
        .arg("-g")
        .arg("-c")
        .arg(dir.join("named.conf"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("named must be installed (bind9, scripts/test-all.sh)");
    wait_for_port(port).await;
    named
}

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
    // handshake: read once to learn the server's verdict.
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(300), tls.read(&mut byte)).await {
        Ok(Err(e)) => Err(e),
        Ok(Ok(0)) if client.is_none() => Err(std::io::Error::other("closed")),
        _ => Ok(leaf),
    }
}
