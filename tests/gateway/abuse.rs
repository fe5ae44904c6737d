//! An abusive client is limited, then banned in-process, while a well-behaved
//! client on another address is served throughout; tool calls have their own
//! read and write budgets per client.

use std::time::Duration;

use serde_json::json;

use crate::common::{TestGateway, http_client_builder, initialize_body, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abusive_address_is_limited_then_banned_and_others_are_served() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.rate_limits = "requests_per_second_per_address = 3".into();
        s.tables = "[bans]\nenabled = true\nafter = 5\nwithin = \"1m\"\nban_for = \"1h\"\n".into();
    })
    .await;
    let cert = gw.client_cert("agent-a");
    let token = gw.pki.token("agent-a");
    let from = |source: &str, token: Option<&str>| {
        http_client_builder(&gw.pki.ca.issued.cert_pem, Some(&cert), token)
            .local_address(source.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    };
    let abuser = from("127.0.0.3", Some(&token));
    let liar = from("127.0.0.3", Some("not-a-jwt"));
    let good = from("127.0.0.1", Some(&token));
    let url = gw.url();

    // The well-behaved client keeps working, at a polite pace, the whole time.
    let polite = tokio::spawn({
        let (good, url) = (good.clone(), url.clone());
        async move {
            let mut statuses = Vec::new();
            for _ in 0..10 {
                let status = post(&good, &url, initialize_body("2025-11-25"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                statuses.push(status);
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            statuses
        }
    });

    // A burst with a valid token: limited (429 with Retry-After), not banned.
    let mut limited = 0;
    for _ in 0..10 {
        let response = post(&abuser, &url, initialize_body("2025-11-25"))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            limited += 1;
        }
    }
    assert!(limited > 0, "a burst of 10 was never limited");
    gw.expect_security_line_starting(
        "REFUSE stage=rate reason=rate_limited ip=127.0.0.3 client=agent-a",
    )
    .await;
    // Bad tokens: ban-worthy; the fifth bans the address.
    for _ in 0..8 {
        let _ = post(&liar, &url, initialize_body("2025-11-25"))
            .send()
            .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    gw.expect_security_line("BAN ip=127.0.0.3 for=3600s").await;
    // Banned: dropped before TLS, whatever it presents.
    let fresh = from("127.0.0.3", Some(&token));
    assert!(
        post(&fresh, &url, initialize_body("2025-11-25"))
            .send()
            .await
            .is_err()
    );
    gw.expect_security_line("DENY stage=ban reason=banned ip=127.0.0.3 client=-")
        .await;

    let statuses = polite.await.unwrap();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "the polite client was refused: {statuses:?}"
    );
    let bans = gw
        .security_lines()
        .iter()
        .filter(|l| l.starts_with("BAN "))
        .count();
    assert_eq!(bans, 1);
    assert!(
        !gw.security_lines()
            .iter()
            .any(|l| l.contains("ip=127.0.0.1") && l.starts_with("BAN"))
    );
}

#[tokio::test]
async fn tool_calls_have_read_and_write_budgets_per_client() {
    let gw = TestGateway::start_custom(|_, _, s| {
        s.rate_limits =
            "writes_per_minute_per_client = 2\nreads_per_minute_per_client = 1000".into();
    })
    .await;
    let client = gw.mcp("agent-a").await;
    let event = json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } });
    for _ in 0..2 {
        crate::common::call_ok(&client, "create_event", event.clone()).await;
    }
    let refused = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("create_event")
                .with_arguments(event.as_object().unwrap().clone()),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("rate limited: write tool calls by this client"),
        "{refused}"
    );
    gw.expect_security_line_starting(
        "REFUSE stage=rate reason=rate_limited ip=127.0.0.1 client=agent-a",
    )
    .await;
    // Reads have their own budget, and another client its own.
    crate::common::call_ok(&client, "get_current_time", json!({})).await;
    let other = gw.mcp("agent-b").await;
    crate::common::call_ok(&other, "create_event", event).await;
}

#[tokio::test]
async fn rate_limits_change_on_reload() {
    let limited = |writes: u32| crate::common::Setup {
        rate_limits: format!("writes_per_minute_per_client = {writes}"),
        ..crate::common::Setup::default()
    };
    let gw = TestGateway::start_custom(|_, _, s| s.rate_limits = limited(1).rate_limits).await;
    let config = gw.dir_path().join("gateway.toml");
    let client = gw.mcp("agent-a").await;
    let event = json!({ "summary": "x", "start": { "dateTime": "2030-01-01T10:00:00Z" }, "end": { "dateTime": "2030-01-01T11:00:00Z" } });
    let create = || {
        client.call_tool(
            rmcp::model::CallToolRequestParams::new("create_event")
                .with_arguments(event.as_object().unwrap().clone()),
        )
    };
    assert!(create().await.is_ok());
    assert!(create().await.is_err(), "one write a minute");
    std::fs::write(&config, crate::common::render(&limited(100))).unwrap();
    assert_eq!(gw.gateway.reload(&config), Ok(Vec::new()));
    assert!(create().await.is_ok(), "the new budget is in force");
}
