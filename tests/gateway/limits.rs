//! Connection limits: the concurrent-connection cap, the handshake deadline, the
//! header-read deadline, and both HTTP versions on the same listener.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TestGateway, http_client_builder, initialize_body, post, rpc_message};

/// Reads until the peer closes; returns how many bytes came before the close.
async fn read_until_closed<S: AsyncReadExt + Unpin>(stream: &mut S) -> usize {
    let mut total = 0;
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_a_slot_frees() {
    let gw = TestGateway::start_with_listen("max_connections = 1").await;
    let cert = gw.client_cert("agent-a");
    let first = gw
        .tls_connect(&cert, b"http/1.1")
        .await
        .expect("first connection is served");
    // The second connection is accepted by the kernel but not served: its
    // handshake cannot finish while the only slot is taken.
    let second = tokio::spawn({
        let cert = cert.clone();
        let gw_addr = gw.gateway.local_addr;
        let ca = gw.pki.ca.issued.cert_pem.clone();
        let token = gw.pki.token("agent-a");
        async move {
            let client = crate::common::http_client_with_token(&ca, Some(&cert), Some(&token));
            post(
                &client,
                &format!("https://127.0.0.1:{}/mcp", gw_addr.port()),
                initialize_body("2025-11-25"),
            )
            .send()
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "a second connection was served while the cap was reached"
    );
    drop(first);
    let response = tokio::time::timeout(Duration::from_secs(15), second)
        .await
        .expect("served once the slot freed")
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn silent_clients_are_dropped_after_the_handshake_timeout() {
    let gw = TestGateway::start_with_listen("handshake_timeout = \"300ms\"").await;
    let mut tcp = tokio::net::TcpStream::connect(gw.gateway.local_addr)
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut tcp)).await;
    assert_eq!(
        closed,
        Ok(0),
        "the server should close a connection that never starts TLS"
    );
}

#[tokio::test]
async fn slow_headers_are_cut_off_after_the_header_read_timeout() {
    let gw = TestGateway::start_with_listen("header_read_timeout = \"300ms\"").await;
    let mut tls = gw
        .tls_connect(&gw.client_cert("agent-a"), b"http/1.1")
        .await
        .unwrap();
    tls.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut tls)).await;
    assert!(
        outcome.is_ok(),
        "the connection stayed open with incomplete headers"
    );
    gw.expect_security_line("DENY stage=http reason=first_request_timeout ip=127.0.0.1 client=agent-a detail=\"request head incomplete\"")
        .await;
}

#[tokio::test]
async fn oversized_headers_are_refused_and_logged() {
    let gw = TestGateway::start_with_listen("max_header_list_bytes = 8192").await;
    let mut tls = gw
        .tls_connect(&gw.client_cert("agent-a"), b"http/1.1")
        .await
        .unwrap();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let _ = tls.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response)).await;
    assert!(
        String::from_utf8_lossy(&response).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&response)
    );
    gw.expect_security_line(
        "REFUSE stage=http reason=headers_too_large ip=127.0.0.1 client=agent-a",
    )
    .await;
}

#[tokio::test]
async fn http1_and_http2_are_both_served() {
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    let token = gw.pki.token("agent-a");
    let h1 = http_client_builder(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&token))
        .http1_only()
        .build()
        .unwrap();
    let response = post(&h1, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);
    let h2 = gw.http(Some(&cert));
    let response = post(&h2, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        rpc_message(&response.text().await.unwrap())["result"]["serverInfo"]["name"],
        "mcp-gateway"
    );
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed_as_idle() {
    let gw = TestGateway::start_with_listen("header_read_timeout = \"500ms\"").await;
    let cert = gw.client_cert("agent-a");
    let token = gw.pki.token("agent-a");
    let h1 = http_client_builder(&gw.pki.ca.issued.cert_pem, Some(&cert), Some(&token))
        .http1_only()
        .build()
        .unwrap();
    let response = post(&h1, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.text().await;
    // Not a ban-worthy refusal: the client did nothing wrong by keeping it open.
    gw.expect_security_line(
        "REFUSE stage=http reason=idle_timeout ip=127.0.0.1 client=agent-a detail=\"no new request head in time\"",
    )
    .await;
}
