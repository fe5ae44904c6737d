//! The HTTP version a connection is served in is the one ALPN agreed on, or,
//! when the client offered no ALPN, the one its first bytes speak. A client
//! that agreed on one version and speaks the other is refused with its line,
//! never served in the version it did not agree on.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::TestGateway;

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Everything the gateway sends back until it closes (or 5 s pass).
async fn answer_to<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    sent: &[u8],
) -> Vec<u8> {
    stream.write_all(sent).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    answer
}

fn http1_request(gw: &TestGateway) -> String {
    let authority = gw.url().split('/').nth(2).unwrap().to_owned();
    format!("POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n")
}

#[tokio::test]
async fn a_client_that_speaks_the_version_it_did_not_agree_on_is_refused() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    let refused = "REFUSE stage=http reason=request_rejected ip=127.0.0.1 client=agent-a";
    // Agreed on HTTP/1.1, sends HTTP/2's preface: no SETTINGS frame comes back
    // (an HTTP/2 server's first frame, type 4), only the close.
    let tls = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    let answer = answer_to(tls, HTTP2_PREFACE).await;
    assert!(
        answer.len() < 4 || answer[3] != 4,
        "served as HTTP/2: {answer:?}"
    );
    gw.expect_security_line_starting(refused).await;
    // Agreed on HTTP/2, sends an HTTP/1.1 request: no HTTP/1.1 answer.
    let tls = gw.tls_connect(&cert, b"h2").await.unwrap();
    let answer = answer_to(tls, http1_request(&gw).as_bytes()).await;
    assert!(
        !answer.starts_with(b"HTTP/1.1"),
        "served as HTTP/1.1: {}",
        String::from_utf8_lossy(&answer)
    );
    gw.expect_security_line_starting(&format!("{refused} detail=\"HTTP/2"))
        .await;
    let lines = gw.security_lines();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with(refused)).count(),
        2,
        "one line per refusal:\n{}",
        lines.join("\n")
    );
}

#[tokio::test]
async fn a_client_that_offers_no_alpn_is_served_in_the_version_it_speaks() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    // HTTP/1.1: an answer in HTTP/1.1 (401: no token).
    let tls = gw.tls_connect(&cert, b"").await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    let answer = answer_to(tls, http1_request(&gw).as_bytes()).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 401"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // HTTP/2: the h2 crate's handshake and request succeed.
    let tls = gw.tls_connect(&cert, b"").await.unwrap();
    let (mut client, connection) = h2::client::handshake(tls).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::post(gw.url()).body(()).unwrap();
    client = client.ready().await.unwrap();
    let (response, mut body) = client.send_request(request, false).unwrap();
    body.send_data(Bytes::new(), true).unwrap();
    let response = response.await.expect("an HTTP/2 answer");
    assert_eq!(response.status(), 401);
}
