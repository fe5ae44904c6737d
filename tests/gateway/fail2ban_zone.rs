//! fail2ban on a host that is not on UTC (issue 21, item 22): the shipped jail
//! reads the gateway's UTC timestamps as UTC. Without it, a fail2ban started
//! (or restarted) after the denials read them as an hour old and ignored
//! them, and warned of a "timezone problem" on every fresh one.

use crate::common::{TestGateway, http_client};
use crate::fail2ban::{client_from, try_initialize};
use crate::fail2ban_server::Fail2banServer;

#[tokio::test]
async fn the_shipped_jail_counts_denials_on_a_host_in_berlin() {
    let gw =
        TestGateway::start_custom(|_, _, s| s.network = r#"allow = ["127.0.0.1"]"#.into()).await;
    let client = http_client(&gw.pki.ca.issued.cert_pem, Some(&gw.client_cert("agent-a")));
    assert!(try_initialize(&client, &gw).await);
    // Five denials written before fail2ban (re)starts: read back from the file.
    let good = gw.client_cert("agent-b");
    for _ in 0..5 {
        assert!(!try_initialize(&client_from(&gw, "127.0.0.9", Some(&good)), &gw).await);
    }
    gw.expect_security_line("DENY stage=ip reason=ip_not_allowed ip=127.0.0.9 client=-")
        .await;
    let fail2ban =
        Fail2banServer::start_in_zone(&gw.security_log_path(), Some("Europe/Berlin")).await;
    match fail2ban.wait_banned("127.0.0.9").await {
        Ok(()) => assert!(
            !fail2ban.server_log().contains("timezone"),
            "{}",
            fail2ban.server_log()
        ),
        Err(said) => {
            panic!("127.0.0.9 was not banned under TZ=Europe/Berlin; fail2ban said:\n{said}")
        }
    }
}
