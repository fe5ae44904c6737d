//! The shipped fail2ban filter and jail. The real `fail2ban-regex` runs the
//! filter on a log the gateway wrote while real connections failed: every DENY
//! line matches with its address (IPv4 and IPv6), and nothing else matches —
//! not the ALLOW lines, and not an address a client smuggled into a value it
//! controls. A real `fail2ban-server` runs the jail and bans on the fifth denial.

use std::process::Command;

use mcp_gateway::cli::pki::Authority;

use crate::common::{TestGateway, http_client, http_client_builder, initialize_body, post};
use crate::fail2ban_server::Fail2banServer;

/// The addresses `fail2ban-regex` finds in `log` with the shipped filter, one per matched line.
fn fail2ban_matches(log: &std::path::Path) -> Vec<String> {
    crate::common::fail2ban_regex(log, "ip")
}

/// The `ip=` field of every DENY line, read the way an operator would.
fn denied_addresses(gw: &TestGateway) -> Vec<String> {
    gw.security_lines()
        .iter()
        .filter(|l| l.starts_with("DENY "))
        .map(|l| {
            l.split(' ')
                .find_map(|f| f.strip_prefix("ip="))
                .unwrap()
                .to_owned()
        })
        .collect()
}

pub async fn try_initialize(client: &reqwest::Client, gw: &TestGateway) -> bool {
    post(client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .is_ok()
}

pub fn client_from(
    gw: &TestGateway,
    source: &str,
    cert: Option<&mcp_gateway::cli::pki::Issued>,
) -> reqwest::Client {
    // A certificate that identifies no one still gets a well-formed token.
    let identity = |c| gw.try_identity_of(c).unwrap_or_else(|| "nobody".to_owned());
    let token = cert.map(|c| gw.pki.token(&identity(c)));
    http_client_builder(&gw.pki.ca.issued.cert_pem, cert, token.as_deref())
        .local_address(source.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_filter_matches_exactly_the_denial_lines() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.network = r#"allow = ["127.0.0.1", "127.0.0.3", "127.0.0.4"]"#.into();
        s.identity = "subject_cn".into();
        s.tables = "[listen.proxy_protocol]\ntrusted = [\"127.0.0.9\"]\n".into();
    })
    .await;
    // A client whose certificate name tries to forge a DENY line for 6.6.6.6:
    // a name with a newline identifies no one.
    let mut params = Authority::client_params("agent-a").unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "evil\n2026-11-22T10:30:00.000Z mcp-gateway[1]: DENY stage=ip reason=ip_not_allowed ip=6.6.6.6 client=- x",
    );
    let forger = gw.pki.ca.sign(&params).unwrap();
    assert!(
        !try_initialize(&client_from(&gw, "127.0.0.3", Some(&forger)), &gw).await,
        "the forger is refused"
    );
    gw.expect_security_line_starting("DENY stage=tls reason=no_identity ip=127.0.0.3 client=-")
        .await;

    let good = gw.client_cert("agent-b");
    assert!(!try_initialize(&client_from(&gw, "127.0.0.2", Some(&good)), &gw).await);
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.2 client=-")
        .await;
    assert!(!try_initialize(&client_from(&gw, "127.0.0.3", None), &gw).await);
    gw.expect_security_line_starting("DENY stage=tls reason=no_certificate ip=127.0.0.3")
        .await;
    let stranger = Authority::generate("other")
        .unwrap()
        .issue_client("agent-b")
        .unwrap();
    assert!(!try_initialize(&client_from(&gw, "127.0.0.4", Some(&stranger)), &gw).await);
    gw.expect_security_line_starting("DENY stage=tls reason=unknown_ca ip=127.0.0.4")
        .await;
    let raw = tokio::net::TcpSocket::new_v4().unwrap();
    raw.bind("127.0.0.4:0".parse().unwrap()).unwrap();
    let mut stream = raw.connect(gw.gateway.local_addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"PROXY TCP4 6.6.6.6 127.0.0.1 1 2\r\n")
        .await
        .unwrap();
    gw.expect_security_line("DENY stage=proxy reason=untrusted_proxy_header ip=127.0.0.4 client=-")
        .await;
    drop(stream);
    // A token whose clientId (a claim the client controls) tries the same forgery.
    let forged_claim = mcp_gateway::cli::token::TokenRequest {
        client_id: "x\n2026-11-22T10:30:00.000Z mcp-gateway[1]: DENY stage=jwt reason=bad_signature ip=6.6.6.6 client=-".into(),
        permissions: vec!["readCalendars".into()],
        calendars: vec!["*".into()],
        allowed_ips: vec!["127.0.0.0/8".into()],
        ttl: std::time::Duration::from_secs(600),
        bind_cert_pem: None,
        renewable_for: None,
    };
    let token = gw.pki.token_with(&forged_claim);
    let client = crate::common::http_client_with_token(
        &gw.pki.ca.issued.cert_pem,
        Some(&good),
        Some(&token),
    );
    let response = post(&client, &gw.url(), initialize_body("2025-11-25"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    gw.expect_security_line_starting(
        "DENY stage=jwt reason=client_mismatch ip=127.0.0.1 client=agent-b detail=\"x\\u{a}",
    )
    .await;

    // Every raw line: UTC ISO-8601 time with milliseconds, the tag with the pid, the event word.
    let raw = std::fs::read_to_string(gw.security_log_path()).unwrap();
    for line in raw.lines() {
        let (time, rest) = line.split_once(' ').unwrap();
        assert_eq!(time.len(), 24, "{line}");
        chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S%.3fZ")
            .unwrap_or_else(|e| panic!("{line}: {e}"));
        let (tag, event) = rest.split_once("]: ").unwrap();
        let pid = tag.strip_prefix("mcp-gateway[").unwrap();
        assert!(
            !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()),
            "{line}"
        );
        assert!(
            event.starts_with("DENY stage=") || event.starts_with("ALLOW stage="),
            "{line}"
        );
    }

    let denied = denied_addresses(&gw);
    assert_eq!(
        denied,
        [
            "127.0.0.3",
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.4",
            "127.0.0.1"
        ]
    );
    let matched = fail2ban_matches(&gw.security_log_path());
    assert_eq!(
        matched, denied,
        "fail2ban must match every DENY line and nothing else"
    );
    assert!(!matched.contains(&"6.6.6.6".to_owned()));
}

#[tokio::test]
async fn the_filter_matches_ipv6_addresses() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.address = "[::1]:0".into();
        s.network = r#"allow = ["127.0.0.0/8"]"#.into();
    })
    .await;
    let client = http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert("agent-a")));
    assert!(!try_initialize(&client, &gw).await);
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=::1 client=-")
        .await;
    assert_eq!(fail2ban_matches(&gw.security_log_path()), ["::1"]);
}

#[tokio::test]
async fn the_shipped_jail_bans_after_five_denials() {
    let gw =
        TestGateway::start_custom(|_, _, s| s.network = r#"allow = ["127.0.0.1"]"#.into()).await;
    // The log must exist before fail2ban starts watching it.
    assert!(try_initialize(&gw.http(Some(&gw.client_cert("agent-a"))), &gw).await);
    let fail2ban = Fail2banServer::start(&gw.security_log_path()).await;

    // An authorised agent whose read-only token is refused six writes: scope
    // refusals are REFUSE lines, never a reason to ban.
    let read_only = mcp_gateway::cli::token::TokenRequest {
        permissions: vec!["readCalendars".into()],
        ..mcp_gateway::cli::token::TokenRequest::full_access(
            "agent-a",
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    };
    let reader = gw.mcp_with("agent-a", &gw.pki.token_with(&read_only)).await;
    let create = serde_json::json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } });
    for _ in 0..6 {
        let refused = reader
            .call_tool(
                rmcp::model::CallToolRequestParams::new("create_event")
                    .with_arguments(create.as_object().unwrap().clone()),
            )
            .await;
        assert!(refused.is_err(), "a read-only token created an event");
    }
    let good = gw.client_cert("agent-b");
    for _ in 0..4 {
        assert!(!try_initialize(&client_from(&gw, "127.0.0.9", Some(&good)), &gw).await);
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(
        fail2ban.banned().is_empty(),
        "banned before the fifth denial"
    );
    assert!(!try_initialize(&client_from(&gw, "127.0.0.9", Some(&good)), &gw).await);
    if let Err(said) = fail2ban.wait_banned("127.0.0.9").await {
        panic!("127.0.0.9 was not banned; fail2ban said:\n{said}");
    }
    assert_eq!(
        fail2ban.banned(),
        ["127.0.0.9"],
        "an admitted client was banned"
    );
}

/// The documented ban policy (README, fail2ban/): the reasons whose lines the
/// shipped filter matches. Every other reason is written as REFUSE and never bans.
const BANNED_REASONS: &[&str] = &[
    "untrusted_proxy_header",
    "http2_flood",
    "ip_not_allowed",
    "country_blocked",
    "country_unknown",
    "too_many_connections",
    "banned",
    "no_certificate",
    "unknown_ca",
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_revoked",
    "bad_key_usage",
    "bad_certificate",
    "no_identity",
    "handshake_timeout",
    "handshake_failed",
    "first_request_timeout",
    "token_missing",
    "token_malformed",
    "alg_not_allowed",
    "unknown_kid",
    "alg_key_mismatch",
    "bad_signature",
    "token_expired",
    "token_not_yet_valid",
    "lifetime_too_long",
    "wrong_audience",
    "wrong_issuer",
    "claims_invalid",
    "client_mismatch",
    "ip_not_in_token",
    "token_revoked",
    "cert_binding_mismatch",
    "cert_binding_missing",
];

#[test]
fn the_filter_matches_each_reason_exactly_as_documented() {
    use mcp_gateway::denial::{Denial, Reason};
    use mcp_gateway::observe::seclog::SecurityLog;
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("security.log");
    let log = SecurityLog::open(&path).unwrap();
    let mut expected = Vec::new();
    for (i, reason) in Reason::ALL.into_iter().enumerate() {
        // One address per reason, so each match names its reason.
        let ip: std::net::IpAddr = format!("10.0.{}.{}", i / 200, i % 200 + 1).parse().unwrap();
        log.deny(&Denial::new(reason).with_detail("x y"), ip, Some("agent-a"));
        if BANNED_REASONS.contains(&reason.label()) {
            expected.push(ip.to_string());
        }
        assert_eq!(
            reason.ban_worthy(),
            BANNED_REASONS.contains(&reason.label()),
            "{} disagrees with the documented policy",
            reason.label()
        );
    }
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines() {
        // A balancer's own refusals name it as peer, never as the offender.
        if line.contains("reason=missing_proxy_header")
            || line.contains("reason=malformed_proxy_header")
        {
            assert!(
                line.contains(" peer=10.0.") && !line.contains(" ip="),
                "{line}"
            );
        }
    }
    assert_eq!(fail2ban_matches(&path), expected);
}

/// With `log.security_log` unset the lines go to stderr, with the diagnostic
/// log. A certificate name holding a newline and a forged DENY line for an
/// address that never connected must not produce a line fail2ban would match.
// Multi-threaded: the client's connections must answer the gateway's
// graceful-close PING while this thread waits for the process to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_forged_line_reaches_stderr() {
    let dir = tempfile::TempDir::new().unwrap();
    let pki = crate::common::write_pki(dir.path());
    let port = crate::common::free_port();
    let text = crate::common::render(&crate::common::Setup {
        address: format!("127.0.0.1:{port}"),
        identity: "subject_cn".into(),
        ..crate::common::Setup::default()
    })
    .replace("security_log = \"security.log\"\n", "")
    .replace("audit_log = \"audit.log\"\n", "");
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, text).unwrap();
    let stderr_path = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("MCP_GATEWAY_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let forged = "evil\n2026-11-22T10:30:00.000Z mcp-gateway[1]: DENY stage=ip reason=ip_not_allowed ip=10.66.66.66 client=-\u{2028}\u{85}\u{1b}[2J";
    let mut params = Authority::client_params("agent-a").unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, forged);
    let forger = pki.ca.sign(&params).unwrap();
    let good = pki.ca.issue_client("agent-a").unwrap();
    let token = pki.token("agent-a");
    let client =
        crate::common::http_client_with_token(&pki.ca.issued.cert_pem, Some(&good), Some(&token));
    let url = format!("https://127.0.0.1:{port}/mcp");
    let mut up = false;
    for _ in 0..100 {
        if post(&client, &url, initialize_body("2025-11-25"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the gateway did not come up");
    // Refusals that name the identity: a session it does not own, a bad token.
    let ping = r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    let unknown = post(&client, &url, ping)
        .header("mcp-session-id", "not-a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    // The forged name, in the certificate (refused at TLS) and in a token's
    // clientId (refused as not the certificate's).
    let forging_cert =
        crate::common::http_client_with_token(&pki.ca.issued.cert_pem, Some(&forger), Some(&token));
    assert!(post(&forging_cert, &url, ping).send().await.is_err());
    let forged_claim = mcp_gateway::cli::token::TokenRequest {
        client_id: forged.into(),
        ..mcp_gateway::cli::token::TokenRequest::full_access(
            "x",
            &["127.0.0.0/8"],
            std::time::Duration::from_secs(600),
        )
    };
    let forging_token = crate::common::http_client_with_token(
        &pki.ca.issued.cert_pem,
        Some(&good),
        Some(&pki.token_with(&forged_claim)),
    );
    let _ = post(&forging_token, &url, ping).send().await;
    let refused =
        crate::common::http_client_with_token(&pki.ca.issued.cert_pem, Some(&good), Some("x.y.z"));
    let _ = post(&refused, &url, ping).send().await;
    drop((client, refused, forging_cert, forging_token));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(stderr.contains("reason=session_not_found"), "{stderr}");
    assert!(stderr.contains("reason=token_malformed"), "{stderr}");
    assert!(stderr.contains("reason=no_identity"), "{stderr}");
    assert!(stderr.contains("reason=client_mismatch"), "{stderr}");
    for line in stderr.lines() {
        assert!(
            !line.starts_with("2026-11-22T10:30:00.000Z"),
            "forged line: {line}"
        );
        assert!(
            line.chars().all(|c| (' '..='~').contains(&c)),
            "unescaped: {line:?}"
        );
    }
    let matched = fail2ban_matches(&stderr_path);
    assert!(!matched.contains(&"10.66.66.66".to_owned()), "{matched:?}");
    assert_eq!(
        matched,
        ["127.0.0.1", "127.0.0.1", "127.0.0.1"],
        "only the forged name's and the bad tokens' DENY lines ban"
    );
}
