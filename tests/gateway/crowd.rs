//! A thousand slow and silent clients from twenty addresses: some never
//! start the handshake, some stop in the middle of their ClientHello, some
//! finish it and send nothing, some stop halfway through a request head.
//! Meanwhile a real MCP client connects and is served; every one of the
//! thousand is cut at its deadline with exactly one ban-worthy line.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TestGateway, call_ok};

const EACH_KIND: usize = 250;
const SOURCES: u8 = 20;

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Connects and sends nothing.
    Silent,
    /// Sends the first bytes of a TLS record, then nothing.
    HalfHello,
    /// Completes the handshake, then sends nothing.
    QuietAfterHandshake,
    /// Completes the handshake, then half a request head.
    HalfHead,
}

fn source(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        2,
        (i % usize::from(SOURCES)) as u8 + 1,
    ))
}

/// Opens one slow client and waits (at most 30 s) for the gateway to close it.
async fn hold(gw: &TestGateway, kind: Kind, from: IpAddr) -> bool {
    let mut buf = [0u8; 1024];
    match kind {
        Kind::Silent | Kind::HalfHello => {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind((from, 0).into()).unwrap();
            let mut tcp = match socket.connect(gw.gateway.local_addr).await {
                Ok(tcp) => tcp,
                Err(e) => panic!("connect from {from}: {e}"),
            };
            if matches!(kind, Kind::HalfHello) {
                tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                    .await
                    .unwrap();
            }
            closed(&mut tcp, &mut buf).await
        }
        Kind::QuietAfterHandshake | Kind::HalfHead => {
            let cert = gw.client_cert("agent-slow");
            let mut tls = match gw
                .tls_connect_from(Some(from), b"", &cert, b"http/1.1")
                .await
            {
                Ok(tls) => tls,
                Err(e) => panic!("TLS from {from}: {e}"),
            };
            if matches!(kind, Kind::HalfHead) {
                tls.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                    .await
                    .unwrap();
            }
            closed(&mut tls, &mut buf).await
        }
    }
}

async fn closed<S: AsyncReadExt + Unpin>(stream: &mut S, buf: &mut [u8]) -> bool {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stream.read(buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_slow_clients_are_cut_and_a_real_one_is_served() {
    // The handshake deadline is the longer one: on a busy machine 500
    // handshakes at once may take seconds, and one that finishes must be cut
    // for its silence after it, not for a slow handshake.
    let gw = TestGateway::start_with_listen(
        "handshake_timeout = \"8s\"\nfirst_request_timeout = \"3s\"\nheader_read_timeout = \"3s\"\nmax_connections = 2000",
    )
    .await;
    let gw = std::sync::Arc::new(gw);
    let kinds = [
        Kind::Silent,
        Kind::HalfHello,
        Kind::QuietAfterHandshake,
        Kind::HalfHead,
    ];
    let mut crowd = tokio::task::JoinSet::new();
    for i in 0..EACH_KIND * kinds.len() {
        // In waves of 100: a thousand SYNs at once overflow the kernel's
        // accept queue, and a silent client whose handshake the kernel never
        // completed is one the gateway never saw (nor paid for).
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let gw = std::sync::Arc::clone(&gw);
        let kind = kinds[i % kinds.len()];
        crowd.spawn(async move { (kind, hold(&gw, kind, source(i)).await) });
    }
    // While they hold their sockets, a real client connects and is served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let client = gw.mcp("agent-real").await;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let call = Instant::now();
        let listed = call_ok(&client, "list_calendars", json!({})).await;
        assert!(listed["calendars"].is_array(), "{listed}");
        slowest = slowest.max(call.elapsed());
    }
    println!(
        "a real client among 1,000 slow ones: connected and made 20 calls in {:?}, slowest call {slowest:?}",
        started.elapsed()
    );
    // A liveness bound, not a speed target: far above any healthy figure.
    assert!(slowest < Duration::from_secs(5), "a call took {slowest:?}");
    drop(client);

    let mut cut = 0;
    let mut held = Vec::new();
    while let Some(joined) = crowd.join_next().await {
        let (kind, closed) = joined.unwrap();
        cut += usize::from(closed);
        if !closed {
            held.push(kind);
        }
    }

    assert_eq!(
        cut,
        EACH_KIND * kinds.len(),
        "every slow client is cut; still open after 30 s: {held:?}"
    );
    // A cut connection is closed a moment before its line is written: wait
    // (up to 5 s) for the last lines.
    let count_in = |lines: &[String], prefix: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with(prefix) && l.contains(" ip=127.0.2."))
            .count()
    };
    let mut lines = gw.security_lines();
    for _ in 0..50 {
        if count_in(&lines, "DENY stage=tls reason=handshake_timeout") >= 2 * EACH_KIND
            && count_in(&lines, "DENY stage=http reason=first_request_timeout") >= 2 * EACH_KIND
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        lines = gw.security_lines();
    }
    let count = |prefix: &str| count_in(&lines, prefix);
    assert_eq!(
        count("DENY stage=tls reason=handshake_timeout"),
        2 * EACH_KIND
    );
    assert_eq!(
        count("DENY stage=http reason=first_request_timeout"),
        2 * EACH_KIND
    );
    let others: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" ip=127.0.2."))
        .filter(|l| {
            !l.starts_with("ALLOW ")
                && !l.contains("reason=handshake_timeout")
                && !l.contains("reason=first_request_timeout")
        })
        .collect();
    assert!(others.is_empty(), "unexpected lines: {others:?}");
}
