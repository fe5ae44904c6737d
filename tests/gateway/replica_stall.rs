//! A replica that stalls (stopped with SIGSTOP, as a frozen VM or a stuck
//! disk would stop it) behind the shipped HAProxy config: HAProxy marks it
//! down and sends the calls that come later to the others, yet the call that
//! was already on it is not cut: it completes once the replica resumes. (With
//! `on-marked-down shutdown-sessions`, which the shipped config once had, that
//! call was lost.)

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::free_port;
use crate::replica_harness::{CLIENT, Cluster, Connections, client_from, create_through, within};

/// Sends SIGSTOP or SIGCONT to `pid`.
fn signal(pid: u32, which: &str) {
    let sent = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_replica_marked_down_loses_no_call() {
    let cluster = Cluster::start("").await;
    let listen = free_port();
    let _haproxy = cluster.balance(listen, |config| config).await;
    let pki = &cluster.pki;
    let token = pki.token("agent-s");
    let client = client_from(pki, CLIENT, ("agent-s", Some(&token)), Connections::PerCall);
    let url = format!("https://127.0.0.1:{listen}/mcp");
    let call = |n: u32| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let event = json!({
                "summary": format!("stall {n}"),
                "start": { "dateTime": "2034-01-01T09:00:00Z" },
                "end": { "dateTime": "2034-01-01T09:30:00Z" },
            });
            let started = Instant::now();
            create_through(&client, &url, &format!("call {n}"), event).await;
            started.elapsed()
        }
    };
    for n in 0..3 {
        call(n).await;
    }

    let stalled = cluster.replicas[0].as_ref().unwrap().0.id();
    signal(stalled, "-STOP");
    let stopped_at = Instant::now();
    // Three calls at once: round robin puts one of them on the stalled replica.
    let first: Vec<_> = (10..13).map(|n| tokio::spawn(call(n))).collect();
    let haproxy_log = cluster.path().join("haproxy.stderr");
    let marked_down = within(Duration::from_secs(20), async || {
        std::fs::read_to_string(&haproxy_log)
            .unwrap_or_default()
            .contains("gw1 is DOWN")
    })
    .await;
    let resume = || signal(stalled, "-CONT");
    if marked_down.is_none() {
        resume();
        panic!(
            "HAProxy never marked the stalled replica down:\n{}",
            std::fs::read_to_string(&haproxy_log).unwrap_or_default()
        );
    }
    // Out of rotation: the calls that come now go to the other replicas.
    for n in 20..23 {
        call(n).await;
    }
    let resumed_after = stopped_at.elapsed();
    resume();
    let mut waited = Vec::new();
    for handle in first {
        waited.push(handle.await.unwrap());
    }
    println!("stalled for {resumed_after:?}; the three calls took {waited:?}");
    assert!(
        waited.iter().any(|took| *took >= resumed_after),
        "no call was held by the stalled replica, so none proves it survives: {waited:?}"
    );
}
