//! Which HTTP version a connection speaks, and hyper's connection for it.
//!
//! The version ALPN agreed on decides; a client that offered no ALPN is
//! judged by its first bytes (HTTP/2's 24-byte preface, or anything else for
//! HTTP/1.1). A client that agreed on `http/1.1` and then sends the HTTP/2
//! preface is refused by the HTTP/1.1 parser, not served as HTTP/2: the
//! version is chosen once, by one party.
//!
//! hyper is built only once the first bytes have arrived, and those bytes
//! are handed back to it joined by everything already readable
//! ([`crate::transport::replayed`]): a connection that has done nothing but
//! its handshake holds no HTTP buffers, and hyper's first read holds the
//! whole first head. (hyper-util's `auto` builder made the same choice by
//! bytes alone and cost an idle connection 16 KiB of read buffer.) The same
//! wait serves an HTTP/1.1 connection set aside while idle
//! ([`crate::transport::serving`]).

use std::time::Duration;

use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::config::Listen;
use crate::transport::replayed::Replayed;
use crate::transport::serving::{RequestService, Serving};

/// At most this many bytes are read before the version is known: the length
/// of the HTTP/2 connection preface.
const SNIFF_LEN: usize = 24;

/// What an HTTP/2 client sends first.
const HTTP2_PREFACE: &[u8; SNIFF_LEN] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP version the gateway serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http1,
    Http2,
}

impl Protocol {
    /// The version ALPN agreed on, if it agreed on one.
    pub(crate) fn from_alpn(alpn: Option<&[u8]>) -> Option<Protocol> {
        match alpn? {
            b"h2" => Some(Protocol::Http2),
            b"http/1.1" => Some(Protocol::Http1),
            _ => None,
        }
    }
}

/// The first bytes a connection sent, and the version they are served with.
pub(crate) struct FirstBytes {
    pub(crate) bytes: Bytes,
    pub(crate) protocol: Protocol,
}

/// Reads until the version is known: one read when it is `known` (by ALPN,
/// or from an earlier request), otherwise until the bytes leave HTTP/2's
/// preface or complete it. `None`: the stream ended first.
pub(crate) async fn read_first_bytes<S: AsyncRead + Unpin>(
    stream: &mut S,
    known: Option<Protocol>,
) -> std::io::Result<Option<FirstBytes>> {
    let mut bytes = [0u8; SNIFF_LEN];
    let mut len = 0;
    loop {
        let read = stream.read(&mut bytes[len..]).await?;
        if read == 0 {
            return Ok(None);
        }
        len += read;
        let protocol = match known {
            Some(protocol) => Some(protocol),
            None if bytes[..len] != HTTP2_PREFACE[..len] => Some(Protocol::Http1),
            None if len == SNIFF_LEN => Some(Protocol::Http2),
            None => None,
        };
        if let Some(protocol) = protocol {
            return Ok(Some(FirstBytes {
                bytes: Bytes::copy_from_slice(&bytes[..len]),
                protocol,
            }));
        }
    }
}

/// The settings of both versions, built once from `[listen]`.
pub(crate) struct HttpBuilders {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
}

impl HttpBuilders {
    pub(crate) fn new(listen: &Listen) -> HttpBuilders {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(listen.header_read_timeout)
            .max_buf_size(listen.max_header_list_bytes as usize);
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            .max_concurrent_streams(listen.max_concurrent_streams)
            // h2 refuses a larger list itself, with a 431 the gateway never hears
            // of; up to twice the limit the request reaches crate::http, which
            // refuses it with its line.
            .max_header_list_size(listen.max_header_list_bytes.saturating_mul(2))
            .max_pending_accept_reset_streams(Some(32))
            .max_local_error_reset_streams(Some(32))
            // PINGs detect dead peers; they never count as activity (see crate::transport::connection).
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(10));
        HttpBuilders { http1, http2 }
    }

    /// Serves `stream` (whose bytes already read it replays first) in
    /// `protocol` with `service`.
    pub(crate) fn serve<S>(
        &self,
        stream: Replayed<S>,
        protocol: Protocol,
        service: RequestService,
    ) -> Serving<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(stream);
        match protocol {
            Protocol::Http1 => Serving::Http1(Box::new(self.http1.serve_connection(io, service))),
            Protocol::Http2 => Serving::Http2(Box::pin(self.http2.serve_connection(io, service))),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn sniffed(sent: &[u8], agreed: Option<Protocol>) -> Option<(Protocol, Vec<u8>)> {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(sent).await.unwrap();
        drop(client);
        let first = read_first_bytes(&mut server, agreed).await.unwrap()?;
        Some((first.protocol, first.bytes.to_vec()))
    }

    #[tokio::test]
    async fn alpn_decides_whatever_the_bytes() {
        let (protocol, _) = sniffed(HTTP2_PREFACE, Some(Protocol::Http1)).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        let (protocol, _) = sniffed(b"GET / HTTP/1.1\r\n", Some(Protocol::Http2))
            .await
            .unwrap();
        assert_eq!(protocol, Protocol::Http2);
    }

    #[tokio::test]
    async fn without_alpn_the_preface_decides() {
        let (protocol, bytes) = sniffed(HTTP2_PREFACE, None).await.unwrap();
        assert_eq!(
            (protocol, bytes.as_slice()),
            (Protocol::Http2, &HTTP2_PREFACE[..])
        );
        let (protocol, _) = sniffed(b"POST /mcp HTTP/1.1\r\n", None).await.unwrap();
        assert_eq!(protocol, Protocol::Http1);
        // A head that starts like the preface and then leaves it.
        let (protocol, bytes) = sniffed(b"PRI * HTTP/1.1\r\n", None).await.unwrap();
        assert_eq!(
            (protocol, bytes.as_slice()),
            (Protocol::Http1, &b"PRI * HTTP/1.1\r\n"[..])
        );
    }

    #[tokio::test]
    async fn a_stream_that_ends_first_has_no_version() {
        assert!(sniffed(b"", None).await.is_none());
        assert!(sniffed(b"PRI * HTTP/2.0", None).await.is_none());
    }

    #[test]
    fn alpn_names_are_read_exactly() {
        assert_eq!(Protocol::from_alpn(Some(b"h2")), Some(Protocol::Http2));
        assert_eq!(
            Protocol::from_alpn(Some(b"http/1.1")),
            Some(Protocol::Http1)
        );
        assert_eq!(Protocol::from_alpn(Some(b"h2c")), None);
        assert_eq!(Protocol::from_alpn(None), None);
    }
}
