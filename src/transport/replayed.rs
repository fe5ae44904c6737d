//! A stream whose first bytes were already read (to learn the HTTP version)
//! and are given back before the rest.
//!
//! Unlike hyper-util's `Rewind`, a read that returns the replayed bytes also
//! fills what is left of the caller's buffer with whatever the stream has
//! ready. hyper's HTTP/1.1 reader reserves 8 KiB before each read; handed
//! only the few replayed bytes first, it found a partial head, reserved again
//! and doubled its buffer to 16 KiB for the connection's whole life
//! (bench/README.md, "what an idle connection holds").

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// At most this many bytes are read before the version is known: the length
/// of the HTTP/2 connection preface.
pub(crate) const SNIFF_LEN: usize = 24;

/// `inner`, with `prefix[start..end]` read before it.
pub(crate) struct Replayed<S> {
    inner: S,
    prefix: [u8; SNIFF_LEN],
    start: usize,
    end: usize,
    /// An error the stream gave while a read was already returning replayed
    /// bytes: it is the next read's answer.
    deferred_error: Option<io::Error>,
}

impl<S> Replayed<S> {
    /// `inner` with `prefix` (at most [`SNIFF_LEN`] bytes) read first.
    pub(crate) fn new(inner: S, prefix: &[u8]) -> Replayed<S> {
        let mut bytes = [0u8; SNIFF_LEN];
        bytes[..prefix.len()].copy_from_slice(prefix);
        Replayed {
            inner,
            prefix: bytes,
            start: 0,
            end: prefix.len(),
            deferred_error: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Replayed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(error) = this.deferred_error.take() {
            return Poll::Ready(Err(error));
        }
        if this.start == this.end {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let replay = (this.end - this.start).min(buf.remaining());
        buf.put_slice(&this.prefix[this.start..this.start + replay]);
        this.start += replay;
        if this.start == this.end && buf.remaining() > 0 {
            // Whatever is ready now joins the replayed bytes; nothing ready
            // (or the end of the stream) is simply a shorter read.
            if let Poll::Ready(Err(error)) = Pin::new(&mut this.inner).poll_read(cx, buf) {
                this.deferred_error = Some(error);
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replayed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn the_prefix_comes_first_joined_by_what_is_ready() {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(b" / HTTP/1.1\r\n").await.unwrap();
        let mut stream = Replayed::new(server, b"GET");
        let mut buf = [0u8; 64];
        let n = stream.read(&mut buf).await.unwrap();
        // One read: the replayed bytes and the rest of the head together.
        assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n");
        client.write_all(b"Host: a\r\n").await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"Host: a\r\n");
    }

    #[tokio::test]
    async fn a_small_buffer_takes_the_prefix_in_parts() {
        let (_client, server) = tokio::io::duplex(64);
        let mut stream = Replayed::new(server, b"PRI * HTTP/2.0");
        let mut buf = [0u8; 4];
        let mut seen = Vec::new();
        while seen.len() < 14 {
            let n = stream.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        assert_eq!(seen, b"PRI * HTTP/2.0");
    }

    #[tokio::test]
    async fn the_end_of_the_stream_follows_the_prefix() {
        let (client, server) = tokio::io::duplex(64);
        drop(client);
        let mut stream = Replayed::new(server, b"GE");
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GE");
    }

    #[tokio::test]
    async fn writes_reach_the_stream() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = Replayed::new(server, b"");
        stream.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"HTTP/1.1 200 OK\r\n");
    }
}
