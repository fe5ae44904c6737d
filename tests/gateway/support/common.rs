//! Test harness: a gateway on 127.0.0.1:0 with a PKI generated for the test,
//! clients that present (or do not present) certificates, and rmcp clients.

use std::net::IpAddr;
use std::path::Path;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use mcp_gateway::cli::pki::{Authority, Issued};
use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use mcp_gateway::config::Config;
use mcp_gateway::config::IdentitySource;
use mcp_gateway::gateway::server::{self, Gateway};
use mcp_gateway::policy::token::keys::{SigningKey, generate_ed25519_pem, jwks, load_signing_key};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use tempfile::TempDir;

use crate::google_api::GoogleApi;

/// A running gateway and the material to talk to it.
pub struct TestGateway {
    /// Owns the folder with certificates, config and database.
    dir: TempDir,
    /// The gateway's CA and token signing key.
    pub pki: Pki,
    /// Where the gateway reads identities from (to mint matching tokens).
    identity_source: IdentitySource,
    /// The running server.
    pub gateway: Gateway,
    /// The Google Calendar API stand-in, for gateways on the Google backend.
    pub google: Option<GoogleApi>,
    /// The CalDAV server, for gateways on the CalDAV backend.
    pub caldav: Option<crate::caldav_servers::DavServer>,
}

pub use crate::setup::{EMBEDDED_BACKEND, Setup, config_text, render};
pub use crate::tools::{
    assert_succeeded, client_tls, crl_revoking, fail2ban_regex, free_port, metric, problem_lines,
    rss_kib, wait_for_port,
};

pub use crate::clients::{
    STATELESS, call, call_err, call_ok, call_stateless, http_client, http_client_builder,
    http_client_with_token, initialize, initialize_body, open_session, post, rpc_message,
    stateless_params, stateless_tool_call, team_ids_on,
};

/// An rmcp client session over mutual TLS.
pub type McpClient = RunningService<RoleClient, ()>;

/// The test CA and the token signing key.
pub struct Pki {
    /// Signs server and client certificates.
    pub ca: Authority,
    /// Signs tokens (its public half is in `jwks.json`).
    pub signer: SigningKey,
    /// Every token signed through [`Pki::token_with`], for the secrets sweep.
    minted: std::sync::Mutex<Vec<String>>,
}

/// The token audience every test gateway expects.
pub const AUDIENCE: &str = "https://gateway.test/mcp";
/// The token issuer every test gateway expects.
pub const ISSUER: &str = "test-issuer";

impl Pki {
    /// A token for `identity` with every permission and calendar, usable from loopback.
    pub fn token(&self, identity: &str) -> String {
        self.token_with(&TokenRequest::full_access(
            identity,
            &["127.0.0.0/8", "::1"],
            std::time::Duration::from_secs(3600),
        ))
    }

    /// A token for `request`, signed with the gateway's key.
    pub fn token_with(&self, request: &TokenRequest) -> String {
        let token = sign(&claims(request, ISSUER, AUDIENCE).unwrap(), &self.signer).unwrap();
        self.minted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(token.clone());
        token
    }

    /// The secrets of this PKI that no output may hold: the CA's key and
    /// every token signed so far (the key files are read from the folder).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = self
            .minted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        secrets.push(self.ca.issued.key_pem.clone());
        secrets
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let mut secrets = self.pki.secrets();
        if let Some(google) = &self.google {
            secrets.extend(google.secrets());
        }
        // The CalDAV servers' passwords, whichever gateway was given them.
        secrets.extend(
            crate::caldav_servers::USERS
                .iter()
                .map(|(_, password)| (*password).to_owned()),
        );
        crate::sweep::keep(self.dir.path(), self.gateway.metrics_addr, &secrets);
    }
}

/// The identity rule named in the config text.
fn config_identity(name: &str) -> IdentitySource {
    match name {
        "san_uri" => IdentitySource::SanUri,
        "subject_cn" => IdentitySource::SubjectCn,
        _ => IdentitySource::SanDns,
    }
}

/// Writes the server side of a PKI and the token keys into `dir`.
pub fn write_pki(dir: &Path) -> Pki {
    mcp_gateway::transport::tls::install_crypto_provider();
    let signing_pem = generate_ed25519_pem().unwrap();
    let signer = load_signing_key(&signing_pem).unwrap();
    std::fs::write(dir.join("signing.key"), &signing_pem).unwrap();
    std::fs::write(dir.join("jwks.json"), jwks(&[&signer]).to_string()).unwrap();
    let ca = Authority::generate("test CA").unwrap();
    let server = ca.issue_server(&["localhost", "127.0.0.1", "::1"]).unwrap();
    std::fs::write(dir.join("ca.pem"), &ca.issued.cert_pem).unwrap();
    std::fs::write(dir.join("server.pem"), &server.cert_pem).unwrap();
    std::fs::write(dir.join("server.key"), &server.key_pem).unwrap();
    Pki {
        ca,
        signer,
        minted: std::sync::Mutex::new(Vec::new()),
    }
}

impl TestGateway {
    /// Starts a gateway after `adjust` has written files and changed the setup.
    pub async fn start_custom(adjust: impl FnOnce(&Path, &Authority, &mut Setup)) -> TestGateway {
        let dir = TempDir::new().unwrap();
        let pki = write_pki(dir.path());
        let mut setup = Setup::default();
        adjust(dir.path(), &pki.ca, &mut setup);
        let config = Config::parse(&render(&setup), dir.path()).unwrap();
        let gateway = server::start(config).await.unwrap();
        let identity_source = config_identity(&setup.identity);
        TestGateway {
            dir,
            pki,
            identity_source,
            gateway,
            google: None,
            caldav: None,
        }
    }

    /// Starts a gateway; `setup` may write files and returns extra `[tls]` keys (e.g. CRLs).
    pub async fn start_with(setup: impl FnOnce(&Path, &Authority) -> String) -> TestGateway {
        TestGateway::start_custom(|dir, ca, s| s.tls = setup(dir, ca)).await
    }

    /// Starts a gateway with `extra_listen` added to the `[listen]` table.
    pub async fn start_with_listen(extra_listen: &str) -> TestGateway {
        TestGateway::start_custom(|_, _, s| s.listen = extra_listen.to_owned()).await
    }

    /// Starts a gateway with the default test config.
    pub async fn start() -> TestGateway {
        TestGateway::start_custom(|_, _, _| ()).await
    }

    /// The security log so far, each line without its timestamp and pid prefix.
    pub fn security_lines(&self) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.dir.path().join("security.log")).unwrap_or_default();
        text.lines()
            .map(|line| {
                let (_, rest) = line
                    .split_once("]: ")
                    .unwrap_or_else(|| panic!("malformed security line {line:?}"));
                rest.to_owned()
            })
            .collect()
    }

    /// Waits (up to 10 s) until the security log holds `line` (without prefix).
    pub async fn expect_security_line(&self, line: &str) {
        self.wait_for_security_line(|l| l == line, line).await;
    }

    /// Waits (up to 10 s) for a security line starting with `start`; returns it.
    pub async fn expect_security_line_starting(&self, start: &str) -> String {
        self.wait_for_security_line(|l| l.starts_with(start), start)
            .await
    }

    async fn wait_for_security_line(&self, wanted: impl Fn(&str) -> bool, what: &str) -> String {
        for _ in 0..200 {
            if let Some(line) = self.security_lines().into_iter().find(|l| wanted(l)) {
                return line;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "security log lacks {what:?}; it holds:\n{}",
            self.security_lines().join("\n")
        );
    }

    /// The folder holding the config, keys, database and logs.
    pub fn dir_path(&self) -> &Path {
        self.dir.path()
    }

    /// The audit log so far, each line without its timestamp and pid prefix.
    pub fn audit_lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
        text.lines()
            .map(|l| {
                l.split_once("]: ")
                    .map(|(_, rest)| rest.to_owned())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The path of the security log.
    pub fn security_log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("security.log")
    }

    /// A raw TLS connection presenting `cert`, offering only `alpn` (e.g. `http/1.1`).
    pub async fn tls_connect(
        &self,
        cert: &Issued,
        alpn: &[u8],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        self.tls_connect_from(None, b"", cert, alpn).await
    }

    /// A TLS client presenting `cert` and trusting the test CA, offering `alpn`.
    pub fn client_tls_config(&self, cert: &Issued, alpn: &[u8]) -> rustls::ClientConfig {
        client_tls(&self.pki.ca.issued.cert_pem, cert, alpn)
    }

    /// A raw TLS connection from `source` (any 127.0.0.x), sending `preamble`
    /// (a PROXY header, say) before the handshake.
    pub async fn tls_connect_from(
        &self,
        source: Option<IpAddr>,
        preamble: &[u8],
        cert: &Issued,
        alpn: &[u8],
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let config = std::sync::Arc::new(self.client_tls_config(cert, alpn));
        self.tls_connect_with(source, preamble, config).await
    }

    /// A raw TLS connection made with `config` (whose session store lets a
    /// later connection resume).
    pub async fn tls_connect_with(
        &self,
        source: Option<IpAddr>,
        preamble: &[u8],
        config: std::sync::Arc<rustls::ClientConfig>,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        use rustls::pki_types::ServerName;
        use tokio::io::AsyncWriteExt;
        let target = self.gateway.local_addr;
        let socket = if target.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if let Some(source) = source {
            socket.bind(std::net::SocketAddr::new(source, 0))?;
        }
        let mut tcp = socket.connect(target).await?;
        tcp.write_all(preamble).await?;
        let connector = tokio_rustls::TlsConnector::from(config);
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    }

    /// Sends an MCP initialize over HTTP/1.1 on `tls` and returns the status, or
    /// the error when the server closed the connection instead.
    pub async fn raw_initialize(
        tls: &mut TlsStream<TcpStream>,
        token: &str,
    ) -> std::io::Result<u16> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = initialize_body("2025-11-25");
        let request = format!(
            "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response).await?;
        let text = String::from_utf8_lossy(&response);
        let status = text.split(' ').nth(1).and_then(|code| code.parse().ok());
        status.ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))
    }

    /// The MCP endpoint URL.
    pub fn url(&self) -> String {
        match self.gateway.local_addr {
            std::net::SocketAddr::V4(a) => format!("https://127.0.0.1:{}/mcp", a.port()),
            std::net::SocketAddr::V6(a) => format!("https://[::1]:{}/mcp", a.port()),
        }
    }

    /// A good client certificate for `identity`.
    pub fn client_cert(&self, identity: &str) -> Issued {
        self.pki.ca.issue_client(identity).unwrap()
    }

    /// An HTTPS client trusting the test CA, presenting `cert` when given.
    /// With a certificate, the client also sends a full-access token for the
    /// certificate's identity, so tests of other stages pass the token check.
    pub fn http(&self, cert: Option<&Issued>) -> reqwest::Client {
        let token = cert.map(|c| self.pki.token(&self.identity_of(c)));
        http_client_with_token(&self.pki.ca.issued.cert_pem, cert, token.as_deref())
    }

    /// The identity the gateway will read from `cert`.
    pub fn identity_of(&self, cert: &Issued) -> String {
        self.try_identity_of(cert)
            .expect("the certificate names an identity")
    }

    /// The identity the gateway will read from `cert`, if it names one.
    pub fn try_identity_of(&self, cert: &Issued) -> Option<String> {
        let der =
            rustls::pki_types::pem::PemObject::from_pem_slice(cert.cert_pem.as_bytes()).ok()?;
        mcp_gateway::identity::identify(&der, self.identity_source)
            .ok()
            .map(|identity| identity.id().to_owned())
    }

    /// An rmcp client session for `identity`, with a full-access token.
    pub async fn mcp(&self, identity: &str) -> McpClient {
        self.mcp_with(identity, &self.pki.token(identity)).await
    }

    /// An rmcp client session for `identity` presenting `token`.
    pub async fn mcp_with(&self, identity: &str, token: &str) -> McpClient {
        let http = http_client(
            &self.pki.ca.issued.cert_pem,
            Some(&self.client_cert(identity)),
        );
        let config =
            StreamableHttpClientTransportConfig::with_uri(self.url()).auth_header(token.to_owned());
        let transport = StreamableHttpClientTransport::with_client(http, config);
        ().serve(transport)
            .await
            .expect("MCP initialize over mutual TLS")
    }
}

/// Polls `condition` for up to 20 s without blocking the gateway's runtime.
pub async fn wait_until(condition: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if condition() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    condition()
}
