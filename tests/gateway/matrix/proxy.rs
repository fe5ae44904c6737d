//! Matrix rows for the PROXY protocol: only the trusted balancer
//! (127.0.0.9) may send a header, and from it one is required. A stranger
//! sending one is an attack (`DENY stage=proxy`, ban-worthy); the balancer's
//! own missing or malformed header is its operator's problem (`REFUSE`,
//! naming it as `peer=`, never as `ip=`, so fail2ban cannot ban it). Its
//! health checks (a bare connect, or a LOCAL header, then close) write
//! nothing; a LOCAL connection the TLS stage refuses is the balancer's own
//! (`REFUSE … peer=`), never a ban on the balancer and all behind it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ppp::v2::{Builder, Command, Protocol, Version};

use super::ledger::{Ledger, Line, Seen};
use super::tls_client::{attempt_from, presenting, roots};
use crate::common::TestGateway;

const CLIENT: &str = "agent-p";
const BALANCER: &str = "127.0.0.9";

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn v1(source: &str) -> Vec<u8> {
    format!("PROXY TCP4 {source} 127.0.0.1 40000 443\r\n").into_bytes()
}

fn v2(command: Command, addresses: ppp::v2::Addresses) -> Vec<u8> {
    Builder::with_addresses(Version::Two | command, Protocol::Stream, addresses)
        .build()
        .unwrap()
}

fn v2_v4(source: Ipv4Addr) -> Vec<u8> {
    v2(
        Command::Proxy,
        ppp::v2::IPv4::new(source, Ipv4Addr::LOCALHOST, 40000, 443).into(),
    )
}

/// A health check from the balancer: connect, send `sent`, close. Waits a
/// little, so that a line it caused is counted on its row, not the next.
async fn health_check(gw: &TestGateway, sent: &[u8]) -> Seen {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::new(ip(BALANCER).unwrap(), 0))
        .unwrap();
    let mut tcp = socket.connect(gw.gateway.local_addr).await.unwrap();
    tcp.write_all(sent).await.unwrap();
    drop(tcp);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Seen::NoAnswer
}

#[tokio::test]
async fn only_the_balancer_may_speak_proxy_and_only_well() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.network = r#"allow = ["127.0.0.0/8", "::1", "2001:db8::/32"]"#.into();
        s.tables = format!("[listen.proxy_protocol]\ntrusted = [\"{BALANCER}\"]\n");
    })
    .await;
    let cert = gw.pki.ca.issue_client(CLIENT).unwrap();
    let config = || presenting(&gw, &cert.cert_pem, &cert.key_pem);
    let deny =
        |ip: &str| format!("DENY stage=proxy reason=untrusted_proxy_header ip={ip} client=-");
    let balancer =
        |reason: &str| format!("REFUSE stage=proxy reason={reason} peer={BALANCER} client=-");
    let mut ledger = Ledger::new("proxy", &gw);

    let controls: Vec<(&str, Vec<u8>)> = vec![
        ("control: v1 from the balancer", v1("127.0.0.5")),
        (
            "control: v2 from the balancer",
            v2_v4(Ipv4Addr::new(127, 0, 0, 6)),
        ),
        // A health check carries no client: the balancer itself is the client.
        (
            "control: v2 LOCAL from the balancer",
            v2(Command::Local, ppp::v2::Addresses::Unspecified),
        ),
        (
            "control: v1 UNKNOWN from the balancer",
            b"PROXY UNKNOWN\r\n".to_vec(),
        ),
    ];
    for (name, header) in controls {
        let seen = attempt_from(&gw, ip(BALANCER), &header, config(), CLIENT).await;
        ledger.row(&gw, name, seen, Seen::Ok, Line::None).await;
    }

    // The real address, not the balancer's, is what the token is checked
    // against (this token allows 127.0.0.0/8), and what a ban would name.
    let v6 = v2(
        Command::Proxy,
        ppp::v2::IPv6::new(
            "2001:db8::7".parse::<Ipv6Addr>().unwrap(),
            Ipv6Addr::LOCALHOST,
            40000,
            443,
        )
        .into(),
    );
    let seen = attempt_from(&gw, ip(BALANCER), &v6, config(), CLIENT).await;
    let outside = format!("DENY stage=jwt reason=ip_not_in_token ip=2001:db8::7 client={CLIENT}");
    ledger
        .row(
            &gw,
            "v2 IPv6 from the balancer, outside the token",
            seen,
            Seen::Status(401),
            Line::Deny(&outside),
        )
        .await;

    for (name, header) in [
        ("v1 from a stranger", v1("10.1.1.1")),
        ("v2 from a stranger", v2_v4(Ipv4Addr::new(10, 1, 1, 1))),
        ("v1 from a stranger naming the balancer", v1(BALANCER)),
    ] {
        let seen = attempt_from(&gw, ip("127.0.0.1"), &header, config(), CLIENT).await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::NoAnswer,
                Line::Deny(&deny("127.0.0.1")),
            )
            .await;
    }

    let mut bad_signature = v2_v4(Ipv4Addr::new(127, 0, 0, 6));
    bad_signature[5] ^= 0xff;
    let mut huge_length = v2_v4(Ipv4Addr::new(127, 0, 0, 6));
    huge_length[14..16].copy_from_slice(&60_000u16.to_be_bytes());
    let mut bad_version = v2_v4(Ipv4Addr::new(127, 0, 0, 6));
    bad_version[12] = 0x31;
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        (
            "v1 with a bad address",
            b"PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n".to_vec(),
        ),
        (
            "v1 with a bad port",
            b"PROXY TCP4 127.0.0.5 127.0.0.1 70000 2\r\n".to_vec(),
        ),
        (
            "v1 with words missing",
            b"PROXY TCP4 127.0.0.5\r\n".to_vec(),
        ),
        (
            "v1 with an unknown family",
            b"PROXY UDP4 127.0.0.5 127.0.0.1 1 2\r\n".to_vec(),
        ),
        (
            "v1 longer than 107 bytes",
            format!("PROXY TCP4 {}\r\n", "1".repeat(200)).into_bytes(),
        ),
        (
            "v1 with a bare LF",
            b"PROXY TCP4 127.0.0.5 127.0.0.1 1 2\n\r\n".to_vec(),
        ),
        ("v2 with a bad signature", bad_signature),
        ("v2 announcing 60,000 bytes", huge_length),
        ("v2 with version 3", bad_version),
    ];
    for (name, header) in malformed {
        let seen = attempt_from(&gw, ip(BALANCER), &header, config(), CLIENT).await;
        ledger
            .row(
                &gw,
                name,
                seen,
                Seen::NoAnswer,
                Line::Refuse(&balancer("malformed_proxy_header")),
            )
            .await;
    }
    let local = v2(Command::Local, ppp::v2::Addresses::Unspecified);
    let seen = health_check(&gw, b"").await;
    ledger
        .row(
            &gw,
            "health check: connect, close",
            seen,
            Seen::NoAnswer,
            Line::None,
        )
        .await;
    let seen = health_check(&gw, &local).await;
    ledger
        .row(
            &gw,
            "health check: LOCAL, close",
            seen,
            Seen::NoAnswer,
            Line::None,
        )
        .await;
    let seen = health_check(&gw, &[local.as_slice(), b"GET / HTTP/1.0\r\n\r\n"].concat()).await;
    ledger
        .row(
            &gw,
            "health check: LOCAL, then plain HTTP",
            seen,
            Seen::NoAnswer,
            Line::Refuse(&format!(
                "REFUSE stage=tls reason=handshake_failed peer={BALANCER} client=-"
            )),
        )
        .await;
    let mut anonymous = rustls::ClientConfig::builder()
        .with_root_certificates(roots(&gw))
        .with_no_client_auth();
    anonymous.alpn_protocols = vec![b"http/1.1".to_vec()];
    let seen = attempt_from(&gw, ip(BALANCER), &local, anonymous, CLIENT).await;
    ledger
        .row(
            &gw,
            "health check: LOCAL, then TLS without a certificate",
            seen,
            Seen::NoAnswer,
            Line::Refuse(&format!(
                "REFUSE stage=tls reason=no_certificate peer={BALANCER} client=-"
            )),
        )
        .await;
    let seen = attempt_from(&gw, ip(BALANCER), b"", config(), CLIENT).await;
    ledger
        .row(
            &gw,
            "the balancer without a header",
            seen,
            Seen::NoAnswer,
            Line::Refuse(&balancer("missing_proxy_header")),
        )
        .await;
    ledger.finish(&gw);
}
