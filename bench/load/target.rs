//! One server to load: the TLS client (with the client certificate), the
//! request, and the requests themselves.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::{Args, Mode};

/// What every connection needs to make requests.
pub struct Target {
    pub args: Args,
    pub tls: TlsConnector,
    pub body: Bytes,
    pub headers: Vec<(String, String)>,
}

/// Longest wait for one answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

impl Target {
    pub fn new(args: Args) -> anyhow::Result<Target> {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&args.ca)? {
            roots.add(ca?)?;
        }
        let chain = CertificateDer::pem_file_iter(&args.cert)?.collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_file(&args.key)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        if args.mode == Mode::Handshake && !args.resume {
            config.resumption = rustls::client::Resumption::disabled();
        }
        let headers = args
            .headers
            .iter()
            .map(|h| {
                let (name, value) = h
                    .split_once(':')
                    .ok_or_else(|| anyhow::anyhow!("--header {h:?}: expected `Name: value`"))?;
                Ok((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Target {
            body: Bytes::from(std::fs::read(&args.body)?),
            tls: TlsConnector::from(Arc::new(config)),
            headers,
            args,
        })
    }

    async fn tcp(&self) -> std::io::Result<TcpStream> {
        self.tcp_from(self.args.source).await
    }

    /// `--source` moved by `worker` in its last octet: each worker has its own
    /// address, so its own ports (a port in TIME_WAIT cannot be bound again).
    pub fn source_of(&self, worker: usize) -> Option<IpAddr> {
        match self.args.source? {
            IpAddr::V4(base) => {
                let [a, b, c, d] = base.octets();
                Some(IpAddr::from([a, b, c, d.wrapping_add(worker as u8)]))
            }
            v6 => Some(v6),
        }
    }

    pub async fn tcp_from(&self, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
        let socket = if self.args.connect.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(source) = source {
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let stream = socket.connect(self.args.connect).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn tls(&self) -> anyhow::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(self.args.host.clone())?;
        Ok(self.tls.connect(name, self.tcp().await?).await?)
    }

    /// A connection ready for requests, and whether its handshake resumed.
    pub async fn connect(&self) -> anyhow::Result<(Sender, bool)> {
        let tls = self.tls().await?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
        tokio::spawn(connection);
        Ok((sender, resumed))
    }

    /// Sends `body` with the configured headers (and `session`); returns the
    /// status and whether the answer is a JSON-RPC result.
    pub async fn send(
        &self,
        sender: &mut Sender,
        body: Bytes,
        session: Option<&str>,
    ) -> anyhow::Result<(u16, bool, Option<String>)> {
        let mut request = Request::post(self.args.path.as_str())
            .header("host", self.args.host.as_str())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(id) = session {
            request = request.header("mcp-session-id", id);
        }
        sender.ready().await?;
        // No answer within the bound counts as a failure, never a hang.
        let response = tokio::time::timeout(
            REQUEST_TIMEOUT,
            sender.send_request(request.body(Full::new(body))?),
        )
        .await??;
        let status = response.status().as_u16();
        let session = response
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = tokio::time::timeout(REQUEST_TIMEOUT, response.into_body().collect())
            .await??
            .to_bytes();
        let ok = status == 200 && memchr(&bytes, b"\"result\"");
        Ok((status, ok, session))
    }

    /// The request body with its JSON-RPC id (`"id":1` in the file) set to `id`.
    pub fn body_with_id(&self, id: u64) -> Bytes {
        let text = String::from_utf8_lossy(&self.body);
        Bytes::from(text.replacen("\"id\":1,", &format!("\"id\":{id},"), 1))
    }

    /// Initializes a session on `sender`; returns its id.
    pub async fn initialize(&self, sender: &mut Sender, version: &str) -> anyhow::Result<String> {
        let init = format!(
            r#"{{"jsonrpc":"2.0","id":0,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"bench","version":"1"}}}}}}"#
        );
        let (status, _, session) = self.send(sender, Bytes::from(init), None).await?;
        let session =
            session.ok_or_else(|| anyhow::anyhow!("initialize: status {status}, no session id"))?;
        let done = Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        let mut request = Request::post(self.args.path.as_str())
            .header("host", self.args.host.as_str())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", session.as_str())
            .header("mcp-protocol-version", version);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        sender.ready().await?;
        let response = sender.send_request(request.body(Full::new(done))?).await?;
        response.into_body().collect().await?;
        Ok(session)
    }
}

fn memchr(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
