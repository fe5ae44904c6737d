//! TLS clients for the certificate rows: one that presents any chain with
//! any key (even a key that is not the certificate's), and a stateless call
//! over the connection it makes.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ledger::Seen;
use super::{VERSION, tool_call};
use crate::common::TestGateway;

/// The test CA as the only root.
pub fn roots(gw: &TestGateway) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(gw.pki.ca.issued.cert_pem.as_bytes()).unwrap())
        .unwrap();
    roots
}

/// A client presenting `chain` (PEM certificates, leaf first) with `key_pem`,
/// whether or not the two belong together (rustls's own builder would refuse
/// a key that is not the certificate's; a resolver does not check).
pub fn presenting(gw: &TestGateway, chain: &str, key_pem: &str) -> rustls::ClientConfig {
    let certs = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::crypto::aws_lc_rs::default_provider()
        .key_provider
        .load_private_key(PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap())
        .unwrap();
    let presented = Arc::new(rustls::sign::CertifiedKey::new(certs, key));
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots(gw))
        .with_client_cert_resolver(Arc::new(Always(presented)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Presents the same certificate whatever the server asks for.
#[derive(Debug)]
struct Always(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for Always {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A stateless call on a connection made with `config`, with a token for `identity`.
pub async fn attempt(gw: &TestGateway, config: rustls::ClientConfig, identity: &str) -> Seen {
    attempt_from(gw, None, b"", config, identity).await
}

/// The same from `source`, sending `preamble` (a PROXY header) before the handshake.
pub async fn attempt_from(
    gw: &TestGateway,
    source: Option<std::net::IpAddr>,
    preamble: &[u8],
    config: rustls::ClientConfig,
    identity: &str,
) -> Seen {
    let Ok(mut tls) = gw
        .tls_connect_with(source, preamble, Arc::new(config))
        .await
    else {
        return Seen::NoAnswer;
    };
    let body = tool_call(&json!("get_current_time"), json!({})).to_string();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: {VERSION}\r\nMcp-Method: tools/call\r\nMcp-Name: get_current_time\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        gw.pki.token(identity),
        body.len()
    );
    if tls.write_all(request.as_bytes()).await.is_err() {
        return Seen::NoAnswer;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut answer)).await;
    if !matches!(read, Ok(Ok(_))) && answer.is_empty() {
        return Seen::NoAnswer;
    }
    match String::from_utf8_lossy(&answer).split(' ').nth(1) {
        Some("200") => Seen::Ok,
        Some(code) => code.parse().map_or(Seen::NoAnswer, Seen::Status),
        None => Seen::NoAnswer,
    }
}
