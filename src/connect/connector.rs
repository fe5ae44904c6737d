//! How `connect` opens a connection to the gateway: TCP (hyper-util's
//! connector: name resolution, timeout, no Nagle), then TLS with this
//! machine's certificate, the stream's reads watched for a TLS alert.
//!
//! Why this connector exists: under TLS 1.3 the client's handshake ends
//! before the server has checked the client certificate, and a refused
//! certificate arrives as an alert on a later read — which an HTTP client
//! pool reports to the request only as "connection closed" (or, once the
//! server has closed, as a broken pipe, the alert never read). So a new
//! connection waits for the gateway's verdict first: one read, for as long
//! as the handshake took (the alert comes one round trip after it, and the
//! gateway sends no data of its own before the client's request), and
//! whatever that read brings is handed on unchanged. A later alert is still
//! noted ([`Alerts`]) for the request that then fails. The wait costs one
//! round trip per new connection; connections are pooled.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::connect::failure::{Failure, chain_text};

/// Time for the TLS handshake.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds of the wait for the gateway's verdict on the certificate.
const MIN_VERDICT_WAIT: Duration = Duration::from_millis(20);
const MAX_VERDICT_WAIT: Duration = Duration::from_secs(2);

/// The gateway's verdict on this machine's certificate: nothing within
/// `wait` (or its first bytes) means accepted; an alert or a close means
/// refused.
async fn verdict(
    stream: &mut TlsStream<TcpStream>,
    wait: Duration,
) -> Result<Bytes, ConnectFailed> {
    let mut buffer = vec![0u8; 16 * 1024];
    match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
        Err(_) => Ok(Bytes::new()),
        Ok(Ok(0)) => Err(ConnectFailed(Failure::CertificateRefused(
            "the connection closed right after the handshake".into(),
        ))),
        Ok(Ok(read)) => {
            buffer.truncate(read);
            Ok(Bytes::from(buffer))
        }
        Ok(Err(error)) => Err(ConnectFailed(match handshake_failure(&error) {
            Failure::ClosedBeforeTls => Failure::CertificateRefused(
                "the connection closed right after the handshake".into(),
            ),
            other => other,
        })),
    }
}

/// Why a connection could not be opened, as the [`Failure`] it means.
#[derive(Debug)]
pub struct ConnectFailed(pub Failure);

impl std::fmt::Display for ConnectFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.label())
    }
}

impl std::error::Error for ConnectFailed {}

/// The last TLS alert a connection of a [`Connector`] received after its
/// handshake: what a request that lost its connection then failed for.
#[derive(Clone, Default)]
pub struct Alerts(Arc<std::sync::Mutex<Option<Failure>>>);

impl Alerts {
    fn note(&self, failure: Failure) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
    }

    /// The alert received since the last call, if any.
    pub fn take(&self) -> Option<Failure> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Opens mutual-TLS connections to the gateway.
#[derive(Clone)]
pub struct Connector {
    /// TCP.
    tcp: HttpConnector,
    /// TLS with this machine's certificate.
    tls: tokio_rustls::TlsConnector,
    /// Where its connections note a TLS alert.
    alerts: Alerts,
}

impl Connector {
    /// A connector presenting what `tls` holds, connecting within `timeout`.
    pub fn new(tls: Arc<rustls::ClientConfig>, timeout: Duration, alerts: Alerts) -> Connector {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(timeout));
        tcp.set_nodelay(true);
        Connector {
            tcp,
            tls: tokio_rustls::TlsConnector::from(tls),
            alerts,
        }
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Watched>;
    type Error = ConnectFailed;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<Watched>, ConnectFailed>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ConnectFailed>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut tcp = self.tcp.clone();
        let tls = self.tls.clone();
        let alerts = self.alerts.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_owned();
            let name = ServerName::try_from(host.clone())
                .map_err(|e| ConnectFailed(Failure::Garbled(format!("host `{host}`: {e}"))))?;
            let started = std::time::Instant::now();
            let stream = tower_service::Service::call(&mut tcp, uri)
                .await
                .map_err(|e| ConnectFailed(Failure::Unreachable(chain_text(&e))))?
                .into_inner();
            let mut stream = tokio::time::timeout(TLS_TIMEOUT, tls.connect(name, stream))
                .await
                .map_err(|_| {
                    ConnectFailed(Failure::Unreachable("no TLS handshake within 10s".into()))
                })?
                .map_err(|e| ConnectFailed(handshake_failure(&e)))?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let verdict_wait = started.elapsed().clamp(MIN_VERDICT_WAIT, MAX_VERDICT_WAIT);
            let first = verdict(&mut stream, verdict_wait).await?;
            Ok(TokioIo::new(Watched {
                first,
                stream,
                h2,
                alerts,
            }))
        })
    }
}

/// What a failed handshake means.
fn handshake_failure(error: &io::Error) -> Failure {
    if let Some(tls) = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        return match tls {
            rustls::Error::AlertReceived(alert) => {
                Failure::CertificateRefused(format!("TLS alert {alert:?}"))
            }
            rustls::Error::InvalidCertificate(why) => Failure::GatewayUntrusted(format!("{why:?}")),
            other => Failure::Unreachable(format!("TLS: {other}")),
        };
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::BrokenPipe => Failure::ClosedBeforeTls,
        _ => Failure::Unreachable(format!("TLS: {error}")),
    }
}

/// A TLS stream whose reads are watched for an alert from the gateway.
pub struct Watched {
    /// Bytes the verdict read brought, handed on first.
    first: Bytes,
    /// The connection.
    stream: TlsStream<TcpStream>,
    /// Whether ALPN agreed on HTTP/2.
    h2: bool,
    /// Where an alert is noted.
    alerts: Alerts,
}

impl Connection for Watched {
    fn connected(&self) -> Connected {
        if self.h2 {
            Connected::new().negotiated_h2()
        } else {
            Connected::new()
        }
    }
}

impl Watched {
    /// Notes the alert a failed read carries.
    fn watch_read(&self, read: &Poll<io::Result<()>>) {
        if let Poll::Ready(Err(error)) = read
            && let failure @ Failure::CertificateRefused(_) = handshake_failure(error)
        {
            self.alerts.note(failure);
        }
    }

    /// A write failed (the gateway closed the connection): what it said
    /// before closing is still there to read, so one read looks for its
    /// alert. The connection is dead; what the read finds is not handed on.
    fn watch_write<T>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        written: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(_)) = &written {
            let mut scratch = [0u8; 512];
            let mut buf = ReadBuf::new(&mut scratch);
            let read = Pin::new(&mut self.stream).poll_read(cx, &mut buf);
            self.watch_read(&read);
        }
        written
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.first.has_remaining() {
            let n = self.first.remaining().min(buf.remaining());
            buf.put_slice(&self.first[..n]);
            self.first.advance(n);
            return Poll::Ready(Ok(()));
        }
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.watch_read(&read);
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.watch_write(cx, written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.stream).poll_flush(cx);
        self.watch_write(cx, flushed)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.watch_write(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
