//! The CalDAV server's HTTP side: one client per account — rustls with the
//! system's roots or the operator's CA, Basic authentication, a deadline per
//! request, answers bounded in size — and the WebDAV methods the backend
//! sends (RFC 4918, RFC 4791). Requests stay on the account's server: an
//! href that names another origin is refused, never followed.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HeaderValue, LOCATION};
use http::{HeaderName, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::ConfigBuilderExt;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::calendar::caldav::multistatus::{self, Resource};
use crate::calendar::retry::{MAX_BACKOFF, RetryPolicy, backoff, retry_after};
use crate::telemetry::Backend;

/// Largest answer read from the server; a bigger one is refused, not kept.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// Most redirections followed for one request.
pub const MAX_REDIRECTS: u32 = 3;

/// Where and as whom one account reaches its server.
pub struct DavSettings {
    /// The server's root, or any URL on it (`https://dav.example.org/`).
    pub url: Uri,
    /// Basic authentication, when the server asks for it.
    pub credentials: Option<(String, String)>,
    /// Roots to trust instead of the system's (a self-hosted server's CA).
    pub roots: Option<Vec<CertificateDer<'static>>>,
    /// A certificate (chain) and key to present, when the server asks for one.
    pub identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    /// Limit on each exchange (answer included), and how failed ones are
    /// tried again.
    pub policy: RetryPolicy,
}

/// An answer: its status, its `ETag`, and its body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The entity tag, when the server sent one.
    pub etag: Option<String>,
    /// The pause a `Retry-After` asked for.
    pub retry_after: Option<Duration>,
    /// Where a redirection points (`Location`).
    pub location: Option<String>,
    /// The body, at most [`MAX_ANSWER_BYTES`].
    pub body: Bytes,
}

/// Why an exchange with the server failed; no variant holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DavError {
    /// The server could not be reached (connection refused, TLS, DNS).
    #[error("the CalDAV server cannot be reached: {0}")]
    Unreachable(String),
    /// No complete answer within the deadline.
    #[error("the CalDAV server did not answer in time")]
    Timeout,
    /// An answer larger than [`MAX_ANSWER_BYTES`].
    #[error("the CalDAV server's answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    /// An answer the backend cannot use (not a multistatus, an href on
    /// another server...).
    #[error("the CalDAV server's answer is unusable: {0}")]
    Garbage(String),
}

/// One account's connection to its server.
pub struct DavClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// The server's scheme and authority, every request's origin.
    origin: Uri,
    authorization: Option<HeaderValue>,
    policy: RetryPolicy,
}

impl DavClient {
    /// A client for `settings`; fails when the roots cannot be loaded.
    pub fn new(settings: DavSettings) -> Result<DavClient, DavError> {
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let tls = |e: rustls::Error| DavError::Unreachable(format!("TLS settings: {e}"));
        let builder = rustls::ClientConfig::builder_with_provider(provider.into())
            .with_safe_default_protocol_versions()
            .map_err(tls)?;
        let builder = match settings.roots {
            Some(roots) => {
                let mut store = RootCertStore::empty();
                for root in roots {
                    store
                        .add(root)
                        .map_err(|e| DavError::Unreachable(format!("the configured CA: {e}")))?;
                }
                builder.with_root_certificates(store)
            }
            None => builder.with_native_roots().map_err(|e| {
                DavError::Unreachable(format!("cannot load the system CA certificates: {e}"))
            })?,
        };
        let config = match settings.identity {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(tls)?,
            None => builder.with_no_client_auth(),
        };
        let builder = HttpsConnectorBuilder::new().with_tls_config(config);
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = builder.https_or_http().enable_http1().wrap_connector(http);
        let origin = origin_of(&settings.url)?;
        let authorization = settings.credentials.map(|(user, password)| {
            let mut value = HeaderValue::try_from(format!(
                "Basic {}",
                STANDARD.encode(format!("{user}:{password}"))
            ))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
            value.set_sensitive(true);
            value
        });
        Ok(DavClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            origin,
            authorization,
            policy: settings.policy,
        })
    }

    /// `href` (a path, or a URL on this server) as a URL on this server.
    pub fn resolve(&self, href: &str) -> Result<Uri, DavError> {
        let target: Uri = href
            .parse()
            .map_err(|_| DavError::Garbage(format!("`{}` is not an href", bounded(href))))?;
        match (target.scheme(), target.authority()) {
            (None, None) if href.starts_with('/') => {
                let mut parts = self.origin.clone().into_parts();
                parts.path_and_query = target.path_and_query().cloned();
                Uri::from_parts(parts).map_err(|e| DavError::Garbage(e.to_string()))
            }
            (Some(scheme), Some(authority))
                if Some(scheme) == self.origin.scheme()
                    && Some(authority) == self.origin.authority() =>
            {
                Ok(target)
            }
            _ => Err(DavError::Garbage(format!(
                "`{}` is not on the account's server",
                bounded(href)
            ))),
        }
    }

    /// Sends `method` to `href` with `headers` and `body`; the answer, read
    /// whole within the deadline and the size bound. What may pass is tried
    /// again (a lost connection, a timeout, a 500, 502, 503 or 504) with backoff, within the policy's attempts and
    /// deadline; the last answer or error is returned.
    pub async fn send(
        &self,
        method: Method,
        href: &str,
        headers: &[(HeaderName, &str)],
        body: String,
    ) -> Result<Answer, DavError> {
        let url = self.resolve(href)?;
        let body = Bytes::from(body);
        let started = Instant::now();
        let mut tries = 0u32;
        loop {
            tries += 1;
            let outcome = self.attempt(&method, &url, headers, body.clone()).await;
            let Some(wait) = retryable(&outcome) else {
                crate::telemetry::backend_call(Backend::CalDav, started.elapsed());
                return outcome;
            };
            let delay = backoff(self.policy.base_delay, tries).max(wait);
            if tries >= self.policy.max_attempts || started.elapsed() + delay > self.policy.deadline
            {
                crate::telemetry::backend_call(Backend::CalDav, started.elapsed());
                return outcome;
            }
            crate::telemetry::backend_retry();
            tokio::time::sleep(delay).await;
        }
    }

    /// One exchange, under the per-attempt timeout.
    async fn attempt(
        &self,
        method: &Method,
        url: &Uri,
        headers: &[(HeaderName, &str)],
        body: Bytes,
    ) -> Result<Answer, DavError> {
        let mut request = Request::builder().method(method.clone()).uri(url.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| DavError::Garbage(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| DavError::Unreachable(error_chain(&e)))?;
            let status = response.status();
            let etag = response
                .headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let retry_after = retry_after(response.headers(), chrono::Utc::now());
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        DavError::TooLarge
                    } else {
                        DavError::Unreachable(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status,
                etag,
                retry_after,
                location,
                body,
            })
        };
        tokio::time::timeout(self.policy.timeout, exchange)
            .await
            .map_err(|_| DavError::Timeout)?
    }

    /// A PROPFIND of `props` (the inside of `<prop>`, with `D:` for `DAV:`
    /// and `C:` for CalDAV) on `href` at `depth` 0 or 1; its resources, or
    /// the status it was refused with.
    pub async fn propfind(
        &self,
        href: &str,
        depth: u8,
        props: &str,
    ) -> Result<Result<Vec<Resource>, StatusCode>, DavError> {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="http://apple.com/ns/ical/"><D:prop>{props}</D:prop></D:propfind>"#
        );
        let depth = depth.min(1).to_string();
        let propfind = Method::from_bytes(b"PROPFIND").expect("a valid method");
        self.multistatus(propfind, href, &depth, body).await
    }

    /// Sends an XML request whose answer is a multistatus (PROPFIND,
    /// REPORT) at `depth`; its resources, or the status it was refused with.
    /// A redirection on the same server is followed (a `.well-known/caldav`
    /// URL points to the CalDAV root, RFC 6764), at most
    /// [`MAX_REDIRECTS`] times; one to another server is refused, naming it,
    /// since the account's password would go there.
    pub async fn multistatus(
        &self,
        method: Method,
        href: &str,
        depth: &str,
        body: String,
    ) -> Result<Result<Vec<Resource>, StatusCode>, DavError> {
        let headers = [
            (HeaderName::from_static("depth"), depth),
            (CONTENT_TYPE, "application/xml; charset=utf-8"),
        ];
        let mut target = href.to_owned();
        let mut hops = 0;
        let answer = loop {
            let answer = self
                .send(method.clone(), &target, &headers, body.clone())
                .await?;
            match answer.location {
                Some(location) if answer.status.is_redirection() && hops < MAX_REDIRECTS => {
                    let next = self.resolve(&location).map_err(|_| {
                        DavError::Garbage(format!(
                            "the server sent the request to `{}`, another server; set the account's url to that server",
                            bounded(&location)
                        ))
                    })?;
                    target = next.to_string();
                    hops += 1;
                }
                _ => break answer,
            }
        };
        if answer.status != StatusCode::MULTI_STATUS {
            return Ok(Err(answer.status));
        }
        let text = std::str::from_utf8(&answer.body)
            .map_err(|_| DavError::Garbage("a multistatus that is not UTF-8".to_owned()))?;
        multistatus::parse(text)
            .map(Ok)
            .map_err(|e| DavError::Garbage(e.to_string()))
    }
}

/// Whether an outcome may pass when tried again, and the least pause before
/// it: a connection that failed or timed out, or a 500, 502, 503 or 504 —
/// never a 4xx, nor a 507 (the server is full until someone frees space).
fn retryable(outcome: &Result<Answer, DavError>) -> Option<Duration> {
    match outcome {
        Err(DavError::Unreachable(_) | DavError::Timeout) => Some(Duration::ZERO),
        Ok(answer) if matches!(answer.status.as_u16(), 500 | 502 | 503 | 504) => {
            Some(answer.retry_after.unwrap_or_default().min(MAX_BACKOFF))
        }
        _ => None,
    }
}

/// The scheme and authority of `url`, which must have both.
fn origin_of(url: &Uri) -> Result<Uri, DavError> {
    let (Some(scheme), Some(authority)) = (url.scheme(), url.authority()) else {
        return Err(DavError::Garbage(format!("`{url}` is not an absolute URL")));
    };
    Uri::builder()
        .scheme(scheme.clone())
        .authority(authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|e| DavError::Garbage(e.to_string()))
}

/// An error with its causes, for a message that says what went wrong
/// (hyper's own says only "client error (Connect)").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    bounded(&text)
}

/// At most 200 characters of server- or config-supplied text for a message.
fn bounded(text: &str) -> String {
    text.chars().take(200).collect()
}

#[cfg(test)]
mod tests;
