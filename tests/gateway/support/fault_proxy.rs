//! A proxy in front of a real CalDAV server that misbehaves on demand: slow
//! answers, a status of its choosing (503, 507...), a body that is not XML.
//! Everything else passes through unchanged, so the gateway's CalDAV backend
//! meets each fault with a real server behind it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// What the proxy does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Waits this long, then passes the request on.
    Slow(Duration),
    /// Answers this status with an empty body (the server never sees it).
    Status(u16),
    /// Answers 207 with a body that is not XML.
    NotXml,
}

#[derive(Default)]
struct Rules {
    /// Method → the fault and how many more requests it hits.
    faults: BTreeMap<String, (Fault, usize)>,
    /// Requests seen, by method.
    seen: BTreeMap<String, usize>,
}

/// The proxy; it stops with the test's runtime.
pub struct FaultProxy {
    /// Where it listens (`http://127.0.0.1:port`).
    pub url: String,
    rules: Arc<Mutex<Rules>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://127.0.0.1:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rules = Arc::new(Mutex::new(Rules::default()));
        let (shared, upstream) = (Arc::clone(&rules), upstream.to_owned());
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (rules, upstream, client) =
                    (Arc::clone(&shared), upstream.clone(), client.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (rules, upstream, client) =
                            (Arc::clone(&rules), upstream.clone(), client.clone());
                        async move { relay(&rules, &upstream, &client, request).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy { url, rules }
    }

    /// Makes the next `times` requests with `method` meet `fault`.
    pub fn inject(&self, method: &str, fault: Fault, times: usize) {
        self.rules
            .lock()
            .unwrap()
            .faults
            .insert(method.to_owned(), (fault, times));
    }

    /// How many requests with `method` the proxy has seen.
    pub fn seen(&self, method: &str) -> usize {
        self.rules
            .lock()
            .unwrap()
            .seen
            .get(method)
            .copied()
            .unwrap_or(0)
    }
}

async fn relay(
    rules: &Mutex<Rules>,
    upstream: &str,
    client: &reqwest::Client,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let method = request.method().as_str().to_owned();
    let fault = {
        let mut rules = rules.lock().unwrap();
        *rules.seen.entry(method.clone()).or_default() += 1;
        match rules.faults.get_mut(&method) {
            Some((fault, times)) if *times > 0 => {
                *times -= 1;
                Some(*fault)
            }
            _ => None,
        }
    };
    let answer = |status: u16, body: &'static str| {
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/xml")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap())
    };
    match fault {
        Some(Fault::Status(status)) => return answer(status, ""),
        Some(Fault::NotXml) => return answer(207, "<html>this is <b>not a multistatus"),
        Some(Fault::Slow(pause)) => tokio::time::sleep(pause).await,
        None => {}
    }
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut forwarded = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{upstream}{path}"),
    );
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            forwarded = forwarded.header(name.as_str(), value.as_bytes());
        }
    }
    let reply = forwarded
        .body(body)
        .send()
        .await
        .map_err(std::io::Error::other)?;
    let mut response = Response::builder().status(reply.status().as_u16());
    for (name, value) in reply.headers() {
        if name != "transfer-encoding" && name != "content-length" && name != "connection" {
            response = response.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = reply.bytes().await.map_err(std::io::Error::other)?;
    Ok(response.body(Full::new(bytes)).unwrap())
}
