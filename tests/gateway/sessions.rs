//! MCP sessions belong to the identity that created them; protocol versions.

use crate::common::{TestGateway, initialize, initialize_body, open_session, post, rpc_message};

const TOOLS_LIST: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#;
const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

#[tokio::test]
async fn another_client_presenting_a_session_id_gets_404() {
    let gw = TestGateway::start().await;
    let alice = gw.http(Some(&gw.client_cert("alice")));
    let bob = gw.http(Some(&gw.client_cert("bob")));
    let (session, _) = initialize(&alice, &gw.url(), "2025-11-25").await;
    let ack = post(&alice, &gw.url(), INITIALIZED)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 202);

    let stolen = post(&bob, &gw.url(), TOOLS_LIST)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen.status(), 404);
    let stolen_delete = bob
        .delete(gw.url())
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(stolen_delete.status(), 404);

    let own = post(&alice, &gw.url(), TOOLS_LIST)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let tools = rpc_message(&own.text().await.unwrap());
    assert!(tools["result"]["tools"].as_array().unwrap().len() >= 10);

    let ended = alice
        .delete(gw.url())
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    let after = post(&alice, &gw.url(), TOOLS_LIST)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 404);
}

#[tokio::test]
async fn supported_protocol_versions_are_negotiated() {
    let gw = TestGateway::start().await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let (_, message) = initialize(&client, &gw.url(), version).await;
        assert_eq!(message["result"]["protocolVersion"], version, "{message}");
        assert_eq!(message["result"]["serverInfo"]["name"], "mcp-gateway");
    }
}

#[tokio::test]
async fn unknown_host_header_is_refused() {
    let gw = TestGateway::start().await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let response = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn the_mcp_path_is_configurable() {
    let gw = TestGateway::start_custom(|_, _, s| s.mcp = "path = \"/calendar/mcp\"".into()).await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let base = format!("https://127.0.0.1:{}", gw.gateway.local_addr.port());
    let moved = post(
        &client,
        &format!("{base}/calendar/mcp"),
        initialize_body("2025-11-25"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(moved.status(), 200);
    let old = post(
        &client,
        &format!("{base}/mcp"),
        initialize_body("2025-11-25"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(old.status(), 404);
}

#[tokio::test]
async fn the_certificate_identity_and_fingerprint_travel_with_each_request() {
    use rustls::pki_types::pem::PemObject;
    let gw = TestGateway::start().await;
    let cert = gw.client_cert("agent-a");
    let der = rustls::pki_types::CertificateDer::from_pem_slice(cert.cert_pem.as_bytes()).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref());
    let expected: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let client = gw.http(Some(&cert));
    let session = open_session(&client, &gw.url()).await;
    let call = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"get_access_info","arguments":{}}}"#;
    let response = post(&client, &gw.url(), call)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    let info = rpc_message(&response.text().await.unwrap())["result"]["structuredContent"].clone();
    assert_eq!(info["identity"], "agent-a");
    assert_eq!(info["certificateSha256"], expected.as_str());
    assert_eq!(info["clientIp"], "127.0.0.1");
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(der.as_ref()).unwrap();
    let not_after =
        chrono::DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0).unwrap();
    assert_eq!(
        info["certificateExpiresAt"],
        not_after.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
}

/// Requests in one session that reuse an id in flight: each is answered
/// (never left waiting, as rmcp alone would leave one of them), the reused
/// ones with 400 and one REFUSE line each (a client's bug, not an attack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_reused_while_in_flight_is_refused_never_left_hanging() {
    let gw = TestGateway::start().await;
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let session = open_session(&client, &gw.url()).await;
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_current_time","arguments":{}}}"#;
    let mut refused = 0;
    for _ in 0..10 {
        let requests = (0..8).map(|_| {
            post(&client, &gw.url(), call)
                .header("mcp-session-id", &session)
                .header("mcp-protocol-version", "2025-11-25")
                .send()
        });
        let answers = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            futures_join_all(requests),
        )
        .await
        .expect("every request is answered");
        for answer in answers {
            let answer = answer.unwrap();
            match answer.status().as_u16() {
                200 => assert!(answer.text().await.unwrap().contains("\"result\"")),
                400 => refused += 1,
                other => panic!("unexpected status {other}"),
            }
        }
    }
    let lines = gw
        .security_lines()
        .into_iter()
        .filter(|l| l.starts_with("REFUSE stage=session reason=duplicate_request_id ip=127.0.0.1 client=agent-a detail=7"))
        .count();
    assert_eq!(lines, refused, "one line per refusal");
    // Once the first is answered the id is free again.
    let again = post(&client, &gw.url(), call)
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
}

/// Awaits every future (in order), without a crate for it.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
