//! The HTTPS side of `connect`: one pooled mutual-TLS client (HTTP/2 when
//! the gateway offers it, so concurrent calls share one connection), a POST
//! of one JSON-RPC message with the bearer token and the MCP headers, and
//! the answer read as the messages it carries — one JSON body, or the
//! events of a stream, each handed on as it arrives.

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::connect::connector::{Alerts, Connector};
use crate::connect::failure::{Failure, classify, refusal};

/// Longest answer read (one JSON body, or one event of a stream).
pub const MAX_ANSWER: usize = 16 * 1024 * 1024;
/// Time to connect (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for the answer's head, and between two parts of its body: a tool
/// call against a slow calendar may take a while, a silent gateway may not.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// The gateway, as `connect` talks to it.
pub struct Upstream {
    /// The pooled mutual-TLS client.
    client: Client<Connector, Full<Bytes>>,
    /// The MCP endpoint.
    mcp: Uri,
    /// The renewal endpoint, on the same origin.
    renewal: Uri,
    /// TLS alerts its connections received: why a connection was lost.
    alerts: Alerts,
}

/// An answer that is not a refusal: its status, headers and body.
pub struct Answer {
    /// 200 or 202.
    pub status: StatusCode,
    /// Its headers (`Mcp-Session-Id`, content type).
    pub headers: HeaderMap,
    /// The body, unread.
    body: Incoming,
}

impl Upstream {
    /// A client for the gateway at `url` with `tls`.
    pub fn new(url: &str, tls: std::sync::Arc<rustls::ClientConfig>) -> Result<Upstream, String> {
        let mcp: Uri = url.parse().map_err(|e| format!("URL `{url}`: {e}"))?;
        if mcp.scheme_str() != Some("https") || mcp.host().is_none() {
            return Err(format!("URL `{url}`: must be https://host[:port]/path"));
        }
        let authority = mcp.authority().map(|a| a.as_str()).unwrap_or_default();
        let renewal: Uri = format!("https://{authority}{}", crate::config::RENEWAL_PATH)
            .parse()
            .map_err(|e| format!("URL `{url}`: {e}"))?;
        let alerts = Alerts::default();
        let connector = Connector::new(tls, CONNECT_TIMEOUT, alerts.clone());
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Upstream {
            client,
            mcp,
            renewal,
            alerts,
        })
    }

    /// The MCP endpoint.
    pub fn mcp_url(&self) -> &Uri {
        &self.mcp
    }

    /// POSTs `body` to the MCP endpoint with `token` and `headers`; a
    /// refusal (4xx, 5xx) is read and returned as a [`Failure`].
    pub async fn post(
        &self,
        body: Bytes,
        token: &str,
        headers: &[(&'static str, String)],
    ) -> Result<Answer, Failure> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.mcp.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .header(header::AUTHORIZATION, bearer(token)?);
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| Failure::Garbled(format!("the {name} value cannot be a header")))?;
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| Failure::Garbled(e.to_string()))?;
        self.send(request).await
    }

    /// POSTs a renewal with `token`: the JSON answer, or the refusal.
    pub async fn renew(&self, token: &str) -> Result<Value, Failure> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.renewal.clone())
            .header(header::AUTHORIZATION, bearer(token)?)
            .body(Full::new(Bytes::new()))
            .map_err(|e| Failure::Garbled(e.to_string()))?;
        let answer = self.send(request).await?;
        let body = answer.read_all().await?;
        serde_json::from_slice(&body).map_err(|e| Failure::Garbled(format!("renewal answer: {e}")))
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, Failure> {
        let response = tokio::time::timeout(ANSWER_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| Failure::Lost(format!("no answer within {}s", ANSWER_TIMEOUT.as_secs())))?
            .map_err(|e| match classify(&e) {
                // The connection was lost to an alert: the gateway refused
                // this machine's certificate (TLS 1.3 tells it only now).
                Failure::Lost(lost) => self.alerts.take().unwrap_or(Failure::Lost(lost)),
                other => other,
            })?;
        let (parts, body) = response.into_parts();
        if parts.status.is_client_error() || parts.status.is_server_error() {
            let challenge = parts
                .headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = Limited::new(body, 64 * 1024)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(refusal(parts.status.as_u16(), challenge.as_deref(), &bytes));
        }
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// The `Authorization` value; a token that cannot be a header is a token
/// file problem (named without the token).
fn bearer(token: &str) -> Result<HeaderValue, Failure> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| Failure::Token("the token holds characters a header cannot carry".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

impl Answer {
    /// The whole body (bounded).
    pub async fn read_all(self) -> Result<Bytes, Failure> {
        Limited::new(self.body, MAX_ANSWER)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| Failure::Lost(format!("reading the answer: {e}")))
    }

    /// Whether the body is an event stream.
    fn is_stream(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"))
    }

    /// Hands every JSON-RPC message of the body to `deliver` as it arrives
    /// (awaited before the next is read, so that a notification reaches the
    /// client while its request is still running): the one JSON body, or
    /// each `data` of the event stream, as one line ([`one_line`]). Returns
    /// how many were delivered.
    pub async fn messages<F, Delivered>(self, mut deliver: F) -> Result<usize, Failure>
    where
        F: FnMut(Bytes) -> Delivered,
        Delivered: Future<Output = ()>,
    {
        if !self.is_stream() {
            let body = self.read_all().await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(0);
            }
            deliver(one_line(body)?).await;
            return Ok(1);
        }
        let mut body = self.body;
        let mut buffer = BytesMut::new();
        // How far `buffer` is known to hold no event end: each frame is
        // searched once, not the whole buffer again.
        let mut searched = 0;
        let mut delivered = 0;
        loop {
            let frame = tokio::time::timeout(ANSWER_TIMEOUT, body.frame())
                .await
                .map_err(|_| {
                    Failure::Lost(format!(
                        "the answer stalled for {}s",
                        ANSWER_TIMEOUT.as_secs()
                    ))
                })?;
            let Some(frame) = frame else { break };
            let frame = frame.map_err(|e| Failure::Lost(format!("the answer broke off: {e}")))?;
            if let Ok(data) = frame.into_data() {
                buffer.extend_from_slice(&data);
            }
            while let Some(end) = event_end(&buffer, searched) {
                let event = buffer.split_to(end);
                searched = 0;
                if let Some(message) = event_data(&event)? {
                    deliver(message).await;
                    delivered += 1;
                }
            }
            // An end marker is at most 4 bytes: it may straddle this frame.
            searched = buffer.len().saturating_sub(3);
            if buffer.len() > MAX_ANSWER {
                return Err(Failure::Garbled(format!(
                    "an event longer than {MAX_ANSWER} bytes"
                )));
            }
        }
        if let Some(message) = event_data(&buffer)? {
            deliver(message).await;
            delivered += 1;
        }
        Ok(delivered)
    }
}

/// `message` as one line of stdout: checked to be one JSON object, passed on
/// as the gateway wrote it (no second parse into a tree and back), and
/// re-rendered only if it spans lines.
pub fn one_line(message: Bytes) -> Result<Bytes, Failure> {
    let garbled =
        |e: &dyn std::fmt::Display| Failure::Garbled(format!("not a JSON-RPC message: {e}"));
    serde_json::from_slice::<serde::de::IgnoredAny>(&message).map_err(|e| garbled(&e))?;
    if message.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(garbled(&"not a JSON object"));
    }
    if !message.iter().any(|b| *b == b'\n' || *b == b'\r') {
        return Ok(message);
    }
    let value: Value = serde_json::from_slice(&message).map_err(|e| garbled(&e))?;
    Ok(Bytes::from(value.to_string()))
}

/// Where the first complete event of `buffer` ends (after its blank line),
/// looking from `from` on.
fn event_end(buffer: &[u8], from: usize) -> Option<usize> {
    let rest = buffer.get(from..)?;
    let lf = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| from + i + 2);
    let crlf = rest
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| from + i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The JSON-RPC message of one event: its `data` lines joined; `None` for an
/// event without data (a priming event, a comment).
fn event_data(event: &[u8]) -> Result<Option<Bytes>, Failure> {
    let text = String::from_utf8_lossy(event);
    let mut data = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    if data.trim().is_empty() {
        return Ok(None);
    }
    one_line(Bytes::from(data)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::{event_data, event_end};

    #[test]
    fn events_are_split_at_blank_lines_and_read_from_their_data() {
        let stream = b"id: 1\ndata: \n\nid: 2\ndata: {\"id\":1,\ndata: \"result\":{}}\n\n";
        let first = event_end(stream, 0).unwrap();
        assert_eq!(event_data(&stream[..first]).unwrap(), None);
        let rest = &stream[first..];
        let second = event_end(rest, 0).unwrap();
        assert_eq!(second, rest.len());
        // Two data lines are one message, on one line.
        assert_eq!(
            event_data(rest).unwrap().unwrap(),
            &b"{\"id\":1,\"result\":{}}"[..]
        );
        let crlf = b"data: {\"a\":1}\r\n\r\n";
        assert_eq!(event_end(crlf, 0), Some(crlf.len()));
        assert_eq!(event_end(crlf, 5), Some(crlf.len()));
        assert_eq!(event_data(crlf).unwrap().unwrap(), &b"{\"a\":1}"[..]);
        assert!(event_data(b"data: [1]\n\n").is_err(), "not an object");
        assert!(event_data(b"data: {\"a\":\n\n").is_err(), "not JSON");
    }
}
