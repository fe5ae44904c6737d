//! Real MCP clients launching `mcp-gateway connect` as a desktop client
//! does: the Python SDK's stdio client (2.x and 1.x) and the TypeScript
//! SDK's `StdioClientTransport` run the tool flow (list, create, list,
//! delete) against a real gateway, speaking 2026-07-28 and 2025-11-25 to
//! it; the MCP Inspector CLI lists the tools; a token rotated on disk
//! during a workload fails no call.

use std::time::Duration;

use crate::bridge::{BINARY, ClientFiles, run_client, script, stdio_flow, venv_python};
use crate::common::TestGateway;

const CLIENT: &str = "agent-c";

/// The generations the bridge speaks to the gateway: the newest both
/// share (2026-07-28 here), and sessions, pinned.
const GENERATIONS: [(&str, &str); 2] = [
    ("auto", "speaking 2026-07-28 (stateless)"),
    ("2025-11-25", "speaking 2025-11-25 with a session"),
];

fn files(gw: &TestGateway) -> ClientFiles {
    ClientFiles::issued(&gw.pki.ca, CLIENT, |_| gw.pki.token(CLIENT))
}

#[tokio::test]
async fn the_python_sdks_run_the_tool_flow_through_connect_on_both_generations() {
    let gw = TestGateway::start().await;
    let files = files(&gw);
    for venv in [".venv", ".venv-mcp1"] {
        for (generation, said) in GENERATIONS {
            let log = files.stderr_log();
            let bridge = files.args(&gw.url(), &["--gateway-protocol", generation]);
            let args = stdio_flow(&["flow"], &log, bridge);
            let (ok, out, err) =
                run_client(&venv_python(venv), &args, Duration::from_secs(120)).await;
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(
                ok && out.contains("flow ok"),
                "{venv} {generation}: {out}\n{err}\n{stderr}"
            );
            assert!(stderr.contains(said), "{venv} {generation}: {stderr}");
        }
    }
    // Every call was one audit line of this client, as if it had connected itself.
    let audit = gw.audit_lines();
    let creates = audit
        .iter()
        .filter(|l| l.contains("tool=create_event") && l.contains(&format!("client={CLIENT}")))
        .count();
    assert_eq!(creates, 4, "{audit:?}");
}

#[tokio::test]
async fn the_typescript_sdk_runs_the_tool_flow_through_connect_on_both_generations() {
    let gw = TestGateway::start().await;
    let files = files(&gw);
    for (generation, said) in GENERATIONS {
        let mut args = vec![script("ts_flow.mjs").display().to_string(), BINARY.into()];
        args.extend(files.args(&gw.url(), &["--gateway-protocol", generation]));
        let (ok, out, err) = run_client("node".as_ref(), &args, Duration::from_secs(120)).await;
        assert!(ok && out.contains("flow ok"), "{generation}: {out}\n{err}");
        assert!(err.contains(said), "{generation}: {err}");
    }
}

#[tokio::test]
async fn the_inspector_cli_lists_the_tools_through_connect() {
    let gw = TestGateway::start().await;
    let files = files(&gw);
    // The CLI reads its own package.json relative to the folder it runs in.
    let cli = script("node_modules/@modelcontextprotocol/inspector-cli/build/index.js");
    let mut args = vec![
        cli.display().to_string(),
        BINARY.into(),
        "--method".into(),
        "tools/list".into(),
        "--".into(),
    ];
    args.extend(files.args(&gw.url(), &[]));
    let child = tokio::process::Command::new("node")
        .args(&args)
        .current_dir(cli.parent().unwrap())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), child)
        .await
        .expect("the inspector ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for tool in [
        "list_calendars",
        "list_events",
        "create_event",
        "delete_event",
        "get_access_info",
    ] {
        assert!(names.contains(&tool), "{names:?}");
    }
}

#[tokio::test]
async fn a_token_rotated_on_disk_during_a_workload_fails_no_call() {
    let gw = TestGateway::start().await;
    let files = files(&gw);
    let log = files.stderr_log();
    let args = stdio_flow(&["workload", "6"], &log, files.args(&gw.url(), &[]));
    let python = venv_python(".venv");
    let workload =
        tokio::spawn(async move { run_client(&python, &args, Duration::from_secs(60)).await });
    // Two rotations: one by rename (as scripts do), one rewritten in place
    // (as an editor does); each a token with another lifetime, so that the
    // calls show which one served them.
    // The workload has begun once the bridge agreed a protocol (at the
    // client's initialize): its first calls go with the first token.
    let began = std::time::Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("speaking")
    {
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "the workload never began"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let shorter = mcp_gateway::cli::token::TokenRequest::full_access(
        CLIENT,
        &["127.0.0.0/8"],
        Duration::from_secs(1800),
    );
    files.rotate_token(&gw.pki.token_with(&shorter));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let shortest = mcp_gateway::cli::token::TokenRequest::full_access(
        CLIENT,
        &["127.0.0.0/8"],
        Duration::from_secs(900),
    );
    std::fs::write(&files.token, gw.pki.token_with(&shortest)).unwrap();
    let (ok, out, err) = workload.await.unwrap();
    assert!(ok, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert!(report["calls"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(
        report["tokens"].as_array().unwrap().len(),
        3,
        "each token served: {report}"
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.contains("token file changed: using the new token"),
        "{stderr}"
    );
}
