//! HTTP/2 as real clients speak it: every refusal of a request with a body
//! arrives with its status and challenge (the h2 crate as a client, and Debian's
//! curl, which speaks HTTP/2 by default), and the authority the request names
//! (`:authority`, an absolute HTTP/1 target) is checked, not just `Host`.

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use mcp_gateway::cli::pki::Issued;

use crate::common::{TestGateway, initialize_body};

/// An HTTP/2 connection presenting `cert`.
pub async fn h2_connect(gw: &TestGateway, cert: &Issued) -> h2::client::SendRequest<Bytes> {
    let tls = gw.tls_connect(cert, b"h2").await.expect("TLS with ALPN h2");
    let (client, connection) = h2::client::handshake(tls).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// What came back for one request: status, challenge, and whether the whole
/// answer arrived without a stream error.
pub struct H2Answer {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub body: Result<Vec<u8>, String>,
}

/// POSTs `body` (headers first, then the body in its own DATA frame, as curl
/// does) with `headers`, to `authority`.
pub async fn h2_post(
    client: &mut h2::client::SendRequest<Bytes>,
    authority: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> H2Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("https://{authority}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let ready = client.clone().ready().await.expect("connection ready");
    *client = ready;
    let (response, mut stream) = client
        .send_request(request.body(()).unwrap(), false)
        .expect("request sent");
    stream
        .send_data(Bytes::from(body.to_owned()), true)
        .expect("body sent");
    let response = response.await.expect("an answer, not a stream error");
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut received = response.into_body();
    let mut bytes = Vec::new();
    let body = loop {
        match received.data().await {
            None => break Ok(bytes),
            Some(Ok(chunk)) => {
                let _ = received.flow_control().release_capacity(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            Some(Err(e)) => break Err(e.to_string()),
        }
    };
    H2Answer {
        status,
        challenge,
        body,
    }
}

/// Extra headers, the expected status, and the `error_description` of a 401.
type Refusal<'a> = (&'a [(&'a str, &'a str)], StatusCode, Option<&'a str>);

#[tokio::test]
async fn every_http2_refusal_with_a_body_arrives_whole() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    let mut client = h2_connect(&gw, &cert).await;
    let body = initialize_body("2025-11-25") + &" ".repeat(4000);
    let bearer_bad = "Bearer not-a-jwt".to_owned();
    let cases: [Refusal<'_>; 3] = [
        (&[], StatusCode::UNAUTHORIZED, Some("token_missing")),
        (
            &[("authorization", &bearer_bad)],
            StatusCode::UNAUTHORIZED,
            Some("token_malformed"),
        ),
        (
            &[("origin", "https://evil.example")],
            StatusCode::FORBIDDEN,
            None,
        ),
    ];
    for round in 0..40 {
        for (headers, status, challenge) in &cases {
            let answer = h2_post(&mut client, "127.0.0.1", headers, &body).await;
            assert_eq!(answer.status, *status, "round {round}");
            let text = answer
                .body
                .unwrap_or_else(|e| panic!("round {round}: the refusal was cut: {e}"));
            assert!(
                String::from_utf8_lossy(&text).contains("\"error\""),
                "round {round}"
            );
            if let Some(reason) = challenge {
                let header = answer.challenge.expect("WWW-Authenticate on a 401");
                assert!(
                    header.contains(&format!("error_description=\"{reason}\"")),
                    "{header}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_authority_a_request_names_is_checked() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    let token = format!("Bearer {}", gw.pki.token("agent-a"));
    let mut client = h2_connect(&gw, &cert).await;
    let body = initialize_body("2025-11-25");
    // :authority evil.example with a Host header that would pass on its own.
    let answer = h2_post(
        &mut client,
        "evil.example",
        &[("authorization", &token), ("host", "127.0.0.1")],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    gw.expect_security_line(
        "REFUSE stage=http reason=host_not_allowed ip=127.0.0.1 client=agent-a detail=evil.example",
    )
    .await;
    let answer = h2_post(
        &mut client,
        "127.0.0.1",
        &[("authorization", &token)],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);

    // HTTP/1.1 absolute-form target naming another host.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tls = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    let request = format!(
        "POST https://evil.example/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert_eq!(
        gw.security_lines()
            .iter()
            .filter(|l| l.contains("reason=host_not_allowed"))
            .count(),
        2
    );
}

/// Debian's curl over HTTP/2 (its default with ALPN): 120 refusals in a row,
/// each with its status. curl is on the CI machine (the README's flows use it).
#[tokio::test]
async fn curl_over_http2_sees_every_refusal() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    let dir = gw.dir_path();
    std::fs::write(dir.join("curl-client.pem"), &cert.cert_pem).unwrap();
    std::fs::write(dir.join("curl-client.key"), &cert.key_pem).unwrap();
    std::fs::write(dir.join("body.json"), initialize_body("2025-11-25")).unwrap();
    let url = gw.url();
    let bad = "Authorization: Bearer not-a-jwt";
    let origin = "Origin: https://evil.example";
    let cases: [(Option<&str>, &str); 3] =
        [(None, "401"), (Some(bad), "401"), (Some(origin), "403")];
    let mut failures = Vec::new();
    for round in 0..40 {
        for (header, expected) in cases {
            let mut curl = tokio::process::Command::new("curl");
            curl.current_dir(dir)
                .args([
                    "-sS",
                    "--http2",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_version} %{http_code}",
                ])
                .args([
                    "--cacert",
                    "ca.pem",
                    "--cert",
                    "curl-client.pem",
                    "--key",
                    "curl-client.key",
                ])
                .args(["-H", "Content-Type: application/json"])
                .args(["-H", "Accept: application/json, text/event-stream"])
                .args(["-d", "@body.json"]);
            if let Some(header) = header {
                curl.args(["-H", header]);
            }
            let out = curl
                .arg(&url)
                .output()
                .await
                .expect("curl must be installed");
            let got = String::from_utf8_lossy(&out.stdout).into_owned();
            if !out.status.success() || got != format!("2 {expected}") {
                failures.push(format!(
                    "round {round}: {got:?} exit {:?} {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 120 failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
