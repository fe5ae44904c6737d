//! Credential stuffing under load, against the real `fail2ban-server` running
//! the shipped jail: one address sends forged tokens from eight workers at
//! once; it is rate limited, banned in-process, and banned by fail2ban. In the
//! same minutes an authorised client is refused writes its token does not
//! allow, a trusted balancer runs its health checks (bare, PROXY LOCAL, and
//! TLS without a certificate) and forwards a real client: none of them is ever
//! banned, by the gateway or by fail2ban.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use mcp_gateway::cli::token::{TokenRequest, claims, sign};
use mcp_gateway::policy::token::keys::{generate_ed25519_pem, load_signing_key};

use crate::common::{
    AUDIENCE, ISSUER, TestGateway, call_stateless, http_client_builder, initialize_body, post,
};
use crate::fail2ban_server::Fail2banServer;

const STUFFER: &str = "127.0.0.9";
const READER: &str = "127.0.0.1";
const BALANCER: &str = "127.0.0.50";
const BEHIND_BALANCER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 77);

/// What the stuffer saw, by kind.
#[derive(Default, Debug)]
struct Outcomes {
    unauthorized: u32,
    limited: u32,
    /// 403: the request that found its connection's address banned.
    banned: u32,
    cut: u32,
    other: Vec<String>,
}

/// The `n`th forged token: signed by a key the gateway does not know, signed
/// and then altered, or not a JWT at all.
fn forged(n: usize, stranger: &mcp_gateway::policy::token::keys::SigningKey) -> String {
    let request = TokenRequest::full_access("agent-s", &["127.0.0.0/8"], Duration::from_secs(600));
    let token = sign(&claims(&request, ISSUER, AUDIENCE).unwrap(), stranger).unwrap();
    match n % 3 {
        0 => token,
        1 => format!("{token}{n}"),
        _ => format!("guess-{n}"),
    }
}

/// One stuffing worker: a forged token every 10 ms for `seconds`.
async fn stuff(gw: Arc<TestGateway>, worker: usize, seconds: u64) -> Outcomes {
    let stranger = load_signing_key(&generate_ed25519_pem().unwrap()).unwrap();
    let client = http_client_builder(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-s")),
        None,
    )
    .local_address(STUFFER.parse::<IpAddr>().unwrap())
    .build()
    .unwrap();
    let mut seen = Outcomes::default();
    let end = std::time::Instant::now() + Duration::from_secs(seconds);
    for n in 0..1000 {
        if std::time::Instant::now() > end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        let sent = post(&client, &gw.url(), initialize_body("2025-11-25"))
            .bearer_auth(forged(worker * 1000 + n, &stranger))
            .send()
            .await;
        match sent.map(|r| r.status().as_u16()) {
            Ok(401) => seen.unauthorized += 1,
            Ok(429) => seen.limited += 1,
            Ok(403) => seen.banned += 1,
            Ok(status) => seen.other.push(status.to_string()),
            Err(_) => seen.cut += 1,
        }
    }
    seen
}

/// A balancer health check: connect from the balancer, send `sent`, close.
async fn health_check(gw: &TestGateway, sent: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::new(BALANCER.parse().unwrap(), 0))
        .unwrap();
    let mut tcp = socket.connect(gw.gateway.local_addr).await.unwrap();
    tcp.write_all(sent).await.unwrap();
}

fn proxy_v2(command: ppp::v2::Command, addresses: ppp::v2::Addresses) -> Vec<u8> {
    ppp::v2::Builder::with_addresses(
        ppp::v2::Version::Two | command,
        ppp::v2::Protocol::Stream,
        addresses,
    )
    .build()
    .unwrap()
}

/// The balancer's traffic: health checks of each kind, and a real client
/// behind it initializing; the statuses that client got.
async fn balance(gw: &TestGateway, rounds: usize) -> Vec<u16> {
    let local = proxy_v2(ppp::v2::Command::Local, ppp::v2::Addresses::Unspecified);
    let forwarded = proxy_v2(
        ppp::v2::Command::Proxy,
        ppp::v2::IPv4::new(BEHIND_BALANCER, Ipv4Addr::LOCALHOST, 40000, 443).into(),
    );
    let mut anonymous = rustls::ClientConfig::builder()
        .with_root_certificates(crate::matrix::tls_client::roots(gw))
        .with_no_client_auth();
    anonymous.alpn_protocols = vec![b"http/1.1".to_vec()];
    let anonymous = std::sync::Arc::new(anonymous);
    let cert = gw.client_cert("agent-b");
    let token = gw.pki.token("agent-b");
    let mut statuses = Vec::new();
    for _ in 0..rounds {
        health_check(gw, b"").await;
        health_check(gw, &local).await;
        // A TLS check without a client certificate: refused, as the balancer's own.
        let _ = gw
            .tls_connect_with(BALANCER.parse().ok(), &local, anonymous.clone())
            .await;
        let mut tls = gw
            .tls_connect_from(BALANCER.parse().ok(), &forwarded, &cert, b"http/1.1")
            .await
            .unwrap();
        statuses.push(
            TestGateway::raw_initialize(&mut tls, &token)
                .await
                .unwrap_or(0),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    statuses
}

/// An authorised client with a read-only token, trying to write: each try is
/// refused by scope (`REFUSE`), and must never count towards a ban.
async fn overreach(gw: &TestGateway, tries: usize) -> usize {
    let read_only = TokenRequest {
        permissions: vec!["readCalendars".into()],
        ..TokenRequest::full_access("agent-r", &["127.0.0.0/8"], Duration::from_secs(600))
    };
    let client = http_client_builder(
        &gw.pki.ca.issued.cert_pem,
        Some(&gw.client_cert("agent-r")),
        Some(&gw.pki.token_with(&read_only)),
    )
    .local_address(READER.parse::<IpAddr>().unwrap())
    .build()
    .unwrap();
    let event = json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } });
    let mut refused = 0;
    for _ in 0..tries {
        let (status, answer) =
            call_stateless(&client, &gw.url(), "create_event", event.clone()).await;
        if status == 403 || answer["error"]["code"] == -32003 {
            refused += 1;
        }
        // Under the address's rate limit: only scope refuses it.
        tokio::time::sleep(Duration::from_millis(350)).await;
    }
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuffing_is_limited_and_banned_and_nobody_else_is() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.network = r#"allow = ["127.0.0.0/8"]"#.into();
        s.rate_limits = "requests_per_second_per_address = 4".into();
        s.tables = format!(
            "[listen.proxy_protocol]\ntrusted = [\"{BALANCER}\"]\n\n[bans]\nenabled = true\nafter = 10\nwithin = \"1m\"\nban_for = \"1h\"\n"
        );
    })
    .await;
    // The log must exist before fail2ban starts watching it.
    balance(&gw, 1).await;
    let fail2ban = Fail2banServer::start(&gw.security_log_path()).await;

    let gw = Arc::new(gw);
    let workers: Vec<_> = (0..8)
        .map(|w| tokio::spawn(stuff(Arc::clone(&gw), w, 6)))
        .collect();
    let (refused, forwarded) = tokio::join!(overreach(&gw, 30), balance(&gw, 10));
    let mut stuffed = Vec::new();
    for worker in workers {
        stuffed.push(worker.await.unwrap());
    }
    if let Err(said) = fail2ban.wait_banned(STUFFER).await {
        panic!("fail2ban did not ban {STUFFER}; it said:\n{said}");
    }
    // A little longer: a late ban of anyone else would show now.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let total = stuffed.iter().fold(Outcomes::default(), |mut all, w| {
        all.unauthorized += w.unauthorized;
        all.limited += w.limited;
        all.banned += w.banned;
        all.cut += w.cut;
        all.other.extend(w.other.iter().cloned());
        all
    });
    println!("stuffing: {total:?}; scope refusals {refused}; forwarded {forwarded:?}");
    assert!(total.other.is_empty(), "{total:?}");
    assert!(
        total.unauthorized >= 10 && total.limited > 0 && total.cut > 0,
        "{total:?}"
    );
    assert_eq!(refused, 30, "every overreaching write refused by scope");
    assert!(forwarded.iter().all(|s| *s == 200), "{forwarded:?}");
    assert_eq!(fail2ban.banned(), [STUFFER], "only the stuffer is banned");

    let lines = gw.security_lines();
    let has = |start: &str| lines.iter().any(|l| l.starts_with(start));
    assert!(has(&format!("BAN ip={STUFFER} for=3600s")));
    assert!(has(&format!("DENY stage=ban reason=banned ip={STUFFER}")));
    assert!(has(&format!(
        "REFUSE stage=rate reason=rate_limited ip={STUFFER}"
    )));
    assert!(has(&format!(
        "REFUSE stage=tls reason=no_certificate peer={BALANCER}"
    )));
    // One line per refusal: each answer, and each connection cut before TLS.
    let stuffer_lines = lines
        .iter()
        .filter(|l| l.starts_with("DENY") || l.starts_with("REFUSE"))
        .filter(|l| l.contains(&format!("ip={STUFFER} ")))
        .count() as u32;
    assert_eq!(
        stuffer_lines,
        total.unauthorized + total.limited + total.banned + total.cut,
        "{total:?}"
    );
    for innocent in [READER, BALANCER, &BEHIND_BALANCER.to_string()] {
        let wrongly: Vec<&String> = lines
            .iter()
            .filter(|l| {
                (l.starts_with("DENY") || l.starts_with("BAN"))
                    && l.contains(&format!("ip={innocent} "))
            })
            .collect();
        assert!(wrongly.is_empty(), "{innocent}: {wrongly:?}");
    }
}
