//! With the PROXY protocol on, nothing a client or a balancer can make the
//! gateway wait for escapes the per-address cap or a ban (issue 21, item 4):
//! one address capped at 10 once held all 100 connection slots while the
//! gateway waited for its first byte, a banned address did too, and the line
//! named the TLS stage though TLS never started.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::TestGateway;

const BALANCER: &str = "127.0.0.9";
const CAP: usize = 3;

async fn connect_from(gw: &TestGateway, source: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(gw.gateway.local_addr).await.unwrap()
}

/// Whether the gateway closed `stream` (read returns end of file) within a moment.
async fn closed(stream: &mut TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(1500), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// How many of `streams` the gateway closed, all watched at once; the
/// streams come back (those still open keep their places).
async fn count_closed(streams: Vec<TcpStream>) -> (usize, Vec<TcpStream>) {
    let watched: Vec<_> = streams
        .into_iter()
        .map(|mut stream| tokio::spawn(async move { (closed(&mut stream).await, stream) }))
        .collect();
    let mut count = 0;
    let mut back = Vec::new();
    for task in watched {
        let (closed, stream) = task.await.unwrap();
        count += usize::from(closed);
        back.push(stream);
    }
    (count, back)
}

fn count(gw: &TestGateway, start: &str) -> usize {
    gw.security_lines()
        .iter()
        .filter(|l| l.starts_with(start))
        .count()
}

/// The lines starting with `start`, once there are `wanted` of them (a cut
/// connection is closed a moment before its line is written) or 5 s passed.
async fn lines(gw: &TestGateway, start: &str, wanted: usize) -> usize {
    for _ in 0..50 {
        if count(gw, start) >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    count(gw, start)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_meet_the_caps_before_any_byte() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.listen = format!("max_connections_per_address = {CAP}\nhandshake_timeout = \"4s\"");
        s.tables = format!(
            "[listen.proxy_protocol]\ntrusted = [\"{BALANCER}\"]\n\n[bans]\nenabled = true\nafter = 100\nwithin = \"1m\"\nban_for = \"1h\"\n"
        );
    })
    .await;

    // A client connecting directly, silent: its cap holds while the gateway
    // waits for its first byte; the rest are refused at once.
    let mut direct = Vec::new();
    for _ in 0..CAP + 4 {
        direct.push(connect_from(&gw, "127.0.0.5").await);
    }
    let (refused, _held_direct) = count_closed(direct).await;
    assert_eq!(refused, 4, "{:?}", gw.security_lines());
    assert_eq!(
        lines(
            &gw,
            "DENY stage=limit reason=too_many_connections ip=127.0.0.5 client=-",
            4
        )
        .await,
        4
    );

    // Through the balancer: connections still waiting for their header are
    // capped per balancer (its own refusal: never ban-worthy)...
    let mut waiting = Vec::new();
    for _ in 0..CAP + 2 {
        waiting.push(connect_from(&gw, BALANCER).await);
    }
    let (refused, waiting) = count_closed(waiting).await;
    assert_eq!(refused, 2);
    assert_eq!(
        lines(
            &gw,
            &format!("REFUSE stage=limit reason=too_many_connections peer={BALANCER} client=-"),
            2
        )
        .await,
        2
    );
    drop(waiting);
    // Their places come back once the gateway sees them close.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // ...and the address a header names is capped as soon as it is read.
    let mut named = Vec::new();
    for _ in 0..CAP + 2 {
        let mut stream = connect_from(&gw, BALANCER).await;
        stream
            .write_all(b"PROXY TCP4 127.0.0.7 127.0.0.1 40000 443\r\n")
            .await
            .unwrap();
        named.push(stream);
    }
    let (refused, _held_named) = count_closed(named).await;
    assert_eq!(refused, 2, "{:#?}", gw.security_lines());
    assert_eq!(
        lines(
            &gw,
            "DENY stage=limit reason=too_many_connections ip=127.0.0.7 client=-",
            2
        )
        .await,
        2
    );

    // The silent direct ones are cut at the deadline, each with one line on
    // the stage that waited (the TLS handshake they owed never began).
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        lines(
            &gw,
            "DENY stage=tls reason=handshake_timeout ip=127.0.0.5 client=-",
            CAP
        )
        .await,
        CAP
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_address_is_dropped_before_it_is_waited_for() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.tables = format!(
            "[listen.proxy_protocol]\ntrusted = [\"{BALANCER}\"]\n\n[bans]\nenabled = true\nafter = 2\nwithin = \"1m\"\nban_for = \"1h\"\n"
        );
    })
    .await;
    for _ in 0..2 {
        let mut stray = connect_from(&gw, "127.0.0.6").await;
        stray
            .write_all(b"PROXY TCP4 10.0.0.1 127.0.0.1 40000 443\r\n")
            .await
            .unwrap();
        assert!(closed(&mut stray).await);
    }
    gw.expect_security_line_starting("BAN ip=127.0.0.6").await;
    // Silent now: dropped at once, not held until the deadline.
    let mut silent = connect_from(&gw, "127.0.0.6").await;
    assert!(closed(&mut silent).await, "a banned address was held");
    gw.expect_security_line("DENY stage=ban reason=banned ip=127.0.0.6 client=-")
        .await;
    // A banned address behind the balancer is dropped as soon as the header names it.
    let mut behind = connect_from(&gw, BALANCER).await;
    behind
        .write_all(b"PROXY TCP4 127.0.0.6 127.0.0.1 40000 443\r\n")
        .await
        .unwrap();
    assert!(closed(&mut behind).await);
    assert_eq!(
        lines(&gw, "DENY stage=ban reason=banned ip=127.0.0.6 client=-", 2).await,
        2
    );
}
