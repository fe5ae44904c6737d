//! Three replicas of the real binary behind the real HAProxy from Debian, run
//! with the shipped `deploy/haproxy/haproxy.cfg` (only its addresses
//! changed): TCP mode, PROXY v2 to the replicas, `/ready` checked on their
//! metrics ports. A client's workload goes through HAProxy while one replica
//! is killed with SIGKILL: every call succeeds and every acknowledged write is
//! there. Every replica's security log names the client's address, never the
//! balancer's. A `jti` revoked, while the writes go on, in the revocation file
//! the replicas share is refused by every replica, and an address one replica bans is refused by
//! every replica (`bans.shared_dir`), each within the time printed. The
//! shipped fail2ban jail on the balancer host, reading every replica's log,
//! bans an attacker whose denials HAProxy spread over the replicas.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{call_stateless, free_port};
use crate::fail2ban_server::Fail2banServer;
use crate::replica_harness::{
    BALANCER, CLIENT, Cluster, Connections, REPLICAS, STUFFER, client_from, create_through,
    direct_client, within,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_behind_haproxy_survive_a_kill_and_share_revocations() {
    let mut cluster = Cluster::start("").await;
    let listen = free_port();
    let _haproxy = cluster.balance(listen, |config| config).await;
    let (pki, port) = (&cluster.pki, cluster.port);

    let token = pki.token("agent-h");
    let client = client_from(pki, CLIENT, ("agent-h", Some(&token)), Connections::PerCall);
    let url = format!("https://127.0.0.1:{listen}/mcp");
    let all_up = within(Duration::from_secs(20), async || {
        call_stateless(&client, &url, "get_current_time", json!({}))
            .await
            .0
            == 200
    })
    .await;
    assert!(all_up.is_some(), "no replica answered through HAProxy");

    // The workload, with a replica killed (SIGKILL) at its 15th write, before
    // HAProxy has noticed.
    let victim = cluster.replicas[1].take();
    let workload = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move {
            let mut victim = victim;
            let mut created = Vec::new();
            for n in 0..45 {
                if n == 15 {
                    drop(victim.take());
                }
                let event = json!({
                    "summary": format!("through haproxy {n}"),
                    "start": { "dateTime": format!("2033-01-01T{:02}:00:00Z", n % 24) },
                    "end": { "dateTime": format!("2033-01-01T{:02}:30:00Z", n % 24) },
                });
                created.push(create_through(&client, &url, &format!("call {n}"), event).await);
            }
            created
        }
    });

    // While it runs, another token's jti is revoked in the shared file: every
    // live replica, asked directly, refuses it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let doomed = pki.token("agent-h");
    let claims = doomed.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, claims).unwrap(),
    )
    .unwrap();
    let next = cluster.path().join("revoked.new");
    std::fs::write(&next, format!("{}\n", claims["jti"].as_str().unwrap())).unwrap();
    std::fs::rename(&next, cluster.path().join("revoked.txt")).unwrap();
    let revoked_at = Instant::now();
    for (n, replica) in cluster.replicas.iter().enumerate() {
        if replica.is_none() {
            continue;
        }
        let (direct, direct_url) = direct_client(pki, n, port, CLIENT, &doomed);
        let took = within(Duration::from_secs(10), async || {
            call_stateless(&direct, &direct_url, "get_current_time", json!({}))
                .await
                .0
                == 401
        })
        .await;
        took.unwrap_or_else(|| panic!("replica {n} still honours the revoked token"));
        println!(
            "replica {n} refused the revoked jti {:?} after it was written",
            revoked_at.elapsed()
        );
    }
    let created = workload.await.unwrap();
    for id in &created {
        let (_, got) = call_stateless(&client, &url, "get_event", json!({ "eventId": id })).await;
        assert!(
            got["result"]["structuredContent"]["summary"].is_string(),
            "{id}: {got}"
        );
    }

    // Every replica that served saw the client, never the balancer.
    let mut served = 0;
    for n in 0..REPLICAS.len() {
        let log = cluster.security_log(n);
        assert!(
            !log.contains(&format!("ip={BALANCER} ")),
            "replica {n} names the balancer:\n{log}"
        );
        if log.contains(&format!("ALLOW stage=tls ip={CLIENT} client=agent-h")) {
            served += 1;
        }
    }
    assert!(served >= 2, "HAProxy did not spread the calls");

    for (n, replica) in cluster.replicas.iter().enumerate() {
        if replica.is_some() {
            let log = cluster.security_log(n);
            assert!(
                log.contains(&format!(
                    "DENY stage=jwt reason=token_revoked ip={CLIENT} client=agent-h"
                )),
                "replica {n}:\n{log}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_decided_by_one_replica_holds_on_every_replica() {
    let bans = "[bans]\nenabled = true\nafter = 3\nwithin = \"1m\"\nban_for = \"1h\"\nshared_dir = \"bans\"\n";
    let cluster = Cluster::start(bans).await;
    let (pki, port) = (&cluster.pki, cluster.port);
    let good = pki.token("agent-h");
    // Three forged tokens on replica 0 ban the stuffer there.
    let (stuffer, url) = direct_client(pki, 0, port, STUFFER, "forged");
    for _ in 0..3 {
        let (status, _) = call_stateless(&stuffer, &url, "get_current_time", json!({})).await;
        assert_eq!(status, 401);
    }
    let banned_at = Instant::now();
    for n in 1..REPLICAS.len() {
        let (stuffer, url) = direct_client(pki, n, port, STUFFER, &good);
        let took = within(Duration::from_secs(10), async || {
            stuffer.post(&url).body("{}").send().await.is_err()
        })
        .await;
        took.unwrap_or_else(|| panic!("replica {n} still serves the address replica 0 banned"));
        println!(
            "replica {n} refused the address banned by replica 0 {:?} after the ban",
            banned_at.elapsed()
        );
        let log = cluster.security_log(n);
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("BAN ip={STUFFER} for=")) && l.contains(" from=")),
            "replica {n}:\n{log}"
        );
        assert!(
            log.contains(&format!("DENY stage=ban reason=banned ip={STUFFER}")),
            "{log}"
        );
        // Everyone else is still served there.
        let (client, url) = direct_client(pki, n, port, CLIENT, &good);
        let (status, _) = call_stateless(&client, &url, "get_current_time", json!({})).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail2ban_on_the_balancer_host_counts_denials_across_replicas() {
    let cluster = Cluster::start("").await;
    let listen = free_port();
    let _haproxy = cluster.balance(listen, |config| config).await;
    let pki = &cluster.pki;
    // The shipped jail, reading every replica's log, as on the balancer host.
    let fail2ban = Fail2banServer::start(&cluster.path().join("security-*.log")).await;

    // Six forged tokens, each on a new connection: HAProxy spreads them, so
    // no replica alone sees the five the jail bans for.
    let stuffer = client_from(
        pki,
        STUFFER,
        ("agent-h", Some("forged")),
        Connections::PerCall,
    );
    let url = format!("https://127.0.0.1:{listen}/mcp");
    for _ in 0..6 {
        let (status, _) = call_stateless(&stuffer, &url, "get_current_time", json!({})).await;
        assert_eq!(status, 401);
    }
    if let Err(said) = fail2ban.wait_banned(STUFFER).await {
        panic!("fail2ban did not ban {STUFFER}; it said:\n{said}");
    }
    let per_replica: Vec<usize> = (0..REPLICAS.len())
        .map(|n| {
            cluster.lines_with(
                n,
                &format!("DENY stage=jwt reason=bad_signature ip={STUFFER} "),
            ) + cluster.lines_with(
                n,
                &format!("DENY stage=jwt reason=token_malformed ip={STUFFER} "),
            )
        })
        .collect();
    assert_eq!(per_replica.iter().sum::<usize>(), 6, "{per_replica:?}");
    assert!(
        per_replica.iter().all(|n| *n < 5),
        "one replica saw enough alone: {per_replica:?}"
    );
    assert_eq!(
        fail2ban.banned(),
        [STUFFER],
        "only the stuffer, never the balancer"
    );
}
