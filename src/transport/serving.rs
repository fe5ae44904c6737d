//! hyper's connection for one client, and an HTTP/1.1 connection set aside
//! while it is idle.
//!
//! hyper keeps an 8 KiB read and an 8 KiB write buffer for as long as an
//! HTTP/1.1 connection lives, used or not. A keep-alive client that has gone
//! quiet (`PARK_AFTER`) is taken out of hyper (`Serving::park`): the TLS
//! stream, any bytes hyper had read but not used, and the service are kept;
//! hyper's connection and its buffers are freed, and built again when the
//! next request's bytes arrive. It is only done when hyper has nothing left
//! to do: no request in flight, its answer flushed, and (by how hyper works)
//! no request body left to read. HTTP/2 connections stay in hyper: their
//! state is h2's, with PINGs and flow control of its own.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::http::activity::{InFlight, Tracked};
use crate::http::{App, ConnectionInfo, HttpResponse};
use crate::transport::replayed::Replayed;

/// How long an HTTP/1.1 connection stays quiet before it is taken out of
/// hyper. Long enough that a busy keep-alive client never pays for hyper
/// being built again; short against any idle timeout.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// Hands each request of one connection to [`App`], counting it in flight
/// until its response body has been sent.
pub(crate) struct RequestService {
    app: Arc<App>,
    info: ConnectionInfo,
}

impl RequestService {
    pub(crate) fn new(app: Arc<App>, info: ConnectionInfo) -> RequestService {
        RequestService { app, info }
    }
}

/// A request's answer on its way: the request's own future, boxed (hyper
/// keeps a slot the size of the service's future for the whole connection;
/// the request's large one lives only while it runs), and the guard that
/// counts it in flight, handed to the response body when it is ready.
pub(crate) struct Answering {
    answer: Pin<Box<dyn Future<Output = Result<HttpResponse, Infallible>> + Send>>,
    in_flight: Option<InFlight>,
}

impl Future for Answering {
    type Output = Result<HttpResponse, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = std::task::ready!(self.answer.as_mut().poll(cx))?;
        let in_flight = self.in_flight.take();
        Poll::Ready(Ok(response.map(|body| Tracked::boxed(body, in_flight))))
    }
}

impl hyper::service::Service<Request<Incoming>> for RequestService {
    type Response = HttpResponse;
    type Error = Infallible;
    type Future = Answering;

    fn call(&self, request: Request<Incoming>) -> Answering {
        let in_flight = self.info.activity.begin();
        Answering {
            answer: Box::pin(Arc::clone(&self.app).handle(request, self.info.clone())),
            in_flight: Some(in_flight),
        }
    }
}

/// The stream as hyper reads and writes it.
type Io<S> = TokioIo<Replayed<S>>;

/// A connection being served by hyper.
pub(crate) enum Serving<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    /// Boxed but not pinned (it is `Unpin`): `into_parts` takes it by value.
    Http1(Box<http1::Connection<Io<S>, RequestService>>),
    Http2(Pin<Box<http2::Connection<Io<S>, RequestService, TokioExecutor>>>),
}

/// An HTTP/1.1 connection taken out of hyper while idle.
pub(crate) struct Parked<S> {
    /// The stream, replaying first whatever hyper had read and not used.
    pub(crate) stream: Replayed<S>,
    pub(crate) service: RequestService,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Serving<S> {
    /// Serves until the connection ends: how hyper saw it end.
    pub(crate) fn poll_serve(&mut self, cx: &mut Context<'_>) -> Poll<hyper::Result<()>> {
        match self {
            Serving::Http1(connection) => Pin::new(&mut **connection).poll(cx),
            Serving::Http2(connection) => connection.as_mut().poll(cx),
        }
    }

    /// Stops taking requests; those in flight finish (HTTP/2: a GOAWAY).
    pub(crate) fn graceful_shutdown(&mut self) {
        match self {
            Serving::Http1(connection) => Pin::new(&mut **connection).graceful_shutdown(),
            Serving::Http2(connection) => connection.as_mut().graceful_shutdown(),
        }
    }

    /// Whether this is HTTP/1.1, the version that can be parked.
    pub(crate) fn is_http1(&self) -> bool {
        matches!(self, Serving::Http1(_))
    }

    /// Takes an idle HTTP/1.1 connection out of hyper. The caller knows that
    /// no request is in flight and that all hyper wrote was flushed (a
    /// response still in hyper's buffer would be lost).
    ///
    /// With no request in flight, hyper's HTTP/1.1 connection is waiting for
    /// a request head: a request body the service did not read was drained
    /// before the answer ended, or reading was closed, in which case the
    /// connection has ended already. Bytes it read of a next head come back
    /// in `read_buf` and are replayed first.
    pub(crate) fn park(self) -> Result<Parked<S>, Serving<S>> {
        match self {
            Serving::Http1(connection) => {
                let parts = connection.into_parts();
                crate::telemetry::connection_parked();
                Ok(Parked {
                    stream: parts.io.into_inner().give_back(parts.read_buf),
                    service: parts.service,
                })
            }
            http2 => Err(http2),
        }
    }
}
