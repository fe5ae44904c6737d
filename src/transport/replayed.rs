//! A stream whose first bytes were already read (to learn the HTTP version,
//! or by a connection set aside while idle) and are given back before the
//! rest; it also tells whether everything written to it was flushed.
//!
//! Unlike hyper-util's `Rewind`, a read that returns the replayed bytes also
//! fills what is left of the caller's buffer with whatever the stream has
//! ready. hyper's HTTP/1.1 reader reserves 8 KiB before each read; handed
//! only the few replayed bytes first, it found a partial head, reserved again
//! and doubled its buffer to 16 KiB for the connection's whole life
//! (bench/README.md, "what an idle connection holds").

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `inner`, with `prefix` read before it.
pub(crate) struct Replayed<S> {
    inner: S,
    prefix: Bytes,
    /// An error the stream gave while a read was already returning replayed
    /// bytes: it is the next read's answer.
    deferred_error: Option<io::Error>,
    /// False from a write until the next flush succeeds: shared with whoever
    /// must know, without reaching into hyper, that nothing waits to be sent.
    flushed: Arc<AtomicBool>,
}

impl<S> Replayed<S> {
    /// `inner` with `prefix` read first.
    pub(crate) fn new(inner: S, prefix: Bytes) -> Replayed<S> {
        Replayed {
            inner,
            prefix,
            deferred_error: None,
            flushed: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Reads true while everything written so far has been flushed.
    pub(crate) fn flushed(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flushed)
    }

    /// The same stream with `unread` (bytes taken from it and given back)
    /// read before what is left of the prefix.
    pub(crate) fn give_back(mut self, unread: Bytes) -> Replayed<S> {
        self.prefix = match (unread.is_empty(), self.prefix.is_empty()) {
            (true, _) => self.prefix,
            (false, true) => unread,
            (false, false) => [unread, self.prefix].concat().into(),
        };
        self
    }

    /// Whether bytes are waiting to be replayed.
    pub(crate) fn has_prefix(&self) -> bool {
        !self.prefix.is_empty()
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
        if this.prefix.is_empty() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let replay = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..replay]);
        this.prefix.advance(replay);
        if this.prefix.is_empty() && buf.remaining() > 0 {
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
        let this = self.get_mut();
        this.flushed.store(false, Ordering::Relaxed);
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.flushed.store(false, Ordering::Relaxed);
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.flushed.store(true, Ordering::Relaxed);
        }
        flushed
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
        let mut stream = Replayed::new(server, Bytes::from_static(b"GET"));
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
        let mut stream = Replayed::new(server, Bytes::from_static(b"PRI * HTTP/2.0"));
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
        let mut stream = Replayed::new(server, Bytes::from_static(b"GE"));
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GE");
    }

    #[tokio::test]
    async fn bytes_given_back_come_before_the_rest_of_the_prefix() {
        let (client, server) = tokio::io::duplex(64);
        drop(client);
        let stream = Replayed::new(server, Bytes::from_static(b"Host"));
        let mut stream = stream.give_back(Bytes::from_static(b"GET / HTTP/1.1\r\n"));
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"GET / HTTP/1.1\r\nHost");
    }

    #[tokio::test]
    async fn writes_reach_the_stream_and_a_flush_is_seen() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut stream = Replayed::new(server, Bytes::new());
        let flushed = stream.flushed();
        stream.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        assert!(!flushed.load(Ordering::Relaxed), "written, not yet flushed");
        stream.flush().await.unwrap();
        assert!(flushed.load(Ordering::Relaxed));
        let mut buf = [0u8; 64];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"HTTP/1.1 200 OK\r\n");
    }
}
