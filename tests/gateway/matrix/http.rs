//! Matrix rows for HTTP/1.1 itself, written byte for byte on a TLS connection
//! with a good certificate and token: path spellings, `Host` and
//! absolute-form tricks, request smuggling, oversized heads and bodies, and
//! bodies that are not the JSON-RPC they claim. An authorised client's
//! malformed request is refused with one `REFUSE stage=http` line, never a
//! ban-worthy one: a broken client is not an attacker.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ledger::{Ledger, Line, Seen};
use super::{VERSION, tool_call};
use crate::common::TestGateway;

const CLIENT: &str = "agent-h";

/// Sends `request` on a fresh TLS connection and reads the status line of
/// the answer (`NoAnswer` when the connection ends without one).
async fn exchange(gw: &TestGateway, request: &[u8]) -> Seen {
    let Ok(mut tls) = gw.tls_connect(&gw.client_cert(CLIENT), b"http/1.1").await else {
        return Seen::NoAnswer;
    };
    if tls.write_all(request).await.is_err() {
        return Seen::NoAnswer;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, tls.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&answer);
    match head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
    {
        Some(200) => Seen::Ok,
        Some(code) => Seen::Status(code),
        None => Seen::NoAnswer,
    }
}

/// A stateless get_current_time request with `target` and `host`, plus
/// `extra` header lines, and `body` (the call's JSON when `None`).
fn request(gw: &TestGateway, target: &str, host: &str, extra: &str, body: Option<&str>) -> Vec<u8> {
    let call = tool_call(&json!("get_current_time"), json!({})).to_string();
    let body = body.unwrap_or(&call);
    let token = gw.pki.token(CLIENT);
    format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: {VERSION}\r\nMcp-Method: tools/call\r\nMcp-Name: get_current_time\r\n\
         {extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn every_bent_request_is_refused_once_and_never_banned() {
    let gw = TestGateway::start().await;
    let host = format!("127.0.0.1:{}", gw.gateway.local_addr.port());
    let refuse =
        |reason: &str| format!("REFUSE stage=http reason={reason} ip=127.0.0.1 client={CLIENT}");
    let mut ledger = Ledger::new("http", &gw);

    let seen = exchange(&gw, &request(&gw, "/mcp", &host, "", None)).await;
    ledger
        .row(&gw, "control: a plain call", seen, Seen::Ok, Line::None)
        .await;
    let seen = exchange(&gw, &request(&gw, "/mcp?x=1", &host, "", None)).await;
    ledger
        .row(&gw, "control: a query string", seen, Seen::Ok, Line::None)
        .await;

    for target in [
        "/mcp/",
        "/MCP",
        "/mcp%2F",
        "//mcp",
        "/./mcp",
        "/mcp/..",
        "/%6dcp",
        "/mcp;x",
        "/mcp/../mcp",
        "/.well-known/../mcp",
        "/mcp%00",
        "/metrics",
        "/mcp\\",
    ] {
        let seen = exchange(&gw, &request(&gw, target, &host, "", None)).await;
        ledger
            .row(
                &gw,
                &format!("path {target}"),
                seen,
                Seen::Status(404),
                Line::Refuse(&refuse("path_not_found")),
            )
            .await;
    }
    for (name, target, host_value) in [
        ("Host elsewhere", "/mcp", "evil.test".to_owned()),
        ("Host with userinfo", "/mcp", format!("{host}@evil.test")),
        (
            "Host as a subdomain",
            "/mcp",
            format!("127.0.0.1.evil.test:{}", gw.gateway.local_addr.port()),
        ),
        (
            "absolute-form elsewhere",
            "https://evil.test/mcp",
            host.clone(),
        ),
        (
            "absolute-form with userinfo",
            &format!("https://{host}@evil.test/mcp"),
            host.clone(),
        ),
    ] {
        let seen = exchange(&gw, &request(&gw, target, &host_value, "", None)).await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::Status(403),
                Line::Refuse(&refuse("host_not_allowed")),
            )
            .await;
    }
    let seen = exchange(
        &gw,
        &request(&gw, "/mcp", &host, "Host: evil.test\r\n", None),
    )
    .await;
    ledger
        .row(
            &gw,
            "two Host headers",
            seen,
            Seen::Status(403),
            Line::Refuse(&refuse("host_not_allowed")),
        )
        .await;

    // Smuggling. With both lengths, chunked wins (RFC 9112): the body is the
    // empty chunk, not JSON, and what follows is never served.
    let smuggled = "0\r\n\r\nPOST /mcp HTTP/1.1\r\nHost: x\r\n\r\n";
    let seen = exchange(
        &gw,
        &request(
            &gw,
            "/mcp",
            &host,
            "Transfer-Encoding: chunked\r\n",
            Some(smuggled),
        ),
    )
    .await;
    ledger
        .row(
            &gw,
            "Content-Length and chunked",
            seen,
            Seen::Status(400),
            Line::Refuse(&refuse("body_not_json")),
        )
        .await;
    // A length hyper cannot trust ends the connection with its own 400.
    for (name, extra) in [
        ("chunked spelled oddly", "Transfer-Encoding: xchunked\r\n"),
        ("two Content-Lengths", "Content-Length: 3\r\n"),
        ("a space before the colon", "Content-Length : 3\r\n"),
        ("a header without a colon", "X-Broken\r\n"),
    ] {
        let seen = exchange(&gw, &request(&gw, "/mcp", &host, extra, Some(smuggled))).await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::Status(400),
                Line::Refuse(&refuse("request_rejected")),
            )
            .await;
    }
    let long_token = format!("Authorization: Bearer {}\r\n", "e".repeat(64 * 1024));
    let seen = exchange(&gw, &request(&gw, "/mcp", &host, &long_token, None)).await;
    ledger
        .row(
            &gw,
            "a 64 KB token",
            seen,
            Seen::Status(431),
            Line::Refuse(&refuse("headers_too_large")),
        )
        .await;
    let big_header = format!("X-Pad: {}\r\n", "a".repeat(100 * 1024));
    let seen = exchange(&gw, &request(&gw, "/mcp", &host, &big_header, None)).await;
    ledger
        .row(
            &gw,
            "a 100 KB header",
            seen,
            Seen::Status(431),
            Line::Refuse(&refuse("headers_too_large")),
        )
        .await;
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let seen = exchange(&gw, &request(&gw, "/mcp", &host, &many_headers, None)).await;
    ledger
        .row(
            &gw,
            "200 headers",
            seen,
            Seen::Status(431),
            Line::Refuse(&refuse("headers_too_large")),
        )
        .await;

    // Bodies.
    let big = format!("[{}]", "1,".repeat(600 * 1024) + "1");
    let deep = "[".repeat(30_000) + &"]".repeat(30_000);
    let deep_arguments = tool_call(&json!("get_current_time"), json!({}))
        .to_string()
        .replacen(
            "\"arguments\":{}",
            &format!("\"arguments\":{{\"a\":{deep}}}"),
            1,
        );
    let version_body = |version: &str| {
        let mut call = tool_call(&json!("get_current_time"), json!({}));
        call["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!(version);
        call.to_string()
    };
    let body_rows: Vec<(&str, String, &str, Seen, &str)> = vec![
        (
            "a body over the limit",
            big,
            "",
            Seen::Status(413),
            "body_too_large",
        ),
        // Deeper than serde_json reads (128 levels): the gateway refuses it
        // itself rather than hand rmcp a body it could not read either.
        (
            "JSON nested 30,000 deep",
            deep,
            "",
            Seen::Status(400),
            "body_not_json",
        ),
        (
            "arguments nested 30,000 deep",
            deep_arguments,
            "",
            Seen::Status(400),
            "body_not_json",
        ),
        (
            "not JSON",
            "hello".into(),
            "",
            Seen::Status(400),
            "body_not_json",
        ),
        (
            "a batch",
            format!("[{}]", tool_call(&json!("get_current_time"), json!({}))),
            "",
            Seen::Status(400),
            "body_not_json",
        ),
        (
            "Mcp-Method lies",
            tool_call(&json!("get_current_time"), json!({}))
                .to_string()
                .replace("tools/call", "tools/list"),
            "",
            Seen::Status(400),
            "mcp_header_mismatch",
        ),
        // Two parsers (the gateway's, rmcp's) could read a key written twice
        // differently: refused before either acts (issue 21, item 1).
        (
            "params.name written twice",
            tool_call(&json!("get_current_time"), json!({}))
                .to_string()
                .replacen("\"name\":", "\"name\":\"delete_event\",\"name\":", 1),
            "",
            Seen::Status(400),
            "duplicate_json_key",
        ),
        (
            "a key written twice deep in the arguments",
            tool_call(&json!("get_current_time"), json!({"timezone": {"a": 1}}))
                .to_string()
                .replacen("{\"a\":1}", "{\"a\":1,\"\\u0061\":2}", 1),
            "",
            Seen::Status(400),
            "duplicate_json_key",
        ),
        (
            "an unknown protocol version",
            version_body("2024-01-01"),
            "",
            Seen::Status(400),
            "request_rejected",
        ),
    ];
    for (name, body, extra, expected, reason) in body_rows {
        let seen = exchange(&gw, &request(&gw, "/mcp", &host, extra, Some(&body))).await;
        ledger
            .row(&gw, name, seen, expected, Line::Refuse(&refuse(reason)))
            .await;
    }
    let old_header = request(&gw, "/mcp", &host, "", None);
    let old_header = String::from_utf8(old_header)
        .unwrap()
        .replace(VERSION, "1999-01-01");
    let seen = exchange(&gw, old_header.as_bytes()).await;
    ledger
        .row(
            &gw,
            "an unknown MCP-Protocol-Version header",
            seen,
            Seen::Status(400),
            Line::Refuse(&refuse("protocol_version_unsupported")),
        )
        .await;
    ledger.finish(&gw);
}
