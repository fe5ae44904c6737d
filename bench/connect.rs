//! What `mcp-gateway connect` adds to a call: the same stateless
//! `tools/call get_current_time`, one at a time, made directly over mutual
//! TLS (the HTTP client the bridge itself uses, so the difference is the
//! bridge: the stdio hop, the message read and written again, the token
//! file's stat) and through a `connect` child process over its stdio.
//! Rounds alternate between the two so that a noisy machine weighs on both
//! alike. Prints p50 and p99 of each and their difference.
//!
//! Usage: bench-connect BINARY URL CERT KEY CA TOKEN_FILE [CALLS_PER_ROUND] [ROUNDS]

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_gateway::connect::credentials::{self, Passphrase};
use mcp_gateway::connect::lifecycle::{self, Generation, LocalClient};
use mcp_gateway::connect::upstream::Upstream;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn call(id: u64) -> serde_json::Value {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": "get_current_time", "arguments": { "timeZone": "UTC" } },
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    mcp_gateway::transport::tls::install_crypto_provider();
    let args: Vec<String> = std::env::args().collect();
    let [_, binary, url, cert, key, ca, token_file, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: bench-connect BINARY URL CERT KEY CA TOKEN_FILE [CALLS] [ROUNDS]");
    };
    let calls: u64 = rest.first().map_or(Ok(500), |n| n.parse())?;
    let rounds: u64 = rest.get(1).map_or(Ok(6), |n| n.parse())?;

    let loaded = credentials::load(cert.as_ref(), Some(key.as_ref()), &Passphrase::None)
        .map_err(anyhow::Error::msg)?;
    let tls = credentials::client_config(loaded, Some(ca.as_ref())).map_err(anyhow::Error::msg)?;
    let direct = Upstream::new(url, Arc::clone(&tls)).map_err(anyhow::Error::msg)?;
    let token = std::fs::read_to_string(token_file)?.trim().to_owned();
    let local = LocalClient::default();

    let mut bridge = tokio::process::Command::new(binary)
        .args([
            "connect",
            url,
            "--cert",
            cert,
            "--key",
            key,
            "--ca",
            ca,
            "--token-file",
            token_file,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut to_bridge = bridge.stdin.take().expect("piped");
    let mut from_bridge = BufReader::new(bridge.stdout.take().expect("piped")).lines();
    let initialize = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}});
    to_bridge
        .write_all(format!("{initialize}\n").as_bytes())
        .await?;
    from_bridge.next_line().await?;

    let (mut direct_times, mut bridge_times) = (Vec::new(), Vec::new());
    let mut id = 1;
    for round in 0..rounds {
        let warm = round == 0;
        for _ in 0..calls {
            let (body, headers) = {
                let message = call(id);
                let raw = bytes::Bytes::from(message.to_string());
                lifecycle::prepare(&message, raw, &Generation::Stateless, &local)
            };
            let started = Instant::now();
            let answer = direct
                .post(body, &token, &headers)
                .await
                .map_err(|f| anyhow::anyhow!("{f:?}"))?;
            let mut got = 0;
            answer
                .messages(|_| {
                    got += 1;
                    std::future::ready(())
                })
                .await
                .map_err(|f| anyhow::anyhow!("{f:?}"))?;
            anyhow::ensure!(got == 1, "direct: no answer");
            if !warm {
                direct_times.push(started.elapsed());
            }
            id += 1;
        }
        for _ in 0..calls {
            let line = format!("{}\n", call(id));
            let started = Instant::now();
            to_bridge.write_all(line.as_bytes()).await?;
            let answer = from_bridge.next_line().await?.unwrap_or_default();
            anyhow::ensure!(answer.contains("\"result\""), "bridge: {answer}");
            if !warm {
                bridge_times.push(started.elapsed());
            }
            id += 1;
        }
    }
    direct_times.sort_unstable();
    bridge_times.sort_unstable();
    let (d50, d99) = (
        percentile(&direct_times, 0.5),
        percentile(&direct_times, 0.99),
    );
    let (b50, b99) = (
        percentile(&bridge_times, 0.5),
        percentile(&bridge_times, 0.99),
    );
    println!(
        "calls measured: {} each way ({} rounds of {calls}, the first a warm-up)",
        direct_times.len(),
        rounds
    );
    println!("{:<28} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    println!("{:<28} {d50:>9.3} {d99:>9.3}", "direct mutual TLS");
    println!("{:<28} {b50:>9.3} {b99:>9.3}", "through connect (stdio)");
    println!(
        "{:<28} {:>9.3} {:>9.3}",
        "added by connect",
        b50 - d50,
        b99 - d99
    );
    println!(
        "{}",
        json!({ "direct_p50_ms": d50, "direct_p99_ms": d99, "bridge_p50_ms": b50, "bridge_p99_ms": b99,
                "added_p50_ms": b50 - d50, "added_p99_ms": b99 - d99 })
    );
    drop(to_bridge);
    let _ = tokio::time::timeout(Duration::from_secs(5), bridge.wait()).await;
    Ok(())
}
