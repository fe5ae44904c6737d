//! The metrics listener (`[metrics]`): `GET /metrics` for Prometheus and
//! `GET /ready` for load balancers and the `healthcheck` command, apart from
//! the MCP port. Like everything a client can make the gateway hold, its
//! connections are bounded: peers outside `metrics.allow` are refused at
//! accept, at most `metrics.max_connections` are served at once (more are
//! refused at accept, each with a line), a TLS handshake gets 5 s, a request
//! head 10 s, and a connection 30 s in all. Without the cap, idle connections
//! from any local user once used up the process's file descriptors, and the
//! MCP port then failed every accept.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::denial::{Denial, Reason};
use crate::observe::readiness::Readiness;
use crate::observe::seclog::SecurityLog;
use crate::policy::address::ip::{canonical, contains};
use crate::telemetry::{UPKEEP, handle};

/// Longest a scraper's TLS handshake may take.
const HANDSHAKE_TIME: Duration = Duration::from_secs(5);
/// Longest one connection is served, keep-alive included.
const CONNECTION_TIME: Duration = Duration::from_secs(30);

/// Who may scrape, and how many at once.
pub struct MetricsAccess {
    /// Scrapers allowed to connect (checked before anything is read).
    pub allow: Vec<IpNet>,
    /// Connections served at once; more are refused at accept.
    pub max_connections: usize,
    /// When set, scrapers present a client certificate.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

/// Serves `GET /metrics` and `GET /ready` (200, or 503 saying why not) on
/// `listener` to peers in `allow` until `shutdown`; anyone else is refused at
/// accept with a security line.
pub async fn serve(
    listener: TcpListener,
    access: MetricsAccess,
    seclog: Arc<SecurityLog>,
    readiness: Arc<Readiness>,
    shutdown: CancellationToken,
) {
    let MetricsAccess {
        allow,
        max_connections,
        tls,
    } = access;
    let places = Arc::new(Semaphore::new(max_connections));
    let handle = handle();
    let mut upkeep = tokio::time::interval(UPKEEP);
    loop {
        let (stream, peer): (_, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = upkeep.tick() => {
                handle.run_upkeep();
                continue;
            }
            () = shutdown.cancelled() => return,
        };
        let ip = canonical(peer.ip());
        if !contains(&allow, ip) {
            let refusal = Denial::new(Reason::IpNotAllowed).with_detail("metrics listener");
            seclog.deny(&refusal, ip, None);
            continue;
        }
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            let refusal = Denial::new(Reason::MetricsBusy)
                .with_detail(format!("{max_connections} metrics connections open"));
            seclog.deny(&refusal, ip, None);
            continue;
        };
        let handle = handle.clone();
        let (tls, seclog) = (tls.clone(), Arc::clone(&seclog));
        let readiness = Arc::clone(&readiness);
        tokio::spawn(async move {
            let _place = place;
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let handle = handle.clone();
                let readiness = Arc::clone(&readiness);
                async move {
                    let response = match request.uri().path() {
                        "/metrics" => Response::builder()
                            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
                            .body(Full::new(Bytes::from(handle.render()))),
                        "/ready" => match readiness.check() {
                            Ok(()) => {
                                Response::builder().body(Full::new(Bytes::from_static(b"ready\n")))
                            }
                            Err(why) => Response::builder()
                                .status(StatusCode::SERVICE_UNAVAILABLE)
                                .body(Full::new(Bytes::from(format!("not ready: {why}\n")))),
                        },
                        _ => Response::builder()
                            .status(StatusCode::NOT_FOUND)
                            .body(Full::new(Bytes::from_static(
                                b"only /metrics and /ready here\n",
                            ))),
                    };
                    response.map_err(std::io::Error::other)
                }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let mut http = http;
            http.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10));
            let served = async {
                match tls {
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                    Some(acceptor) => {
                        match tokio::time::timeout(HANDSHAKE_TIME, acceptor.accept(stream)).await {
                            Ok(Ok(stream)) => {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                            Ok(Err(e)) => {
                                seclog.deny(&crate::transport::tls::handshake_denial(&e), ip, None)
                            }
                            Err(_) => seclog.deny(
                                &Denial::new(Reason::HandshakeTimeout)
                                    .with_detail("metrics listener"),
                                ip,
                                None,
                            ),
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(CONNECTION_TIME, served).await;
        });
    }
}
