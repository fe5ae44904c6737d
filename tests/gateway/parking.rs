//! An idle HTTP/1.1 keep-alive connection is taken out of the HTTP stack
//! (its buffers freed) and put back when its next request arrives: the
//! client sees nothing of it. Bytes of a next request already read come back
//! first, the idle timeout still cuts a parked connection with its line, and
//! no refusal is written for any of it.
//!
//! hyper applies `listen.header_read_timeout` between HTTP/1.1 requests; a
//! parked connection is out of hyper, under `listen.idle_timeout` alone. A
//! header timeout of 2 s is what tells here that a connection quiet for
//! longer was parked (the metrics are shared by every gateway in this
//! process: the counter is only checked to move).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::common::{TestGateway, metric, stateless_tool_call};

const PARKED: &str = "mcp_gateway_connections_parked_total";

/// A keep-alive stateless `tools/call get_current_time`, split where the
/// head ends.
fn time_call(token: &str) -> (String, String) {
    let body = stateless_tool_call(&"get_current_time".into(), serde_json::json!({})).to_string();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nAuthorization: Bearer {token}\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: get_current_time\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    (head, body)
}

/// Reads one answer (head and `Content-Length` body); its status and body.
async fn read_answer(tls: &mut TlsStream<TcpStream>) -> (u16, String) {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut byte))
            .await
            .expect("an answer in time")
            .unwrap();
        assert_eq!(
            n,
            1,
            "closed mid-answer: {}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.push(byte[0]);
    }
    let head = String::from_utf8(bytes).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no Content-Length in {head}"))
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    tls.read_exact(&mut body).await.unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// The security lines other than the handshake's ALLOW.
fn refusals(gw: &TestGateway) -> Vec<String> {
    let lines = gw.security_lines().into_iter();
    lines.filter(|l| !l.starts_with("ALLOW ")).collect()
}

async fn parked(gw: &TestGateway) -> f64 {
    metric(gw.gateway.metrics_addr.unwrap(), PARKED).await
}

/// Writes `bytes`; the body of the one answer they complete, which must be a 200.
async fn answered(tls: &mut TlsStream<TcpStream>, bytes: String) -> String {
    tls.write_all(bytes.as_bytes()).await.unwrap();
    let (status, answer) = read_answer(tls).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Stays quiet for `seconds`; the parked counter must have moved meanwhile.
async fn quiet_until_parked(gw: &TestGateway, seconds: u64) {
    let before = parked(gw).await;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    assert!(parked(gw).await > before, "nothing parked in {seconds} s");
}

/// A gateway with `listen` settings, and an HTTP/1.1 connection of agent-a
/// that has made one call, with that call's head and body.
async fn after_one_call(listen: &str) -> (TestGateway, TlsStream<TcpStream>, String, String) {
    let gw = TestGateway::start_with_listen(listen).await;
    let cert = gw.client_cert("agent-a");
    let (head, body) = time_call(&gw.pki.token("agent-a"));
    let mut tls = gw.tls_connect(&cert, b"http/1.1").await.unwrap();
    answered(&mut tls, format!("{head}{body}")).await;
    (gw, tls, head, body)
}

/// Reads until the gateway closes the connection; whether it did within `seconds`.
async fn closed_within(tls: &mut TlsStream<TcpStream>, seconds: u64) -> bool {
    let mut rest = Vec::new();
    let reading = tls.read_to_end(&mut rest);
    tokio::time::timeout(Duration::from_secs(seconds), reading)
        .await
        .is_ok()
}

#[tokio::test]
async fn a_parked_connection_serves_its_next_requests_and_replays_what_was_read() {
    let (gw, mut tls, head, body) = after_one_call("header_read_timeout = \"3s\"").await;
    // Quiet past the parking delay and hyper's header timeout: parked, and
    // served again as before.
    quiet_until_parked(&gw, 4).await;
    let again = answered(&mut tls, format!("{head}{body}")).await;
    assert!(again.contains("result"), "{again}");
    // A request and half of the next head in one write: the half is what
    // hyper had read when the connection was parked; it comes back first.
    let (first_half, second_half) = head.split_at(head.len() / 2);
    answered(&mut tls, format!("{head}{body}{first_half}")).await;
    // Parked after 1 s with the half given back and served again at once,
    // under hyper's header timeout anew (up to 4 s in all): sent at 2 s.
    quiet_until_parked(&gw, 2).await;
    answered(&mut tls, format!("{second_half}{body}")).await;
    let audited = gw.audit_lines().len();
    assert_eq!(audited, 4, "{:?}", gw.audit_lines());
    assert_eq!(refusals(&gw), Vec::<String>::new());
}

#[tokio::test]
async fn a_parked_connection_is_cut_at_the_idle_timeout_with_its_line() {
    let listen = "idle_timeout = \"4s\"\nheader_read_timeout = \"2s\"";
    let (gw, mut tls, _, _) = after_one_call(listen).await;
    assert!(
        closed_within(&mut tls, 10).await,
        "the parked connection stayed open"
    );
    // Cut by the idle timeout, not by hyper's header timeout ("no new
    // request head in time"): it was out of hyper.
    gw.expect_security_line(
        "REFUSE stage=http reason=idle_timeout ip=127.0.0.1 client=agent-a detail=\"nothing for 4s\"",
    )
    .await;
    assert_eq!(refusals(&gw).len(), 1, "{:?}", gw.security_lines());
}

#[tokio::test]
async fn a_head_left_half_sent_after_parking_meets_the_header_timeout() {
    let (gw, mut tls, head, _) = after_one_call("header_read_timeout = \"2s\"").await;
    quiet_until_parked(&gw, 2).await;
    // Half a head, then nothing: back in hyper, it is cut by the header
    // timeout (set aside once more at most, never for longer).
    let started = std::time::Instant::now();
    tls.write_all(&head.as_bytes()[..head.len() / 2])
        .await
        .unwrap();
    assert!(
        closed_within(&mut tls, 15).await,
        "a half-sent head held the connection"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "cut before the header timeout"
    );
    gw.expect_security_line(
        "REFUSE stage=http reason=idle_timeout ip=127.0.0.1 client=agent-a detail=\"no new request head in time\"",
    )
    .await;
    assert_eq!(refusals(&gw).len(), 1, "{:?}", gw.security_lines());
}
