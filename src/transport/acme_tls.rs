//! TLS-ALPN-01 (RFC 8737) on the MCP port, only while an ACME order is
//! pending. The ClientHello is read first; a handshake that offers nothing
//! but `acme-tls/1` is completed with the challenge certificate for the name
//! it asks for, without a client certificate, and then closed: no HTTP is
//! ever served on it. Every other handshake — a client offering `h2` or
//! `http/1.1`, with or without `acme-tls/1` beside them — takes the
//! ordinary configuration and its client-certificate requirement, exactly as
//! when no order is pending. The address checks ran before any of this.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::Acceptor;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;

use crate::transport::certificate::{ChallengeResolver, ServerCertificate};
use crate::transport::tls::provider;

/// The one ALPN protocol of a TLS-ALPN-01 validation.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// What a handshake read with the ClientHello first came to.
pub(crate) enum Outcome {
    /// An ordinary client, handshake done with the ordinary configuration.
    Client(Box<TlsStream<TcpStream>>),
    /// A validator was shown the challenge certificate for this name; closed.
    ChallengeAnswered(String),
}

/// Whether the ALPN list is exactly `acme-tls/1`.
fn only_acme_tls<'a>(mut offered: impl Iterator<Item = &'a [u8]>) -> bool {
    offered.next() == Some(ACME_TLS_ALPN) && offered.next().is_none()
}

/// The configuration a validator's handshake completes with: no client
/// certificate, `acme-tls/1` only, the challenge certificate for the name asked.
fn challenge_config(certificate: Arc<ServerCertificate>) -> std::io::Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(ChallengeResolver(certificate)));
    config.alpn_protocols = vec![ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The handshake while a challenge is pending: the ClientHello decides
/// which configuration completes it.
pub(crate) async fn handshake(
    stream: TcpStream,
    ordinary: Arc<ServerConfig>,
    certificate: Arc<ServerCertificate>,
) -> std::io::Result<Outcome> {
    let start = LazyConfigAcceptor::new(Acceptor::default(), stream).await?;
    let hello = start.client_hello();
    let validator = hello.alpn().is_some_and(only_acme_tls);
    let name = hello.server_name().unwrap_or_default().to_ascii_lowercase();
    if !validator {
        return Ok(Outcome::Client(Box::new(
            start.into_stream(ordinary).await?,
        )));
    }
    let mut stream = start.into_stream(challenge_config(certificate)?).await?;
    // The validator only looks at the certificate; close at once.
    let _ = stream.shutdown().await;
    Ok(Outcome::ChallengeAnswered(name))
}

#[cfg(test)]
mod tests {
    use super::only_acme_tls;

    #[test]
    fn only_a_lone_acme_tls_offer_is_a_validator() {
        let offer = |list: &[&'static [u8]]| only_acme_tls(list.iter().copied());
        assert!(offer(&[b"acme-tls/1"]));
        assert!(!offer(&[b"acme-tls/1", b"h2"]));
        assert!(!offer(&[b"h2", b"acme-tls/1"]));
        assert!(!offer(&[b"http/1.1"]));
        assert!(!offer(&[]));
    }
}
