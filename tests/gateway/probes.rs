//! Health checks never ban the host that runs them (issue 21, item 8): the
//! `healthcheck` command asks `/ready` on the metrics listener, and a TCP
//! probe that connects and closes without a byte is counted, not written as
//! a ban-worthy handshake failure. With `[bans]` on, five such lines used to
//! ban 127.0.0.1 for an hour while the healthcheck still said healthy.

use std::time::Duration;

use crate::common::{Setup, TestGateway, initialize, render};

const BANS: &str = "[bans]\nenabled = true\nafter = 3\nwithin = \"1m\"\nban_for = \"1h\"\n";

use crate::tools::metric;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthchecks_and_tcp_probes_ban_nobody() {
    let setup = || Setup {
        tables: BANS.into(),
        ..Setup::default()
    };
    let gw = TestGateway::start_custom(|_, _, s| *s = setup()).await;
    let metrics = gw.gateway.metrics_addr.unwrap();
    let config = gw.dir_path().join("gateway.toml");
    let written = render(&Setup {
        address: gw.gateway.local_addr.to_string(),
        metrics_listen: metrics.to_string(),
        ..setup()
    });
    std::fs::write(&config, written).unwrap();

    for _ in 0..6 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mcp-gateway"))
            .args(["healthcheck", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("/ready"), "{stdout}");
    }
    for _ in 0..6 {
        let probe = tokio::net::TcpStream::connect(gw.gateway.local_addr)
            .await
            .unwrap();
        drop(probe);
    }
    let mut counted = 0.0;
    for _ in 0..50 {
        counted = metric(metrics, "mcp_gateway_silent_probes_total").await;
        if counted >= 6.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(counted >= 6.0, "{counted} probes counted");
    let lines = gw.security_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("DENY") || l.starts_with("BAN")),
        "{lines:?}"
    );
    // The host that probed is still served.
    let client = gw.http(Some(&gw.client_cert("agent-a")));
    let (session, _) = initialize(&client, &gw.url(), "2025-11-25").await;
    assert!(!session.is_empty());
}
