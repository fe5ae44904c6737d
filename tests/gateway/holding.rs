//! What a client can make the gateway hold, each with its cap or deadline, its
//! refusal and its one security line: a connection after the handshake with no
//! request (or one byte, or only the HTTP/2 preface), an idle connection, a
//! slow body, connections from one address, MCP sessions, and the requests
//! other layers refuse (protocol version, `Mcp-Name`, an unknown session).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TestGateway, initialize, initialize_body, post};

/// Reads until the peer closes (or errors); true when it closed within `limit`.
async fn closed_within<S: AsyncReadExt + Unpin>(stream: &mut S, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_connection_that_sends_no_request_is_cut_and_logged() {
    let gw = TestGateway::start_with_listen("first_request_timeout = \"400ms\"").await;
    let cert = gw.client_cert("agent-a");
    let mut silent = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    let mut one_byte = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    one_byte.write_all(b"P").await.unwrap();
    let mut preface_only = gw.tls_connect(&cert, b"h2").await.unwrap();
    preface_only
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    for stream in [&mut silent, &mut one_byte, &mut preface_only] {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "a connection without a request stayed open"
        );
    }
    let cut: Vec<String> = gw
        .security_lines()
        .into_iter()
        .filter(|l| l.contains("reason=first_request_timeout"))
        .collect();
    assert_eq!(cut.len(), 3, "{cut:?}");
    for line in cut {
        assert!(
            line.starts_with(
                "DENY stage=http reason=first_request_timeout ip=127.0.0.1 client=agent-a"
            ),
            "{line}"
        );
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let gw = TestGateway::start_with_listen("idle_timeout = \"500ms\"").await;
    let cert = gw.client_cert("agent-a");
    let token = gw.pki.token("agent-a");
    // HTTP/2 answers PINGs forever on its own: only requests count.
    let mut client = crate::http2::h2_connect(&gw, &cert).await;
    let answer = crate::http2::h2_post(
        &mut client,
        "127.0.0.1",
        &[("authorization", &format!("Bearer {token}"))],
        &initialize_body("2025-11-25"),
    )
    .await;
    assert_eq!(answer.status, 200);
    let mut closed = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if client.clone().ready().await.is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "the idle HTTP/2 connection stayed open");
    gw.expect_security_line_starting(
        "REFUSE stage=http reason=idle_timeout ip=127.0.0.1 client=agent-a",
    )
    .await;
}

#[tokio::test]
async fn a_slow_body_is_refused_with_408() {
    let gw = TestGateway::start_with_listen("body_read_timeout = \"400ms\"").await;
    let cert = gw.client_cert("agent-a");
    let token = gw.pki.token("agent-a");
    let mut tls = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 500\r\n\r\n{{\"jsonrpc\""
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut response = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut response))
        .await
        .expect("an answer to a stalled body")
        .unwrap();
    let text = String::from_utf8_lossy(&response[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    gw.expect_security_line_starting(
        "REFUSE stage=http reason=body_timeout ip=127.0.0.1 client=agent-a",
    )
    .await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let gw = TestGateway::start_with_listen("max_connections_per_address = 2").await;
    let cert = gw.client_cert("agent-a");
    let _first = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    let _second = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    let third = gw.tls_connect(&cert, b"http/1.1").await;
    if let Ok(mut third) = third {
        assert!(closed_within(&mut third, Duration::from_secs(5)).await);
    }
    gw.expect_security_line(
        "DENY stage=limit reason=too_many_connections ip=127.0.0.1 client=- detail=\"2 open\"",
    )
    .await;
    // Another address still gets in.
    let other = gw
        .tls_connect_from(Some("127.0.0.2".parse().unwrap()), b"", &cert, b"http/1.1")
        .await;
    assert!(other.is_ok());
}

#[tokio::test]
async fn sessions_are_capped_per_client_and_expire_when_idle() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.mcp =
            "max_sessions = 3\nmax_sessions_per_client = 2\nsession_idle_timeout = \"1s\"".into();
    })
    .await;
    let alice = gw.http(Some(&gw.client_cert("alice")));
    let bob = gw.http(Some(&gw.client_cert("bob")));
    let (first, _) = initialize(&alice, &gw.url(), "2025-11-25").await;
    let _second = initialize(&alice, &gw.url(), "2025-11-25").await;
    let refused = post(&alice, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("too_many_sessions_for_client")
    );
    gw.expect_security_line_starting(
        "REFUSE stage=session reason=too_many_sessions_for_client ip=127.0.0.1 client=alice",
    )
    .await;
    let _bobs = initialize(&bob, &gw.url(), "2025-11-25").await;
    let full = post(&bob, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 429);
    gw.expect_security_line_starting(
        "REFUSE stage=session reason=too_many_sessions ip=127.0.0.1 client=bob",
    )
    .await;
    // Idle sessions are closed: the old id is gone, and room is made for new ones.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let ping = r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#;
    let expired = post(&alice, &gw.url(), ping)
        .header("mcp-session-id", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), 404);
    gw.expect_security_line(
        "REFUSE stage=session reason=session_not_found ip=127.0.0.1 client=alice",
    )
    .await;
    let (again, _) = initialize(&alice, &gw.url(), "2025-11-25").await;
    assert!(!again.is_empty());
}

#[tokio::test]
async fn refusals_by_other_layers_are_logged_once_each() {
    let gw = TestGateway::start().await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_current_time","arguments":{}}}"#;
    let version = post(&client, &gw.url(), call)
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(version.status(), 400);
    let mismatch = post(&client, &gw.url(), call)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "delete_event")
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);
    assert!(mismatch.text().await.unwrap().contains("-32020"));
    let wrong_accept = client
        .post(gw.url())
        .header("content-type", "application/json")
        .header("accept", "text/plain")
        .body(initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_accept.status(), 406);
    let lines: Vec<String> = gw
        .security_lines()
        .into_iter()
        .filter(|l| l.starts_with("REFUSE"))
        .collect();
    assert_eq!(
        lines,
        [
            "REFUSE stage=http reason=protocol_version_unsupported ip=127.0.0.1 client=agent-a detail=1999-01-01",
            "REFUSE stage=http reason=mcp_header_mismatch ip=127.0.0.1 client=agent-a detail=\"Mcp-Name `delete_event` is not what the body names\"",
            "REFUSE stage=http reason=request_rejected ip=127.0.0.1 client=agent-a detail=\"status 406\"",
        ]
    );
}

#[tokio::test]
async fn an_untrusted_peer_outside_the_allowlist_is_refused_before_it_sends_anything() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.network = r#"allow = ["127.0.0.1"]"#.into();
        s.tables = "[listen.proxy_protocol]\ntrusted = [\"127.0.0.9\"]\n".into();
    })
    .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.3:0".parse().unwrap()).unwrap();
    let mut stream = socket.connect(gw.gateway.local_addr).await.unwrap();
    // Nothing is sent: the refusal must not wait for a first byte.
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await);
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.3 client=-")
        .await;
}
