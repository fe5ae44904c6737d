//! Bans shared between replicas hold for the whole deployment (issue 21,
//! items 6, 12, 13, 14): the ban threshold counts every replica's strikes;
//! a restarted replica knows the bans before it serves; the shared folder's
//! files are untrusted (a link to /dev/zero, a FIFO, numbers out of range,
//! a flood of bans) and never stop the sharing or crowd out a real ban; the
//! files of replicas that are gone are removed once their bans have ended.

use std::time::Duration;

use serde_json::json;

use crate::common::{call_stateless, free_port};
use crate::replica_harness::{
    Cluster, Connections, REPLICAS, STUFFER, client_from, direct_client, within,
};

const BANS: &str = "[bans]\nenabled = true\nafter = 5\nwithin = \"1m\"\nban_for = \"1h\"\nmax_addresses = 10\nshared_dir = \"bans\"\n";

fn jwt_denials(cluster: &Cluster) -> Vec<usize> {
    let line = format!("DENY stage=jwt reason=token_malformed ip={STUFFER} ");
    (0..REPLICAS.len())
        .map(|n| cluster.lines_with(n, &line))
        .collect()
}

/// Forged tokens spread round-robin by HAProxy: the fifth in the deployment
/// bans, although no replica saw five (before: the 13th, 4 + 4 + 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ban_threshold_holds_for_the_deployment() {
    let cluster = Cluster::start(BANS).await;
    let listen = free_port();
    let _haproxy = cluster.balance(listen, |config| config).await;
    let stuffer = client_from(
        &cluster.pki,
        STUFFER,
        ("agent-h", Some("forged")),
        Connections::PerCall,
    );
    let url = format!("https://127.0.0.1:{listen}/mcp");
    for n in 0..5 {
        let (status, _) = call_stateless(&stuffer, &url, "get_current_time", json!({})).await;
        assert_eq!(status, 401, "try {n}");
        // Longer than one sharing interval: the counts reach every replica
        // (the bound docs/DEPLOYMENT.md states).
        tokio::time::sleep(mcp_gateway::gateway::shared_bans::INTERVAL * 3).await;
    }
    let spread = jwt_denials(&cluster);
    assert_eq!(spread.iter().sum::<usize>(), 5, "{spread:?}");
    assert!(
        spread.iter().all(|n| *n < 5),
        "one replica saw all: {spread:?}"
    );
    // Banned everywhere now: the next try reaches no replica's TLS.
    let banned = within(Duration::from_secs(5), async || {
        stuffer.post(&url).body("{}").send().await.is_err()
    })
    .await;
    assert!(
        banned.is_some(),
        "not banned after five denials: {spread:?}"
    );
    assert_eq!(jwt_denials(&cluster).iter().sum::<usize>(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_neither_stop_the_sharing_nor_outlive_their_writers() {
    let mut cluster = Cluster::start(BANS).await;
    let folder = cluster.path().join("bans");
    // What a local user (or a broken replica) may leave in the folder.
    std::os::unix::fs::symlink("/dev/zero", folder.join("zero.bans")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(folder.join("fifo.bans"))
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(
        folder.join("numbers.bans"),
        "10.9.9.9 99999999999999999999999\n10.9.9.8 18446744073709551615\nstrikes 10.9.9.7 18446744073709551615 18446744073709551615\n",
    )
    .unwrap();
    let flood: String = (0..50)
        .map(|i| format!("10.8.0.{i} 9999999999\n"))
        .collect();
    std::fs::write(folder.join("flood.bans"), flood).unwrap();
    // A replica gone long ago: its bans ended, its file untouched for minutes.
    std::fs::write(folder.join("ghost-1.bans"), "10.7.7.7 1000\n").unwrap();
    let aged = std::process::Command::new("touch")
        .args(["-d", "10 minutes ago"])
        .arg(folder.join("ghost-1.bans"))
        .status()
        .unwrap();
    assert!(aged.success());

    // Sharing goes on: a ban decided by replica 0 holds on replica 1.
    let (pki, port) = (&cluster.pki, cluster.port);
    let (stuffer, url) = direct_client(pki, 0, port, STUFFER, "forged");
    for _ in 0..5 {
        let (status, _) = call_stateless(&stuffer, &url, "get_current_time", json!({})).await;
        assert_eq!(status, 401);
    }
    let (elsewhere, url_1) = direct_client(pki, 1, port, STUFFER, "forged");
    let refused = within(Duration::from_secs(10), async || {
        elsewhere.post(&url_1).body("{}").send().await.is_err()
    })
    .await;
    assert!(
        refused.is_some(),
        "replica 1 never took the ban in:\n{}",
        cluster.security_log(1)
    );
    // The flood took half the table at most: this replica's own ban went in.
    let log = cluster.security_log(1);
    let imported_flood = log.lines().filter(|l| l.contains("BAN ip=10.8.0.")).count();
    assert!(
        imported_flood <= 5,
        "{imported_flood} flooded bans imported"
    );
    assert!(
        !log.contains("ip=10.9.9."),
        "an out-of-range entry was taken in:\n{log}"
    );
    // The gone replica's file is removed; the others' stay.
    let removed = within(Duration::from_secs(5), async || {
        !folder.join("ghost-1.bans").exists()
    })
    .await;
    assert!(removed.is_some(), "a gone replica's file stayed");
    // Every replica is alive and small: nothing read /dev/zero.
    for n in 0..REPLICAS.len() {
        let pid = cluster.replicas[n].as_ref().unwrap().0.id();
        let rss = crate::tools::rss_kib(pid);
        assert!(rss < 200 * 1024, "replica {n} holds {rss} KiB");
        let stderr =
            std::fs::read_to_string(cluster.path().join(format!("gateway-{n}.stderr"))).unwrap();
        assert!(!stderr.contains("panicked"), "{stderr}");
        // Each bad file is said once, not every half second.
        let said = stderr.lines().filter(|l| l.contains("zero.bans")).count();
        assert_eq!(said, 1, "replica {n}:\n{stderr}");
    }

    // A restarted replica refuses the banned address from its first
    // connection. (The flood goes first: imported bans take half the table
    // at most, and files are read in no set order.)
    std::fs::remove_file(folder.join("flood.bans")).unwrap();
    let (again, url_2) = direct_client(pki, 2, port, STUFFER, "forged");
    cluster.restart(2);
    let served = within(Duration::from_secs(20), async || {
        tokio::net::TcpStream::connect((REPLICAS[2], port))
            .await
            .is_ok()
    })
    .await;
    assert!(served.is_some(), "replica 2 did not come back");
    assert!(again.post(&url_2).body("{}").send().await.is_err());
    // The new process's lines: it refused the address, it never admitted it.
    let pid = cluster.replicas[2].as_ref().unwrap().0.id();
    let log = cluster.security_log(2);
    let new_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("mcp-gateway[{pid}]:")))
        .collect();
    assert!(
        new_lines
            .iter()
            .any(|l| l.contains(&format!("DENY stage=ban reason=banned ip={STUFFER} "))),
        "{new_lines:?}"
    );
    assert!(
        !new_lines
            .iter()
            .any(|l| l.contains(&format!("ALLOW stage=tls ip={STUFFER} "))),
        "the restarted replica admitted a banned address: {new_lines:?}"
    );
}
